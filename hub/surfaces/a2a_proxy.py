"""A registered agent through the hub: `/agents/{id}/.well-known/agent-card.json`, JSON-RPC at
`/agents/{id}/jsonrpc` and HTTP+JSON at `/agents/{id}/rest/...`.

The surface speaks A2A and nothing else: it reads the method and the task it names, asks the gateway,
relays the request to the agent (with the agent's credentials, never the caller's token) and relays the
answer back, streams as they arrive. It looks into answers only for task ids, to record who created a
task and to keep every other caller away from it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from a2a import types as a2a_types
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from hub.adapters.a2a import HTTP_JSON, JSONRPC, AgentError, major_one, sse_data
from hub.gateway.agents import Admission, AgentGate
from hub.gateway.errors import NotFound, RateLimited, Unavailable
from hub.identity.bearer import challenge, principal_of
from hub.identity.principal import Principal
from hub.surfaces.a2a_cards import CardServer

log = logging.getLogger("hub.surfaces.a2a")

MAX_BODY_BYTES = 1024 * 1024
STREAMING = {"SendStreamingMessage", "SubscribeToTask"}
METHODS = {"SendMessage", "SendStreamingMessage", "GetTask", "ListTasks", "CancelTask", "SubscribeToTask",
           "CreateTaskPushNotificationConfig", "GetTaskPushNotificationConfig",
           "ListTaskPushNotificationConfigs", "DeleteTaskPushNotificationConfig", "GetExtendedAgentCard"}
# The ProtoJSON message of each method's params, as an A2A 1.0 agent parses them.
PARAMS = {"SendMessage": a2a_types.SendMessageRequest, "SendStreamingMessage": a2a_types.SendMessageRequest,
          "GetTask": a2a_types.GetTaskRequest, "ListTasks": a2a_types.ListTasksRequest,
          "CancelTask": a2a_types.CancelTaskRequest, "SubscribeToTask": a2a_types.SubscribeToTaskRequest,
          "CreateTaskPushNotificationConfig": a2a_types.TaskPushNotificationConfig,
          "GetTaskPushNotificationConfig": a2a_types.GetTaskPushNotificationConfigRequest,
          "ListTaskPushNotificationConfigs": a2a_types.ListTaskPushNotificationConfigsRequest,
          "DeleteTaskPushNotificationConfig": a2a_types.DeleteTaskPushNotificationConfigRequest,
          "GetExtendedAgentCard": a2a_types.GetExtendedAgentCardRequest}
# A2A 1.0 error codes (JSON-RPC) and their HTTP+JSON statuses.
TASK_NOT_FOUND, INVALID_PARAMS, METHOD_NOT_FOUND, VERSION_NOT_SUPPORTED = -32001, -32602, -32601, -32009
EXTENDED_CARD_NOT_CONFIGURED = -32007
REST_STATUS = {TASK_NOT_FOUND: (404, "NOT_FOUND"), INVALID_PARAMS: (400, "INVALID_ARGUMENT"),
               METHOD_NOT_FOUND: (404, "NOT_FOUND"), VERSION_NOT_SUPPORTED: (400, "FAILED_PRECONDITION"),
               EXTENDED_CARD_NOT_CONFIGURED: (400, "FAILED_PRECONDITION"), -32700: (400, "INVALID_ARGUMENT"),
               -32600: (400, "INVALID_ARGUMENT"), -32603: (502, "UNAVAILABLE")}

# HTTP+JSON routes (after /agents/{id}/rest[/{tenant}]): (verb, pattern) -> method.
REST_ROUTES = [
    ("POST", re.compile(r"message:send"), "SendMessage"),
    ("POST", re.compile(r"message:stream"), "SendStreamingMessage"),
    ("GET", re.compile(r"tasks"), "ListTasks"),
    ("GET", re.compile(r"tasks/(?P<task>[^/:]+)"), "GetTask"),
    ("POST", re.compile(r"tasks/(?P<task>[^/:]+):cancel"), "CancelTask"),
    ("GET", re.compile(r"tasks/(?P<task>[^/:]+):subscribe"), "SubscribeToTask"),
    ("POST", re.compile(r"tasks/(?P<task>[^/:]+):subscribe"), "SubscribeToTask"),
    ("POST", re.compile(r"tasks/(?P<task>[^/:]+)/pushNotificationConfigs"), "CreateTaskPushNotificationConfig"),
    ("GET", re.compile(r"tasks/(?P<task>[^/:]+)/pushNotificationConfigs"), "ListTaskPushNotificationConfigs"),
    ("GET", re.compile(r"tasks/(?P<task>[^/:]+)/pushNotificationConfigs/[^/:]+"), "GetTaskPushNotificationConfig"),
    ("DELETE", re.compile(r"tasks/(?P<task>[^/:]+)/pushNotificationConfigs/[^/:]+"),
     "DeleteTaskPushNotificationConfig"),
    ("GET", re.compile(r"extendedAgentCard"), "GetExtendedAgentCard"),
]


class A2AFailure(Exception):
    """An A2A error the hub answers itself (code from the A2A spec, message safe to show)."""

    def __init__(self, code: int, message: str, *, status: int | None = None, headers: dict[str, str] | None = None
                 ) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.headers = code, message, status, headers


def task_ids(result: Any) -> set[str]:
    """Every task id an A2A result or stream frame reveals (SendMessageResponse, StreamResponse, Task)."""
    ids: set[str] = set()
    if not isinstance(result, dict):
        return ids
    task = result.get("task")
    if isinstance(task, dict) and isinstance(task.get("id"), str):
        ids.add(task["id"])
    for key in ("statusUpdate", "artifactUpdate", "message"):
        part = result.get(key)
        if isinstance(part, dict) and isinstance(part.get("taskId"), str) and part["taskId"]:
            ids.add(part["taskId"])
    if isinstance(result.get("id"), str) and "status" in result:  # a Task itself
        ids.add(result["id"])
    return ids


def referenced_tasks(method: str, params: dict[str, Any]) -> list[str]:
    """Earlier tasks a message points the agent at (each must be the caller's too)."""
    message = params.get("message") if method in ("SendMessage", "SendStreamingMessage") else None
    refs = message.get("referenceTaskIds") if isinstance(message, dict) else None
    return [str(r) for r in refs[:100]] if isinstance(refs, list) else []


def requested_task(method: str, params: dict[str, Any]) -> str | None:
    """The existing task a request names (it must be the caller's)."""
    if method in ("SendMessage", "SendStreamingMessage"):
        message = params.get("message")
        task = message.get("taskId") if isinstance(message, dict) else None
        return str(task) if task else None
    if method in ("GetTask", "CancelTask", "SubscribeToTask"):
        return str(params.get("id") or "") or None
    if "PushNotificationConfig" in method:
        return str(params.get("taskId") or "") or None
    return None


def push_urls(method: str, params: dict[str, Any]) -> list[str]:
    if method == "CreateTaskPushNotificationConfig":
        return [str(params.get("url", ""))]
    configuration = params.get("configuration")
    if isinstance(configuration, dict) and isinstance(configuration.get("taskPushNotificationConfig"), dict):
        return [str(configuration["taskPushNotificationConfig"].get("url", ""))]
    return []


class AgentProxy:
    def __init__(self, gate: AgentGate, cards: CardServer, identity: Any) -> None:
        self.gate = gate
        self.cards = cards
        self.identity = identity

    def routes(self) -> list[Route]:
        return [
            Route("/agents/{agent_id}/.well-known/agent-card.json", self.card, methods=["GET"]),
            Route("/agents/{agent_id}/jsonrpc", self.jsonrpc, methods=["POST"]),
            Route("/agents/{agent_id}/rest/{path:path}", self.rest, methods=["GET", "POST", "DELETE"]),
        ]

    # -- cards ------------------------------------------------------------------------------------

    async def card(self, request: Request) -> Response:
        principal = principal_of(request)
        agent_id = request.path_params["agent_id"]
        if principal is None:
            return _not_found()  # cards are disclosed per caller: no caller, no card
        try:
            admission = await self.gate.admit(principal, agent_id, "a2a/card")
        except NotFound:
            return _not_found()
        except RateLimited as exc:
            return JSONResponse({"error": str(exc)}, status_code=429,
                                headers={"Retry-After": f"{max(1, round(exc.decision.retry_after_s))}"})
        except Unavailable as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        body, etag = self.cards.agent_card(admission.agent)
        await admission.audit("allow", "ok")
        headers = {"ETag": etag, "Cache-Control": "private, max-age=60", "Vary": "Authorization"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    # -- JSON-RPC ---------------------------------------------------------------------------------

    async def jsonrpc(self, request: Request) -> Response:
        principal = principal_of(request)
        if principal is None:
            return self._unauthenticated(request)
        agent_id = request.path_params["agent_id"]
        rpc_id: Any = None
        try:
            _check_version(request)
            message = _parse(await _body(request))
            rpc_id, method = message.get("id"), message["method"]
            params = message.get("params") or {}
            return await self._call(request, principal, agent_id, method, params, JSONRPC, rpc_id=rpc_id)
        except A2AFailure as failure:
            return _rpc_error(rpc_id, failure)

    # -- HTTP+JSON --------------------------------------------------------------------------------

    async def rest(self, request: Request) -> Response:
        principal = principal_of(request)
        if principal is None:
            return self._unauthenticated(request)
        agent_id = request.path_params["agent_id"]
        try:
            _check_version(request)
            method, task = _rest_method(request.method, request.path_params["path"])
            params: dict[str, Any] = {}
            if request.method == "POST":
                raw = await _body(request)
                try:
                    params = json.loads(raw) if raw.strip() else {}
                except (ValueError, RecursionError):
                    raise A2AFailure(-32700, "the request body is not valid JSON") from None
                if not isinstance(params, dict):
                    raise A2AFailure(-32600, "the request body must be a JSON object")
            if task is not None:
                params = {**params, ("id" if "PushNotification" not in method else "taskId"): task}
            return await self._call(request, principal, agent_id, method, params, HTTP_JSON)
        except A2AFailure as failure:
            return _rest_error(failure)

    # -- the call ---------------------------------------------------------------------------------

    async def _call(self, request: Request, principal: Principal, agent_id: str, method: str,
                    params: dict[str, Any], binding: str, *, rpc_id: Any = None) -> Response:
        if method not in METHODS:
            raise A2AFailure(METHOD_NOT_FOUND, f"Method not found: {method[:100]}")
        if not isinstance(params, dict):
            raise A2AFailure(INVALID_PARAMS, "params must be an object")
        params = _canonical(method, params)
        try:
            admission = await self.gate.admit(principal, agent_id, f"a2a/{method}",
                                              trace_id=request.headers.get("traceparent", "")[3:35] or None)
        except NotFound:
            raise A2AFailure(-32600, f"Unknown agent: {agent_id[:100]}", status=404) from None
        except RateLimited as exc:
            raise A2AFailure(-32000, str(exc), status=429,
                             headers={"Retry-After": f"{max(1, round(exc.decision.retry_after_s))}"}) from None
        except Unavailable as exc:
            raise A2AFailure(-32603, str(exc), status=503) from None
        try:
            return await self._relay(request, principal, admission, method, params, binding, rpc_id)
        except A2AFailure as failure:
            await admission.audit("allow" if failure.code != TASK_NOT_FOUND else "deny", _outcome(failure.code))
            raise

    async def _relay(self, request: Request, principal: Principal, admission: Admission, method: str,
                     params: dict[str, Any], binding: str, rpc_id: Any) -> Response:
        agent = admission.agent
        task = requested_task(method, params)
        for named in ([task] if task is not None else []) + referenced_tasks(method, params):
            if not await self.gate.owns(principal, agent.id, named):
                raise A2AFailure(TASK_NOT_FOUND, f"Task not found: {named[:200]}")
        for url in push_urls(method, params):
            if (why := await self.gate.push_url_refusal(url)) is not None:
                raise A2AFailure(INVALID_PARAMS, f"push notification URL refused: {why}")
        if method == "GetExtendedAgentCard":
            card = self.cards.extended_card(agent)
            if card is None:
                raise A2AFailure(EXTENDED_CARD_NOT_CONFIGURED, "this agent has no extended card")
            await admission.audit("allow", "ok")
            return _answer(binding, rpc_id, card)
        if not self.gate.speaks(agent.id, binding):
            raise A2AFailure(METHOD_NOT_FOUND, f"agent {agent.id} does not speak {binding}", status=404)
        try:
            if binding == JSONRPC:
                body = json.dumps({"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params}).encode()
                response = await self.gate.relay(admission, JSONRPC, "POST", body=body, headers=_accept(request),
                                                 read_timeout_s=300.0 if method in STREAMING else None)
            else:
                # Each segment re-encoded: a decoded "?", "#" or "%" in a tenant or task id stays in its segment.
                path = "/" + "/".join(quote(s, safe=":") for s in request.path_params["path"].strip("/").split("/"))
                body = json.dumps(_without_path_params(method, params)).encode() if request.method == "POST" else None
                response = await self.gate.relay(admission, HTTP_JSON, request.method, path, body=body,
                                                 params=dict(request.query_params), headers=_accept(request),
                                                 read_timeout_s=300.0 if method in STREAMING else None)
        except AgentError as exc:
            raise A2AFailure(exc.code, str(exc), status=exc.status) from None
        if response.status_code in (401, 403, 407):  # about the hub's credential, not the caller's token
            await response.aclose()
            raise A2AFailure(-32603, f"agent {agent.id} refused the hub's credentials (HTTP {response.status_code}); "
                                     "an admin must update the agent's settings", status=502)
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return StreamingResponse(self._stream(principal, admission, method, task, response),
                                     media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        try:
            data = await self.gate.answer(admission, response)
        except AgentError as exc:
            raise A2AFailure(exc.code, str(exc), status=exc.status) from None
        if binding == JSONRPC and not (isinstance(data, dict) and data.get("jsonrpc") == "2.0"):
            raise A2AFailure(-32603, f"agent {agent.id} answered HTTP {response.status_code} without a JSON-RPC "
                                     "response", status=502)
        result = data.get("result") if binding == JSONRPC and isinstance(data, dict) else data
        if response.status_code < 400 and not (binding == JSONRPC and isinstance(data, dict) and "error" in data):
            result = await self._inspect(principal, agent.id, method, task, result)
            if binding == JSONRPC:
                data["result"] = result
            else:
                data = result
        outcome = "ok" if response.status_code < 400 and not (isinstance(data, dict) and "error" in data) else "error"
        await admission.audit("allow", outcome)
        media = "application/a2a+json" if binding == HTTP_JSON else "application/json"
        return JSONResponse(data, status_code=response.status_code, media_type=media)

    async def _inspect(self, principal: Principal, agent_id: str, method: str, task: str | None, result: Any) -> Any:
        """Record new tasks as the caller's; keep other callers' tasks out of what it sees."""
        if method == "ListTasks" and isinstance(result, dict) and isinstance(result.get("tasks"), list):
            tasks = [t for t in result["tasks"] if isinstance(t, dict) and isinstance(t.get("id"), str)]
            mine = await self.gate.owned(principal, agent_id, [t["id"] for t in tasks])
            result["tasks"] = [t for t in tasks if t["id"] in mine]
            result["totalSize"] = len(result["tasks"])
            return result
        seen = task_ids(result)
        if method in ("SendMessage", "SendStreamingMessage"):
            if not await self.gate.claim(principal, agent_id, seen - ({task} if task else set())):
                raise A2AFailure(TASK_NOT_FOUND, "the agent answered with a task that is not the caller's")
        elif seen - ({task} if task else set()):
            raise A2AFailure(TASK_NOT_FOUND, "the agent answered with a task that is not the caller's")
        return result

    async def _stream(self, principal: Principal, admission: Admission, method: str, task: str | None,
                      response: Any) -> AsyncIterator[bytes]:
        outcome = "ok"
        try:
            async for frame in sse_data(response, admission.agent.id):
                result = frame.get("result", frame) if isinstance(frame, dict) else frame
                if isinstance(frame, dict) and "error" in frame:
                    outcome = "error"
                else:
                    try:
                        await self._inspect(principal, admission.agent.id, method, task, result)
                    except A2AFailure as failure:
                        outcome = "denied_task"
                        yield _sse({"error": {"code": failure.code, "message": failure.message}})
                        return
                yield _sse(frame)
        except AgentError as exc:
            outcome = "upstream_error"
            yield _sse({"error": {"code": exc.code, "message": str(exc)}})
        finally:
            await response.aclose()
            await admission.audit("allow", outcome)

    def _unauthenticated(self, request: Request) -> Response:
        return JSONResponse({"error": "invalid_token", "error_description": "a bearer token is required"},
                            status_code=401, headers={"WWW-Authenticate": challenge(self.identity, request.url.path)})


def _check_version(request: Request) -> None:
    version = request.headers.get("a2a-version") or request.query_params.get("A2A-Version") or "0.3"
    if not major_one(version.strip()):
        raise A2AFailure(VERSION_NOT_SUPPORTED, f"A2A version {version[:20]!r} is not supported; send "
                                                "A2A-Version: 1.0")


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise A2AFailure(-32600, f"requests are limited to {MAX_BODY_BYTES} bytes", status=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise A2AFailure(-32600, f"requests are limited to {MAX_BODY_BYTES} bytes", status=413)
    return bytes(body)


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        raise A2AFailure(-32700, "Parse error: the body is not valid JSON") from None
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or not isinstance(message.get("method"), str):
        raise A2AFailure(-32600, "Invalid Request: expected one JSON-RPC 2.0 request object")
    if "id" in message and not isinstance(message["id"], str | int | None):
        raise A2AFailure(-32600, "Invalid Request: id must be a string, a number or null")
    if not isinstance(message.get("params", {}), dict):
        raise A2AFailure(INVALID_PARAMS, "params must be an object")
    return message


def _canonical(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """`params` as the agent will read them (ProtoJSON accepts snake_case names too): what the hub checks is
    exactly what it relays."""
    try:
        return MessageToDict(ParseDict(params, PARAMS[method](), ignore_unknown_fields=True))
    except (ParseError, TypeError, ValueError, AttributeError, RecursionError):
        raise A2AFailure(INVALID_PARAMS, f"params do not match the A2A 1.0 {method} request") from None


def _rest_method(verb: str, path: str) -> tuple[str, str | None]:
    parts = path.strip("/")
    if any(segment in ("", ".", "..") for segment in parts.split("/")):
        raise A2AFailure(METHOD_NOT_FOUND, f"no A2A operation at {verb} /{parts[:100]}", status=404)
    for tenant_prefix in (False, True):
        candidate = parts.split("/", 1)[1] if tenant_prefix and "/" in parts else parts
        for route_verb, pattern, method in REST_ROUTES:
            match = pattern.fullmatch(candidate)
            if match and route_verb == verb:
                return method, match.groupdict().get("task")
    raise A2AFailure(METHOD_NOT_FOUND, f"no A2A operation at {verb} /{parts[:100]}", status=404)


def _without_path_params(method: str, params: dict[str, Any]) -> dict[str, Any]:
    key = "taskId" if "PushNotification" in method else "id"
    return {k: v for k, v in params.items() if k != key} if method != "SendMessage" else params


def _accept(request: Request) -> dict[str, str]:
    accept = request.headers.get("accept")
    return {"Accept": accept} if accept else {}


def _sse(data: Any) -> bytes:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _answer(binding: str, rpc_id: Any, result: Any) -> Response:
    if binding == JSONRPC:
        return JSONResponse({"jsonrpc": "2.0", "id": rpc_id, "result": result})
    return JSONResponse(result, media_type="application/a2a+json")


def _outcome(code: int) -> str:
    return {TASK_NOT_FOUND: "task_not_found", INVALID_PARAMS: "invalid", METHOD_NOT_FOUND: "unsupported"}.get(
        code, "upstream_error")


def _rpc_error(rpc_id: Any, failure: A2AFailure) -> Response:
    # A2A answers protocol errors with HTTP 200 and a JSON-RPC error; transport-level refusals keep their status.
    return JSONResponse({"jsonrpc": "2.0", "id": rpc_id, "error": {"code": failure.code, "message": failure.message}},
                        status_code=failure.status or 200, headers=failure.headers)


def _rest_error(failure: A2AFailure) -> Response:
    status, name = REST_STATUS.get(failure.code, (failure.status or 500, "INTERNAL"))
    status = failure.status or status
    return JSONResponse({"error": {"code": status, "status": name, "message": failure.message}}, status_code=status,
                        media_type="application/a2a+json", headers=failure.headers)


def _not_found() -> Response:
    return JSONResponse({"error": "not_found"}, status_code=404)
