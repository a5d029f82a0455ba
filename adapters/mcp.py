"""Upstream MCP servers: connect (Streamable HTTP of either era, stdio, in-process), list, call, relay.

The adapter knows nothing of principals or policy. It holds a small pool of SDK client sessions per
upstream; a call leases one session exclusively, so whatever the upstream sends during the call
(progress, log messages, sampling and elicitation requests) belongs to that call and is relayed to
its caller through the `Relay` the surface handed down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import anyio
import httpx2
import mcp.types as types
from hub.adapters import mcp_direct
from hub.adapters.http_limits import CappedTransport
from hub.adapters.lean_http import HttpxPost, LeanClient, Poster
from hub.adapters.mcp_session import UpstreamError, UpstreamSession, describe
from mcp import Client, StdioServerParameters
from mcp.client._input_required import run_input_required_driver
from mcp.client.session import ClientRequestContext
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from hub.catalog.entities import Transport, UpstreamSpec

log = logging.getLogger("hub.adapters.mcp")

MAX_LIST_PAGES = 200  # bound a misbehaving upstream's pagination
RESERVED_META_PREFIX = "io.modelcontextprotocol/"
PROGRESS_KEYS = frozenset({"progressToken", "progress_token"})  # wire name, and the SDK's Python name
CALLER_CAPABILITIES = frozenset({"sampling", "elicitation", "roots"})


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


# ---------------------------------------------------------------------------------------------- upstream


class UpstreamClient:
    """Everything the hub does with one upstream MCP server."""

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
        self._closed = False
        self._tasks: set[asyncio.Future[None]] = set()
        self._stderr: IO[str] | None = None
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
                    httpx2.AsyncHTTPTransport(limits=httpx2.Limits(max_connections=pool + 2)),
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
            return Client(stdio_client(params, errlog=self._stderr or _devnull()), **common)
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
            self._last_error = str(exc)
            self._retry_at = time.monotonic() + min(60.0, 0.5 * 2 ** min(self._failures, 7))
            raise
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
        """Debounce change signals into one re-sync call."""
        if self._on_change is None or self._closed:
            return
        if self._change_task is None or self._change_task.done():
            self._change_task = asyncio.create_task(self._fire_change())

    async def _fire_change(self) -> None:
        await asyncio.sleep(0.05)
        if self._on_change is not None and not self._closed:
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

    # ------------------------------------------------------------------------------------ operations

    async def _guard(self, operation: Callable[[], Awaitable[Any]], what: str, timeout: float | None = None) -> Any:
        """Run one upstream operation with a deadline; turn transport failures into clear UpstreamErrors."""
        limit = timeout or self.limits.timeout_s
        self._overflowed = False
        try:
            with anyio.fail_after(limit):
                return await operation()
        except MCPError as exc:
            if self._overflowed:
                raise self._too_large(what) from None
            if exc.code == types.CONNECTION_CLOSED:
                raise UpstreamError(f"{what}: upstream {self.name!r} closed the connection") from None
            raise  # a protocol error from the upstream: the surface passes it on
        except UpstreamError:
            raise
        except TimeoutError:
            if self._overflowed:
                raise self._too_large(what) from None
            raise UpstreamError(f"{what}: upstream {self.name!r} did not answer within {limit:g} s") from None
        except Exception as exc:
            if self._overflowed:
                raise self._too_large(what) from None
            log.warning("upstream %s failed during %s: %s", self.name, what, describe(exc))
            raise UpstreamError(f"{what}: upstream {self.name!r} failed ({describe(exc)})") from None

    def _too_large(self, what: str) -> UpstreamError:
        return UpstreamError(f"{what}: upstream response exceeded {self.limits.max_response_bytes} bytes")

    async def _list_all(self, method: str) -> list[Any]:
        async def walk() -> list[Any]:
            async with self.lease() as client:
                items: list[Any] = []
                cursor: str | None = None
                for _ in range(MAX_LIST_PAGES):
                    if method == "tools":
                        page = await client.list_tools(cursor=cursor, cache_mode="bypass")
                        items += page.tools
                    elif method == "prompts":
                        page = await client.list_prompts(cursor=cursor, cache_mode="bypass")
                        items += page.prompts
                    elif method == "resources":
                        page = await client.list_resources(cursor=cursor, cache_mode="bypass")
                        items += page.resources
                    else:
                        page = await client.list_resource_templates(cursor=cursor, cache_mode="bypass")
                        items += page.resource_templates
                    cursor = page.next_cursor
                    if not cursor:
                        return items
                raise UpstreamError(f"upstream {self.name!r} paginated {method} past {MAX_LIST_PAGES} pages")

        return await self._guard(walk, f"listing {method}")

    async def capabilities(self) -> types.ServerCapabilities | None:
        async def get() -> types.ServerCapabilities | None:
            async with self.lease() as client:
                return client.server_capabilities

        return await self._guard(get, "connecting")

    async def list_tools(self) -> list[types.Tool]:
        return await self._list_all("tools")

    async def list_prompts(self) -> list[types.Prompt]:
        return await self._list_all("prompts")

    async def list_resources(self) -> list[types.Resource]:
        return await self._list_all("resources")

    async def list_resource_templates(self) -> list[types.ResourceTemplate]:
        return await self._list_all("resource templates")

    async def _interactive(
        self,
        request: Callable[[Client, Any, str | None], Awaitable[Any]],
        *,
        relay: Relay | None,
        input_responses: dict[str, Any] | None,
        request_state: str | None,
        what: str,
        timeout: float | None = None,
    ) -> Any:
        """tools/call, prompts/get, resources/read: one leased session; input_required rounds are either
        fulfilled through a session-era caller or handed back to a 2026-07-28 caller."""

        async def run() -> Any:
            async with self.lease(relay) as client:

                async def send(responses: Any, state: str | None) -> Any:
                    return await request(client, responses, state)

                first = await send(input_responses, request_state)
                if isinstance(first, types.InputRequiredResult) and relay is not None and relay.drives_input:
                    return await _drive(client.session, first, send)
                return first

        result = await self._guard(run, what, timeout)
        self._check_size(result)
        return result

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None, *, relay: Relay | None = None,
        meta: dict[str, Any] | None = None, input_responses: dict[str, Any] | None = None,
        request_state: str | None = None, timeout: float | None = None,
        input_schema: dict[str, Any] | None = None,
    ) -> types.CallToolResult | types.InputRequiredResult:
        if self.can_call_directly(input_schema) and not (relay and relay.drives_input):
            assert self._poster is not None and self._modern_version is not None
            poster, url, version = self._poster, self.spec.url or "", self._modern_version

            async def direct() -> Any:
                async with self._slots:
                    return await mcp_direct.call_tool(
                        poster, url, version, name, arguments, relay=relay, meta=_forwardable(meta), caller_meta=meta,
                        input_responses=input_responses, request_state=request_state,
                    )

            with contextlib.suppress(mcp_direct.FallBack):
                return await self._guard(direct, f"calling {name!r}", timeout)
        progress = relay.progress if relay is not None else None

        async def request(client: Client, responses: Any, state: str | None) -> Any:
            kwargs = dict(progress_callback=progress, input_responses=responses, request_state=state,
                          meta=_forwardable(meta), allow_input_required=True)
            try:
                return await client.session.call_tool(name, arguments, **kwargs)
            except MCPError as exc:
                if exc.error.code != types.HEADER_MISMATCH:
                    raise
                # 2026-07-28 Mcp-Param-* headers come from the listed schema: list, then resend once.
                await _refresh_listing(client)
                return await client.session.call_tool(name, arguments, **kwargs)

        return await self._interactive(request, relay=relay, input_responses=input_responses,
                                       request_state=request_state, what=f"calling {name!r}", timeout=timeout)

    async def get_prompt(
        self, name: str, arguments: dict[str, str] | None, *, relay: Relay | None = None,
        meta: dict[str, Any] | None = None, input_responses: dict[str, Any] | None = None,
        request_state: str | None = None,
    ) -> types.GetPromptResult | types.InputRequiredResult:
        async def request(client: Client, responses: Any, state: str | None) -> Any:
            return await client.session.get_prompt(name, arguments, meta=_forwardable(meta), input_responses=responses,
                                                   request_state=state, allow_input_required=True)

        return await self._interactive(request, relay=relay, input_responses=input_responses,
                                       request_state=request_state, what=f"getting prompt {name!r}")

    async def read_resource(
        self, uri: str, *, relay: Relay | None = None, meta: dict[str, Any] | None = None,
        input_responses: dict[str, Any] | None = None, request_state: str | None = None,
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        async def request(client: Client, responses: Any, state: str | None) -> Any:
            return await client.session.read_resource(uri, meta=_forwardable(meta), input_responses=responses,
                                                      request_state=state, allow_input_required=True)

        return await self._interactive(request, relay=relay, input_responses=input_responses,
                                       request_state=request_state, what="reading a resource")

    async def session_call(self, operation: Callable[[Client], Awaitable[Any]], what: str) -> Any:
        """Any other request (completion, subscribe, set level) on a pooled session."""

        async def run() -> Any:
            async with self.lease() as client:
                return await operation(client)

        return await self._guard(run, what)

    def _check_size(self, result: Any) -> None:
        """stdio and in-process answers are not bounded by the HTTP transport cap: bound them here."""
        if self.spec.transport == Transport.http:
            return
        size = len(result.model_dump_json(by_alias=True, exclude_none=True))
        if size > self.limits.max_response_bytes:
            raise UpstreamError(f"upstream response exceeded {self.limits.max_response_bytes} bytes")


async def _refresh_listing(client: Client) -> None:
    cursor: str | None = None
    for _ in range(MAX_LIST_PAGES):
        page = await client.list_tools(cursor=cursor, cache_mode="bypass")
        cursor = page.next_cursor
        if not cursor:
            return


async def _drive(
    session: Any, first: types.InputRequiredResult, send: Callable[[Any, str | None], Awaitable[Any]]
) -> Any:
    """Fulfil an upstream's input_required rounds through the caller (sampling/elicitation/roots relay)."""

    async def dispatch(key: str, request: Any) -> Any:
        meta = request.params.meta if request.params else None
        ctx = ClientRequestContext(session=session, request_id=key, meta=meta)
        return await session.dispatch_input_request(ctx, request)

    return await run_input_required_driver(first, dispatch=dispatch, retry=send)


def _forwardable(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """The caller's _meta minus protocol-reserved keys and its progress token (the hub's client sets its own)."""
    if not meta:
        return None
    kept = {k: v for k, v in meta.items() if not k.startswith(RESERVED_META_PREFIX) and k not in PROGRESS_KEYS}
    return kept or None


_DEVNULL: IO[str] | None = None


def _devnull() -> IO[str]:
    """stderr sink for stdio upstreams when no data dir is set (the child needs a real descriptor)."""
    global _DEVNULL
    if _DEVNULL is None:
        _DEVNULL = open(os.devnull, "w")  # noqa: SIM115
    return _DEVNULL
