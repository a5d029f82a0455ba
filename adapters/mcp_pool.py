"""One upstream MCP server's sessions: opened on demand, leased one call at a time, restarted with backoff.

A call leases one session exclusively, so whatever the upstream sends during the call (progress, log
messages, sampling and elicitation requests) belongs to that call and reaches its caller through the
`Relay` the surface handed down. `UpstreamClient` (mcp.py) adds the operations on top.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import httpx2
import mcp.types as types
from hub.adapters import mcp_direct
from hub.adapters.http_limits import CappedTransport
from hub.adapters.lean_http import HttpxPost, LeanClient, Poster
from hub.adapters.mcp_session import UpstreamError, UpstreamSession
from hub.adapters.mcp_stdio import bounded_stdio_client
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from hub.catalog.entities import Transport, UpstreamSpec

log = logging.getLogger("hub.adapters.mcp")

CALLER_CAPABILITIES = frozenset({"sampling", "elicitation", "roots"})
# One upstream's list_changed re-syncs it at once up to RESYNC_BURST times in a row, then at most once per
# RESYNC_INTERVAL_S on average: ordinary changes reach clients without delay, a flood cannot keep the hub busy.
RESYNC_BURST = 3
RESYNC_INTERVAL_S = 1.0


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The trust store for upstream HTTPS, loaded once: loading it per client cost 20-100 ms of CPU per registration."""
    return httpx2.create_ssl_context()


class Relay(Protocol):
    """The caller's side of a call, as a surface exposes it to the adapter."""

    # True when the caller can take input requests mid-call (a session-era client): the hub then
    # fulfils an upstream's input_required rounds itself. False: the result goes back to the caller.
    drives_input: bool
    # What the caller can answer ("sampling", "elicitation", "roots"): the upstream is told exactly these,
    # so it never asks the hub for something the caller could not do.
    capabilities: frozenset[str]

    async def progress(self, progress: float, total: float | None, message: str | None) -> None: ...
    async def log(self, params: types.LoggingMessageNotificationParams) -> None: ...
    async def sampling(self, params: types.CreateMessageRequestParams) -> Any: ...
    async def elicitation(self, params: types.ElicitRequestParams) -> Any: ...
    async def list_roots(self) -> Any: ...


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 60.0
    connect_timeout_s: float = 15.0
    max_response_bytes: int = 8 * 1024 * 1024
    pool_size: int = 16

    @property
    def max_listing_bytes(self) -> int:
        """All pages of one listing together (a page is bounded by max_response_bytes alone, so 200 pages could
        be 1.6 GB held at once): 64 MiB by default, room for 100k ordinary tool definitions."""
        return 8 * self.max_response_bytes


# ---------------------------------------------------------------------------------------------- upstream


