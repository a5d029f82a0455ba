"""The lean path for plain 2026-07-28 `tools/call` POSTs: the SDK's own checks, then one gateway call.

A stateless tools/call that wants no progress and no log messages needs none of the SDK server's
per-request dispatch (task group, stream, model round-trips), nor the generic HTTP stack in front of it
(authentication middleware, router, exception middleware). The app puts this handler ahead of that stack
(`hub.app.LeanToolCalls`): it authenticates with the same backend, runs the SDK's transport and envelope
checks (`TransportSecurityMiddleware`, `check_accept_headers`, `find_duplicated_routing_header`,
`classify_inbound_request`) and, when the request and its tool qualify, answers it with one gateway call
and one JSON write. Anything else, including every failed check and every refused credential, goes down
the whole stack unchanged (the body is replayed), so the protocol's and the challenge's answers stay
the SDK's and the middleware's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

import mcp.types as types
from mcp.server.streamable_http import check_accept_headers
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
)
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from mcp_types import methods as _methods
from pydantic import ValidationError
from starlette.authentication import AuthenticationBackend, AuthenticationError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from hub import __version__
from hub.gateway.gateway import Gateway, NotFound, RateLimited, Unavailable
from hub.identity.bearer import principal_of
from hub.identity.principal import Principal
from hub.surfaces.mcp_errors import rate_limited, trace_id
from hub.surfaces.request_body import declared_over, read_body, replay

SERVER_INFO = {"name": "hub", "version": __version__}
NEEDS_STREAM = ("progressToken", "io.modelcontextprotocol/logLevel")  # the SDK path streams these
T = TypeVar("T")


class FastRelay:
    """A modern caller as the adapter sees it on the lean path: no streaming, no input driving."""

    drives_input = False

    def __init__(self, capabilities: frozenset[str]) -> None:
        self.capabilities = capabilities

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        return None

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        return None

    async def sampling(self, params: Any) -> Any:
        return types.ErrorData(code=types.INVALID_REQUEST, message="not available on a stateless request")

    elicitation = sampling

    async def list_roots(self) -> Any:
        return types.ErrorData(code=types.INVALID_REQUEST, message="not available on a stateless request")


class FastToolCall:
    """Answers a qualifying tools/call POST to /mcp; hands anything else to `rest` (the whole HTTP stack)."""

    def __init__(self, gateway: Gateway, security: TransportSecuritySettings, max_body: int,
                 auth: AuthenticationBackend) -> None:
        self.gateway = gateway
        self.security = TransportSecurityMiddleware(security)
        self.max_body = max_body
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send, rest: ASGIApp) -> None:
        headers = scope.get("headers") or []
        version = method = None
        for key, value in headers:
            if key == b"mcp-protocol-version":
                version = value.decode("latin-1")
            elif key == b"mcp-method":
                method = value.decode("latin-1")
        if scope.get("method") != "POST" or method != "tools/call" or version not in MODERN_PROTOCOL_VERSIONS:
            await rest(scope, receive, send)
            return
        request = Request(scope)
        principal = await self._admit(request)
        if principal is None:  # refused on its headers: the stack answers at once, without reading the body
            await rest(scope, receive, send)
            return
        body, complete = await read_body(receive, self.max_body)
        within = complete and len(body) <= self.max_body
        if not within or not await self._answer(request, principal, body, receive, send):
            await rest(scope, replay(body, complete, receive), send)

    async def _admit(self, request: Request) -> Principal | None:
        """The caller, when the headers alone qualify the request (size, transport checks, credential)."""
        if declared_over(request.scope, self.max_body):
            return None  # the SDK answers 413
        if await self.security.validate_request(request, is_post=True) is not None:
            return None
        has_json, has_sse = check_accept_headers(request)
        if not (has_json and has_sse) or find_duplicated_routing_header(request.headers.items()) is not None:
            return None
        try:
            authenticated = await self.auth.authenticate(request)
        except AuthenticationError:
            return None  # the authentication middleware gives the challenge
        if authenticated is None:
            return None
        request.scope["auth"], request.scope["user"] = authenticated
        return principal_of(request)

    async def _answer(self, request: Request, principal: Principal, body: bytes, receive: Receive,
                      send: Send) -> bool:
        """True when the request was answered here; False sends it down the SDK path untouched."""
        scope = request.scope
        try:
            decoded = json.loads(body)
        except (ValueError, RecursionError):
            return False
        if not isinstance(decoded, dict) or decoded.get("jsonrpc") != "2.0" or decoded.get("method") != "tools/call":
            return False
        request_id = decoded.get("id")
        params = decoded.get("params")
        if isinstance(request_id, bool) or not isinstance(request_id, str | int) or not isinstance(params, dict):
            return False
        name, arguments, meta = params.get("name"), params.get("arguments"), params.get("_meta")
        if not isinstance(name, str) or not (arguments is None or isinstance(arguments, dict)):
            return False
        if not isinstance(meta, dict) or any(k in meta for k in NEEDS_STREAM):
            return False
        if "inputResponses" in params or "requestState" in params:
            return False
        verdict = classify_inbound_request(decoded, headers=dict(request.headers))
        if isinstance(verdict, InboundLadderRejection):
            return False
        try:  # the params validation the SDK path runs first (envelope shapes included)
            _methods.validate_client_request("tools/call", verdict.protocol_version, params)
        except (ValidationError, ValueError, KeyError):
            return False  # the SDK path words the -32602
        try:
            record = self.gateway.tool(principal, name)
        except NotFound:
            return False  # the SDK path gives the protocol's answer
        if not self.gateway.can_call_directly(record):
            return False
        caps = verdict.client_capabilities
        declared = caps.model_dump(exclude_none=True) if hasattr(caps, "model_dump") else dict(caps or {})
        relay = FastRelay(frozenset(k for k in ("sampling", "elicitation", "roots") if declared.get(k) is not None))
        try:
            result = await _unless_gone(self.gateway.call_tool(principal, name, arguments, relay=relay, meta=meta,
                                                               trace_id=trace_id(request)), receive)
        except ClientGone:
            return True  # the caller went away: its call is cancelled, there is no one to answer
        except MCPError as exc:
            await _write(scope, send, request_id, error=exc.error.model_dump(by_alias=True, exclude_none=True))
            return True
        except RateLimited as exc:
            # Plain HTTP semantics as well as the JSON-RPC error: 429 with Retry-After.
            error = rate_limited(exc).error.model_dump(by_alias=True, exclude_none=True)
            await _write(scope, send, request_id, error=error, status=429,
                         headers={"Retry-After": exc.decision.retry_after_header})
            return True
        except (Unavailable, NotFound) as exc:
            code = types.INVALID_PARAMS if isinstance(exc, NotFound) else types.INTERNAL_ERROR
            await _write(scope, send, request_id, error={"code": code, "message": str(exc)},
                         status=503 if isinstance(exc, Unavailable) else None)
            return True
        payload = result.model_dump(by_alias=True, exclude_none=True, mode="json")
        payload.setdefault("_meta", {})[types.SERVER_INFO_META_KEY] = SERVER_INFO
        await _write(scope, send, request_id, result=payload)
        return True


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def _unless_gone(work: Awaitable[T], receive: Receive) -> T:
    """`work`'s outcome, or ClientGone once the client disconnects first (`work` is then cancelled, as the SDK
    path cancels its handler). The whole body has been read: all `receive` can still deliver is the disconnect."""
    task = asyncio.current_task()
    assert task is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
            pass
        gone = True
        task.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not gone:
            raise
        task.uncancel()
        raise ClientGone from None
    finally:
        watcher.cancel()


async def _write(
    scope: Scope, send: Send, request_id: Any, *, result: Any = None, error: dict[str, Any] | None = None,
    status: int | None = None, headers: dict[str, str] | None = None,
) -> None:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    if error is not None:
        message["error"] = error
        status = status or ERROR_CODE_HTTP_STATUS.get(error.get("code", 0), 200)
    else:
        message["result"] = result
        status = 200
    body = json.dumps(message, separators=(",", ":")).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    # Two ASGI messages, as a Starlette Response would send them, without building one per call.
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
