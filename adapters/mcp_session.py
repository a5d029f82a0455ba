"""One SDK client session to an upstream, held open by its own task, and the callbacks that route
what the upstream sends during a call to that call's caller."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
import mcp.types as types
from hub.adapters.http_limits import ResponseTooLarge
from hub.adapters.lean_http import HttpStatusError
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

if TYPE_CHECKING:
    from hub.adapters.mcp import Relay, UpstreamClient

log = logging.getLogger("hub.adapters.mcp")

MAX_ERROR_CHARS = 1024  # what a caller (or a log line) gets of an upstream's own error message
MAX_ERROR_DATA_BYTES = 4096  # an upstream error's `data` is passed on only when this small
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class UpstreamError(Exception):
    """An upstream failed in a way the caller should hear about. The message is safe to show."""


class UpstreamSession:
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
            raise UpstreamError(f"upstream {self.upstream.spec.name!r} is unreachable: {describe(self._error)}")

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
                log.warning("upstream %s session ended: %s", self.upstream.spec.name, describe(exc))
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
            log.debug("upstream %s listen ended: %s", self.upstream.spec.name, describe(exc))

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


def clip(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """Text an upstream chose, made fit to show: control characters (terminal escapes) out, bounded."""
    text = _CONTROL.sub("?", text[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "…"


def bounded(exc: MCPError, redact: Callable[[str], str]) -> MCPError:
    """An upstream's protocol error as the hub passes it on: its code, a clipped message with the hub's
    credentials for that upstream blanked out (a debug page or a buggy server echoes request headers), and its
    data only when small and free of them."""
    data = exc.error.data
    if data is not None:
        try:
            dumped = json.dumps(data)
            data = data if len(dumped) <= MAX_ERROR_DATA_BYTES and redact(dumped) == dumped else None
        except (TypeError, ValueError):
            data = None
    message = clip(redact(exc.error.message))  # redacted whole: a clip could cut a secret in two
    if data is exc.error.data and message == exc.error.message:
        return exc
    return MCPError(exc.error.code, message, data)


def describe(exc: BaseException) -> str:
    """A short, client-safe description of a connection failure (no tracebacks, no secrets)."""
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return describe(exc.exceptions[0])
    if isinstance(exc, ResponseTooLarge | HttpStatusError):
        return str(exc)
    if isinstance(exc, httpx2.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx2.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, MCPError):
        return clip(exc.error.message, 300)
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__