class SessionPool:
    """One upstream's connections: a small pool of SDK client sessions (opened on demand, leased one call at a
    time, restarted with backoff), the HTTP clients beneath them, and change signals (list_changed)."""

    def __init__(
        self,
        spec: UpstreamSpec,
        limits: Limits,
        *,
        on_change: Callable[[str], Awaitable[None]] | None = None,
        stderr_dir: Path | None = None,
        server: Any = None,  # for Transport.inprocess: the pack's server object (Server or MCPServer)
        http_auth: httpx2.Auth | None = None,
    ) -> None:
        self.spec = spec
        self.limits = limits
        self._on_change = on_change
        self._server = server
        pool = 1 if spec.transport == Transport.stdio else max(1, limits.pool_size)
        self._slots = asyncio.Semaphore(pool)
        self._idle: dict[frozenset[str], list[UpstreamSession]] = {}
        self._sessions: set[UpstreamSession] = set()
        self._numbers = 0
        self._connect_lock = asyncio.Lock()
        self._failures = 0
        self._retry_at = 0.0
        self._last_error: str | None = None
        self._overflowed = False
        self._change_task: asyncio.Task[None] | None = None
        self._change_pending = False
        self._resyncs: collections.deque[float] = collections.deque(maxlen=RESYNC_BURST)  # when the last began
        self._closed = False
        self._tasks: set[asyncio.Future[None]] = set()
        self._stderr: IO[str] | None = None
        self._secrets = _secrets_of(spec)
        if spec.transport == Transport.stdio and stderr_dir is not None:
            stderr_dir.mkdir(parents=True, exist_ok=True)
            self._stderr = open(stderr_dir / f"{spec.name}.stderr.log", "a", buffering=1)  # noqa: SIM115
        self._http: httpx2.AsyncClient | None = None
        self._poster: Poster | None = None  # the lean tools/call path's client (mcp_direct)
        self._modern_version: str | None = None
        if spec.transport == Transport.http:
            self._http = httpx2.AsyncClient(
                headers=spec.headers,
                auth=http_auth,
                timeout=httpx2.Timeout(limits.timeout_s, connect=limits.connect_timeout_s),
                transport=CappedTransport(
                    httpx2.AsyncHTTPTransport(verify=tls_context(), limits=httpx2.Limits(max_connections=pool + 2)),
                    limits.max_response_bytes,
                    self._overflow,
                ),
                follow_redirects=False,
            )
            # An OAuth upstream's token comes from the SDK's httpx2 auth flow; otherwise the lean client.
            self._poster = HttpxPost(self._http) if http_auth is not None else LeanClient(
                headers=spec.headers, connect_timeout_s=limits.connect_timeout_s, max_connections=pool + 2,
                max_response_bytes=limits.max_response_bytes, on_overflow=self._overflow,
            )

    @property
    def name(self) -> str:
        return self.spec.name

    def can_call_directly(self, input_schema: dict[str, Any] | None) -> bool:
        """Whether a tool with this schema can be called on the lean 2026-07-28 HTTP path (see mcp_direct)."""
        return (self._poster is not None and self._modern_version is not None
                and not mcp_direct.uses_param_headers(input_schema))

    @property
    def healthy(self) -> bool:
        return any(s.alive for s in self._sessions) or (self._failures == 0 and self._last_error is None)

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def redact(self, text: str) -> str:
        """`text` (an upstream had a say in it) without the credentials the hub sends that upstream."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _overflow(self) -> None:
        self._overflowed = True

    def _new_client(self, session: UpstreamSession) -> Client:
        common: dict[str, Any] = dict(
            # A callback makes the SDK declare the capability: only those the caller has.
            sampling_callback=session.on_sampling if "sampling" in session.profile else None,
            elicitation_callback=session.on_elicitation if "elicitation" in session.profile else None,
            list_roots_callback=session.on_list_roots if "roots" in session.profile else None,
            logging_callback=session.on_log,
            log_level="debug",  # 2026-07-28 upstreams send log messages only to requests that opt in
            message_handler=session.on_message,
            read_timeout_seconds=self.limits.timeout_s,
            cache=None,  # a proxy must always see the upstream's current answers
        )
        spec = self.spec
        if spec.transport == Transport.http:
            assert spec.url is not None and self._http is not None
            return Client(streamable_http_client(spec.url, http_client=self._http), **common)
        if spec.transport == Transport.stdio:
            assert spec.command
            params = StdioServerParameters(command=spec.command[0], args=spec.command[1:], env=spec.env or None,
                                           cwd=spec.cwd)
            transport = bounded_stdio_client(params, self._stderr or _devnull(), on_overflow=self._overflow,
                                             max_message_bytes=self.limits.max_response_bytes)
            return Client(transport, **common)
        if self._server is None:
            raise UpstreamError(f"tool pack {spec.name!r} is not loaded")
        return Client(self._server, **common)

    def _session_ended(self, session: UpstreamSession) -> None:
        self._sessions.discard(session)
        with contextlib.suppress(ValueError):
            self._idle.get(session.profile, []).remove(session)
        if session.number == 0 and not self._closed and session.alive is False and session.client is not None:
            # The control session died (process exited, connection dropped): reconnect in the background
            # so list_changed keeps flowing; backoff applies.
            self._changed()

    async def _open_session(self, profile: frozenset[str]) -> UpstreamSession:
        now = time.monotonic()
        if now < self._retry_at:
            raise UpstreamError(
                f"upstream {self.name!r} is unavailable ({self._last_error or 'failing'}); "
                f"retrying in {self._retry_at - now:.0f} s"
            )
        # Session 0 (no caller capabilities) is the control session: listings and list_changed.
        has_control = bool(profile) or any(s.number == 0 for s in self._sessions)
        if has_control:
            self._numbers += 1
        number = self._numbers if has_control else 0
        session = UpstreamSession(self, number, profile)
        try:
            await session.start(self.limits.connect_timeout_s + 5)
        except UpstreamError as exc:
            self._failures += 1
            self._last_error = self.redact(str(exc))  # shown on /readyz
            self._retry_at = time.monotonic() + min(60.0, 0.5 * 2 ** min(self._failures, 7))
            raise UpstreamError(self._last_error) from None
        self._failures = 0
        if self._http is not None and session.client is not None \
                and session.client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            self._modern_version = session.client.protocol_version  # the lean call path may be used
        self._last_error = None
        self._retry_at = 0.0
        self._sessions.add(session)
        return session

    @contextlib.asynccontextmanager
    async def lease(self, relay: Relay | None = None) -> AsyncIterator[Client]:
        """An exclusive session for one call; server-to-client traffic during it goes to `relay`."""
        if self._closed:
            raise UpstreamError(f"upstream {self.name!r} is shutting down")
        await self._slots.acquire()
        session: UpstreamSession | None = None
        try:
            profile = relay.capabilities & CALLER_CAPABILITIES if relay is not None else frozenset()
            idle = self._idle.setdefault(profile, [])
            while idle:
                candidate = idle.pop()
                if candidate.alive:
                    session = candidate
                    break
            if session is None:
                async with self._connect_lock:
                    session = await self._open_session(profile)
            session.relay = relay
            assert session.client is not None
            try:
                yield session.client
            except MCPError as exc:
                if exc.code == types.CONNECTION_CLOSED:
                    session.alive = False  # the transport is gone: never hand this session out again
                raise
            except BaseException:
                session.alive = False  # timed out or failed mid-call: its state is unknown
                raise
        finally:
            if session is not None:
                session.relay = None
                if session.alive and not self._closed:
                    self._idle.setdefault(session.profile, []).append(session)
                else:
                    self._background(session.close())
            self._slots.release()

    async def connect(self) -> None:
        """Open the control session now (registration wants to know at once whether the upstream answers)."""
        async with self.lease():
            pass

    def _background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _changed(self) -> None:
        """Coalesce change signals: one re-sync at a time, rate-limited (RESYNC_BURST: an upstream that floods
        list_changed must not drive listing, hashing, the store and every client's list_changed in a tight
        loop), and a signal that arrives during a re-sync gets one more after it (none is lost)."""
        if self._on_change is None or self._closed:
            return
        self._change_pending = True
        if self._change_task is None or self._change_task.done():
            self._change_task = asyncio.create_task(self._fire_change())

    async def _fire_change(self) -> None:
        await asyncio.sleep(0.05)
        while self._change_pending and self._on_change is not None and not self._closed:
            wait = self._resyncs[0] + RESYNC_BURST * RESYNC_INTERVAL_S - time.monotonic() \
                if len(self._resyncs) == RESYNC_BURST else 0.0
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # (closed meanwhile?)
            self._change_pending = False
            self._resyncs.append(time.monotonic())
            try:
                await self._on_change(self.name)
            except UpstreamError as exc:
                log.warning("re-sync of upstream %s failed: %s", self.name, exc)
            except Exception:
                log.exception("re-sync of upstream %s failed", self.name)

    async def close(self) -> None:
        self._closed = True
        if self._change_task is not None:
            self._change_task.cancel()
        for session in list(self._sessions):
            await session.close()
        if self._poster is not None:
            await self._poster.aclose()
        if self._http is not None:
            await self._http.aclose()
        if self._stderr is not None:
            self._stderr.close()


def _secrets_of(spec: UpstreamSpec) -> list[str]:
    """The credential values the hub sends an upstream (header and environment values, an OAuth client secret,
    and a bearer token on its own), longest first; short values are no secrets worth blanking out."""
    values = [*spec.headers.values(), *spec.env.values(), spec.auth.client_secret or ""]
    values += [v.split(None, 1)[1] for v in spec.headers.values() if " " in v.strip()]  # "Bearer <token>"
    return sorted({v.strip() for v in values if len(v.strip()) >= 8}, key=len, reverse=True)


_DEVNULL: IO[str] | None = None


def _devnull() -> IO[str]:
    """stderr sink for stdio upstreams when no data dir is set (the child needs a real descriptor)."""
    global _DEVNULL
    if _DEVNULL is None:
        _DEVNULL = open(os.devnull, "w")  # noqa: SIM115
    return _DEVNULL
