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
from mcp import Client, StdioServerParameters
from mcp.client._input_required import run_input_required_driver
from mcp.client.session import ClientRequestContext
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from hub.catalog.entities import Transport, UpstreamSpec

log = logging.getLogger("hub.adapters.mcp")

HEADER_MISMATCH = -32020
MAX_LIST_PAGES = 200  # bound a misbehaving upstream's pagination
RESERVED_META_PREFIX = "io.modelcontextprotocol/"
CALLER_CAPABILITIES = frozenset({"sampling", "elicitation", "roots"})


class UpstreamError(Exception):
    """An upstream failed in a way the caller should hear about. The message is safe to show."""


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


# ---------------------------------------------------------------------------------------------- HTTP


class ResponseTooLarge(httpx2.TransportError):
    pass


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, limit: int) -> None:
        self._inner, self._limit, self._seen = inner, limit, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._seen += len(chunk)
            if self._seen > self._limit:
                raise ResponseTooLarge(f"upstream response exceeded {self._limit} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CappedTransport(httpx2.AsyncBaseTransport):
    """Bounds every response body an upstream sends for a request (not the long-lived GET stream)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, limit: int, on_overflow: Callable[[], None]) -> None:
        self._inner, self._limit, self._on_overflow = inner, limit, on_overflow

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if request.method == "GET":
            return response
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > self._limit:
            await response.aclose()
            self._on_overflow()
            raise ResponseTooLarge(f"upstream response exceeded {self._limit} bytes")
        capped = _CappedStream(response.stream, self._limit)  # type: ignore[arg-type]
        outer = self

        class _Stream(httpx2.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                try:
                    async for chunk in capped:
                        yield chunk
                except ResponseTooLarge:
                    outer._on_overflow()
                    raise

            async def aclose(self) -> None:
                await capped.aclose()

        return httpx2.Response(
            response.status_code, headers=response.headers, stream=_Stream(), extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


# ---------------------------------------------------------------------------------------------- sessions


class _Session:
    """One SDK client session, held open by its own task (anyio scopes exit in the task that entered them)."""

    def __init__(self, upstream: UpstreamClient, number: int, profile: frozenset[str]) -> None:
        self.upstream = upstream
        self.number = number
        self.profile = profile
        self.relay: Relay | None = None
        self.client: Client | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self.alive = False

    async def start(self, timeout: float) -> None:
        self._task = asyncio.create_task(self._run(), name=f"upstream:{self.upstream.spec.name}#{self.number}")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            await self.close()
            raise UpstreamError(f"upstream {self.upstream.spec.name!r} did not answer within {timeout:g} s") from None
        if self._error is not None:
            await self.close()
            raise UpstreamError(f"upstream {self.upstream.spec.name!r} is unreachable: {_describe(self._error)}")

    async def _run(self) -> None:
        try:
            async with self.upstream._new_client(self) as client:
                self.client = client
                self.alive = True
                self._ready.set()
                async with anyio.create_task_group() as tg:
                    if self.number == 0:
                        tg.start_soon(self._listen, client)
                    await self._stop.wait()
                    tg.cancel_scope.cancel()
        except Exception as exc:  # the connection failed or died: the pool will open a new one
            self._error = exc
            if self.alive:
                log.warning("upstream %s session ended: %s", self.upstream.spec.name, _describe(exc))
        finally:
            self.alive = False
            self._ready.set()
            self.upstream._session_ended(self)

    async def _listen(self, client: Client) -> None:
        """2026-07-28 upstreams announce list changes on a subscriptions/listen stream."""
        if client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return  # session-era upstreams push notifications to message_handler instead
        try:
            async with client.listen(
                tools_list_changed=True, prompts_list_changed=True, resources_list_changed=True
            ) as sub:
                async for _event in sub:
                    self.upstream._changed()
        except Exception as exc:  # not supported, or the stream ended: the periodic sync still runs
            log.debug("upstream %s listen ended: %s", self.upstream.spec.name, _describe(exc))

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5)
            except (TimeoutError, Exception):
                self._task.cancel()

    # -- callbacks the upstream reaches us through; routed to the call that holds the lease --

    async def on_sampling(self, ctx: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
        if self.relay is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message="sampling is not available outside a call")
        return await self.relay.sampling(params)

    async def on_elicitation(self, ctx: ClientRequestContext, params: types.ElicitRequestParams) -> Any:
        if self.relay is None:
            return types.ErrorData(code=types.INVALID_REQUEST, message="elicitation is not available outside a call")
        return await self.relay.elicitation(params)

    async def on_list_roots(self, ctx: ClientRequestContext) -> Any:
        if self.relay is None:
            return types.ListRootsResult(roots=[])
        return await self.relay.list_roots()

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        if self.relay is not None:
            await self.relay.log(params)

    async def on_message(self, message: Any) -> None:
        if isinstance(
            message,
            types.ToolListChangedNotification | types.PromptListChangedNotification
            | types.ResourceListChangedNotification,
        ):
            self.upstream._changed()


def _describe(exc: BaseException) -> str:
    """A short, client-safe description of a connection failure (no tracebacks, no secrets)."""
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    if isinstance(exc, ResponseTooLarge):
        return str(exc)
    if isinstance(exc, httpx2.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx2.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, MCPError):
        return exc.error.message
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


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
        self._idle: dict[frozenset[str], list[_Session]] = {}
        self._sessions: set[_Session] = set()
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
        if spec.transport == Transport.http:
            self._http = httpx2.AsyncClient(
                headers=spec.headers,
                auth=http_auth,
                timeout=httpx2.Timeout(limits.timeout_s, connect=limits.connect_timeout_s),
                transport=_CappedTransport(
                    httpx2.AsyncHTTPTransport(limits=httpx2.Limits(max_connections=pool + 2)),
                    limits.max_response_bytes,
                    self._overflow,
                ),
                follow_redirects=False,
            )

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def healthy(self) -> bool:
        return any(s.alive for s in self._sessions) or (self._failures == 0 and self._last_error is None)

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def _overflow(self) -> None:
        self._overflowed = True

    def _new_client(self, session: _Session) -> Client:
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

    def _session_ended(self, session: _Session) -> None:
        self._sessions.discard(session)
        with contextlib.suppress(ValueError):
            self._idle.get(session.profile, []).remove(session)
        if session.number == 0 and not self._closed and session.alive is False and session.client is not None:
            # The control session died (process exited, connection dropped): reconnect in the background
            # so list_changed keeps flowing; backoff applies.
            self._changed()

    async def _open_session(self, profile: frozenset[str]) -> _Session:
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
        session = _Session(self, number, profile)
        try:
            await session.start(self.limits.connect_timeout_s + 5)
        except UpstreamError as exc:
            self._failures += 1
            self._last_error = str(exc)
            self._retry_at = time.monotonic() + min(60.0, 0.5 * 2 ** min(self._failures, 7))
            raise
        self._failures = 0
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
        session: _Session | None = None
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
            log.warning("upstream %s failed during %s: %s", self.name, what, _describe(exc))
            raise UpstreamError(f"{what}: upstream {self.name!r} failed ({_describe(exc)})") from None

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

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        relay: Relay | None = None,
        meta: dict[str, Any] | None = None,
        input_responses: dict[str, Any] | None = None,
        request_state: str | None = None,
        timeout: float | None = None,
    ) -> types.CallToolResult | types.InputRequiredResult:
        async def call() -> Any:
            async with self.lease(relay) as client:
                session = client.session
                progress = relay.progress if relay is not None else None

                async def send(responses: Any, state: str | None) -> Any:
                    kwargs = dict(progress_callback=progress, input_responses=responses, request_state=state,
                                  meta=_forwardable(meta), allow_input_required=True)
                    try:
                        return await session.call_tool(name, arguments, **kwargs)
                    except MCPError as exc:
                        if exc.error.code != HEADER_MISMATCH:
                            raise
                        # 2026-07-28 Mcp-Param-* headers come from the listed schema: list, then resend once.
                        await _refresh_listing(client)
                        return await session.call_tool(name, arguments, **kwargs)

                first = await send(input_responses, request_state)
                if isinstance(first, types.InputRequiredResult) and relay is not None and relay.drives_input:
                    return await _drive(session, first, send)
                return first

        result = await self._guard(call, f"calling {name!r}", timeout)
        self._check_size(result)
        return result

    async def get_prompt(
        self, name: str, arguments: dict[str, str] | None, *, relay: Relay | None = None,
        meta: dict[str, Any] | None = None, input_responses: dict[str, Any] | None = None,
        request_state: str | None = None,
    ) -> types.GetPromptResult | types.InputRequiredResult:
        async def get() -> Any:
            async with self.lease(relay) as client:
                session = client.session

                async def send(responses: Any, state: str | None) -> Any:
                    return await session.get_prompt(name, arguments, meta=_forwardable(meta), input_responses=responses,
                                                    request_state=state, allow_input_required=True)

                first = await send(input_responses, request_state)
                if isinstance(first, types.InputRequiredResult) and relay is not None and relay.drives_input:
                    return await _drive(session, first, send)
                return first

        result = await self._guard(get, f"getting prompt {name!r}")
        self._check_size(result)
        return result

    async def read_resource(
        self, uri: str, *, relay: Relay | None = None, meta: dict[str, Any] | None = None,
        input_responses: dict[str, Any] | None = None, request_state: str | None = None,
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        async def read() -> Any:
            async with self.lease(relay) as client:
                session = client.session

                async def send(responses: Any, state: str | None) -> Any:
                    return await session.read_resource(uri, meta=_forwardable(meta), input_responses=responses,
                                                       request_state=state, allow_input_required=True)

                first = await send(input_responses, request_state)
                if isinstance(first, types.InputRequiredResult) and relay is not None and relay.drives_input:
                    return await _drive(session, first, send)
                return first

        result = await self._guard(read, "reading a resource")
        self._check_size(result)
        return result

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
    kept = {k: v for k, v in meta.items() if not k.startswith(RESERVED_META_PREFIX) and k != "progressToken"}
    return kept or None


_DEVNULL: IO[str] | None = None


def _devnull() -> IO[str]:
    """stderr sink for stdio upstreams when no data dir is set (the child needs a real descriptor)."""
    global _DEVNULL
    if _DEVNULL is None:
        _DEVNULL = open(os.devnull, "w")  # noqa: SIM115
    return _DEVNULL


class _MemoryTokenStorage:
    """Upstream OAuth tokens live in memory: a restart simply fetches a new client-credentials token."""

    def __init__(self) -> None:
        self._tokens: Any = None
        self._client: Any = None

    async def get_tokens(self) -> Any:
        return self._tokens

    async def set_tokens(self, tokens: Any) -> None:
        self._tokens = tokens

    async def get_client_info(self) -> Any:
        return self._client

    async def set_client_info(self, client_info: Any) -> None:
        self._client = client_info


def oauth_client_credentials(spec: UpstreamSpec) -> httpx2.Auth | None:
    """The upstream's own OAuth client credentials (never the caller's token), via the SDK's provider."""
    if spec.transport != Transport.http or spec.auth.type != "oauth_client_credentials":
        return None
    from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider

    return ClientCredentialsOAuthProvider(
        server_url=spec.url or "",
        storage=_MemoryTokenStorage(),
        client_id=spec.auth.client_id or "",
        client_secret=spec.auth.client_secret or "",
        scope=spec.auth.scope,
        issuer=spec.auth.issuer,
    )
