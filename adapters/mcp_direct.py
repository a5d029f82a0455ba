"""The lean tools/call path to a 2026-07-28 Streamable HTTP upstream: one pooled POST, one JSON parse.

The 2026-07-28 revision is stateless and has no server-to-client requests (input is asked for with
`input_required` results), so a plain tools/call needs none of the SDK client session's machinery.
This path builds the request envelope itself, relays progress and log frames from an SSE answer, and
returns the upstream's result. Anything it does not cover goes through the SDK session instead:
calls whose tool mirrors arguments into `Mcp-Param-*` headers, and callers the hub must drive
`input_required` rounds for.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from typing import TYPE_CHECKING, Any

import mcp.types as types
from hub.adapters.lean_http import HttpStatusError
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import X_MCP_HEADER_KEY, encode_header_value, x_mcp_header_map
from pydantic import ValidationError

from hub import __version__
from hub.memo import ByIdentity

if TYPE_CHECKING:
    from hub.adapters.lean_http import Answer, Poster
    from hub.adapters.mcp import Relay

CLIENT_INFO = {"name": "hub", "version": __version__}
PROGRESS_TOKEN = "p"

_ids = itertools.count(1)


class FallBack(Exception):
    """This call needs the SDK session path."""


def _mirrors_arguments(schema: dict[str, Any]) -> bool:
    props = schema.get("properties")
    top = isinstance(props, dict) and any(isinstance(p, dict) and X_MCP_HEADER_KEY in p for p in props.values())
    return top or bool(x_mcp_header_map(schema))


_mirrors = ByIdentity(_mirrors_arguments)  # the catalog's schema objects are reused call after call


def uses_param_headers(schema: dict[str, Any] | None) -> bool:
    """Whether a property at any depth of `properties` is mirrored into an Mcp-Param-* header."""
    return _mirrors(schema) if schema else False


def _capabilities(relay: Relay | None) -> dict[str, Any]:
    return {name: {} for name in sorted(relay.capabilities)} if relay is not None else {}


async def call_tool(
    poster: Poster,
    url: str,
    version: str,
    name: str,
    arguments: dict[str, Any] | None,
    *,
    relay: Relay | None,
    meta: dict[str, Any] | None,
    caller_meta: dict[str, Any] | None,
    input_responses: dict[str, Any] | None,
    request_state: str | None,
) -> types.CallToolResult | types.InputRequiredResult:
    request_meta: dict[str, Any] = dict(meta or {})
    request_meta.update({types.PROTOCOL_VERSION_META_KEY: version,
                         types.CLIENT_CAPABILITIES_META_KEY: _capabilities(relay),
                         types.CLIENT_INFO_META_KEY: CLIENT_INFO})
    if caller_meta:
        if types.LOG_LEVEL_META_KEY in caller_meta:
            request_meta[types.LOG_LEVEL_META_KEY] = caller_meta[types.LOG_LEVEL_META_KEY]
        if "progressToken" in caller_meta or "progress_token" in caller_meta:
            request_meta["progressToken"] = PROGRESS_TOKEN  # ours: progress frames are relayed to the caller's token
    params: dict[str, Any] = {"name": name, "_meta": request_meta}
    if arguments is not None:
        params["arguments"] = arguments
    if input_responses:
        params["inputResponses"] = {
            k: v.model_dump(by_alias=True, exclude_none=True, mode="json") if hasattr(v, "model_dump") else v
            for k, v in input_responses.items()
        }
    if request_state is not None:
        params["requestState"] = request_state
    request_id = next(_ids)
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}).encode()
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": version,
        "Mcp-Method": "tools/call",
        "Mcp-Name": encode_header_value(name),
    }
    async with poster.post(url, body, headers) as answer:
        if answer.content_type.startswith("text/event-stream"):
            message = await _from_stream(answer, request_id, relay)
        else:
            try:
                message = json.loads(await answer.read())
            except ValueError:  # not JSON (UnicodeDecodeError is one too)
                message = None
        if not _answers(message, request_id):
            if answer.status >= 400:  # a refusal without a JSON-RPC answer: a 401, a proxy's 502, ...
                raise HttpStatusError(answer.status)
            raise MCPError(types.INTERNAL_ERROR, "upstream answered with something that is not a JSON-RPC "
                                                 "answer to this call")
    assert isinstance(message, dict)
    if "error" in message:
        error = message["error"]
        if error.get("code") == types.HEADER_MISMATCH:  # the SDK session path re-lists and resends
            raise FallBack
        raise MCPError(int(error["code"]), str(error.get("message", "upstream error")), error.get("data"))
    result = message["result"]
    if result.get("resultType") == "input_required":
        return types.InputRequiredResult.model_validate(result)
    return types.CallToolResult.model_validate(result)


def _answers(message: Any, request_id: int) -> bool:
    """Whether `message` is the JSON-RPC answer to our request: its result, or an error (an error may carry a
    null id: the upstream could not read ours). Whatever the HTTP status: an upstream may send a JSON-RPC
    error with a 4xx status, as the hub itself does."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return False
    if "error" in message:
        error = message["error"]
        return (message.get("id") in (request_id, None) and isinstance(error, dict)
                and isinstance(error.get("code"), int) and not isinstance(error.get("code"), bool))
    return message.get("id") == request_id and isinstance(message.get("result"), dict)


async def _from_stream(answer: Answer, request_id: int, relay: Relay | None) -> Any:
    """Read SSE frames until our response; relay the notifications that precede it."""
    async for line in answer.lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if not data:
            continue
        frame = json.loads(data)
        if not isinstance(frame, dict):
            continue
        if frame.get("id") == request_id and ("result" in frame or "error" in frame):
            return frame
        method = frame.get("method")
        if relay is None or not isinstance(frame.get("params"), dict):
            continue
        # A malformed notification is dropped, as the SDK session drops it: it never fails the call it precedes.
        if method == "notifications/progress":
            with contextlib.suppress(ValidationError):
                p = types.ProgressNotificationParams.model_validate(frame["params"])
                if p.progress_token == PROGRESS_TOKEN:  # progress of something this call did not ask about: dropped
                    await relay.progress(p.progress, p.total, p.message)
        elif method == "notifications/message":
            with contextlib.suppress(ValidationError):
                await relay.log(types.LoggingMessageNotificationParams.model_validate(frame["params"]))
    raise MCPError(types.CONNECTION_CLOSED, "upstream closed the stream before answering")
