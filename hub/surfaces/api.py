"""The REST surface: `/api/v1/...`, JSON in and out, errors as RFC 9457 problem+json."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.adapters.mcp import UpstreamError
from hub.catalog.entities import ToolRecord, ToolState, UpstreamSpec
from hub.catalog.sync import Federation, RegistrationError
from hub.gateway.gateway import Gateway, InvalidCursor, NotFound, decode_cursor, encode_cursor
from hub.identity.bearer import principal_of
from hub.identity.principal import Principal
from hub.surfaces.headers import has_nul

log = logging.getLogger("hub.surfaces.api")

MAX_BODY_BYTES = 1024 * 1024


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str | None = None, *, retry_after: str | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra
        self.retry_after = retry_after

    def response(self) -> Response:
        body: dict[str, Any] = {"type": "about:blank", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extra)
        headers = {"Retry-After": self.retry_after} if self.retry_after else None
        if self.status == 401:
            headers = {"WWW-Authenticate": 'Bearer realm="hub"'}
        elif self.status == 403 and self.extra.get("required_scopes"):
            scope = " ".join(self.extra["required_scopes"])
            headers = {"WWW-Authenticate": f'Bearer realm="hub", error="insufficient_scope", scope="{scope}"'}
        return JSONResponse(body, status_code=self.status, media_type="application/problem+json", headers=headers)


M = TypeVar("M", bound=BaseModel)
Handler = Callable[[Request, Principal], Awaitable[Response]]


def endpoint(handler: Handler, *, admin: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, authorise and turn every failure into problem+json (never a stack trace)."""

    async def run(request: Request) -> Response:
        try:
            principal = principal_of(request)
            if principal is None:
                raise Problem(401, "Unauthorized", "a valid bearer token is required")
            if admin and not principal.is_admin:
                raise Problem(403, "Forbidden", "this needs the admin scope", required_scopes=["admin"])
            return await handler(request, principal)
        except Problem as problem:
            return problem.response()
        except ClientDisconnect:
            raise  # the caller is gone: no one to answer (hub.app.QuietDisconnects ends the request)
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.url.path)
            return Problem(500, "Internal Server Error", "the hub failed to handle this request").response()

    return run


async def json_body(request: Request) -> Any:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise Problem(413, "Payload Too Large", f"bodies are limited to {MAX_BODY_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Problem(413, "Payload Too Large", f"bodies are limited to {MAX_BODY_BYTES} bytes")
    try:
        value = json.loads(body or b"null")
    except ValueError:
        raise Problem(400, "Bad Request", "the body is not valid JSON") from None
    except RecursionError:
        raise Problem(400, "Bad Request", "the body is nested too deeply") from None
    if has_nul(value):
        raise Problem(400, "Bad Request", "the body must not contain NUL characters")
    return value


async def http_problem(request: Request, exc: Exception) -> Response:
    """Routing's own refusals under /api/v1 (no such route, method not allowed) as problem+json too."""
    assert isinstance(exc, HTTPException)
    title = HTTPStatus(exc.status_code).phrase
    detail = f"no route {request.url.path}" if exc.status_code == 404 else \
        f"{request.method} is not allowed on {request.url.path}" if exc.status_code == 405 else None
    response = Problem(exc.status_code, title, detail).response()
    response.headers.update(exc.headers or {})
    return response


def validation_problem(exc: ValidationError) -> Problem:
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]
    return Problem(422, "Unprocessable Content", "the request body is invalid", errors=errors)


async def model_body(request: Request, model: type[M]) -> M:
    """The JSON object body validated as `model`; 400 or 422 problem+json otherwise."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise Problem(400, "Bad Request", "the body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise validation_problem(exc) from None


def tool_json(record: ToolRecord) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude={"meta"})


class Api:
    def __init__(self, gateway: Gateway, federation: Federation) -> None:
        self.gateway = gateway
        self.federation = federation

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/upstreams", endpoint(self.list_upstreams, admin=True), methods=["GET"]),
            Route("/api/v1/upstreams", endpoint(self.add_upstream, admin=True), methods=["POST"]),
            Route("/api/v1/upstreams/{name}", endpoint(self.get_upstream, admin=True), methods=["GET"]),
            Route("/api/v1/upstreams/{name}", endpoint(self.delete_upstream, admin=True), methods=["DELETE"]),
            Route("/api/v1/upstreams/{name}/sync", endpoint(self.sync_upstream, admin=True), methods=["POST"]),
            Route("/api/v1/tools", endpoint(self.list_tools), methods=["GET"]),
            Route("/api/v1/tools/{name}", endpoint(self.get_tool), methods=["GET"]),
        ]

    async def list_upstreams(self, request: Request, principal: Principal) -> Response:
        specs = await self.federation.store.list_upstreams()
        health = self.gateway.upstream_health()
        return JSONResponse({"upstreams": [
            {**s.redacted(), "health": health.get(s.name, {"healthy": False, "error": "not connected"}),
             "tools": sum(1 for t in self.federation.tools.values() if t.upstream == s.name)}
            for s in specs
        ]})

    async def add_upstream(self, request: Request, principal: Principal) -> Response:
        spec = await model_body(request, UpstreamSpec)
        try:
            result = await self.federation.register(spec)
        except RegistrationError as exc:
            raise Problem(409, "Conflict", str(exc)) from None
        except UpstreamError as exc:
            raise Problem(502, "Bad Gateway", str(exc)) from None
        log.info("upstream %s registered by %s with %d tools", spec.name, principal.id, len(result.added))
        return JSONResponse({"name": spec.name, "tools": len(result.added)}, status_code=201,
                            headers={"Location": f"/api/v1/upstreams/{spec.name}"})

    async def get_upstream(self, request: Request, principal: Principal) -> Response:
        name = request.path_params["name"]
        spec = await self.federation.store.get_upstream(name)
        if spec is None:
            raise Problem(404, "Not Found", f"no upstream named {name!r}")
        health = self.gateway.upstream_health().get(name, {"healthy": False, "error": "not connected"})
        tools = sorted(t.name for t in self.federation.tools.values() if t.upstream == name)
        return JSONResponse({**spec.redacted(), "health": health, "tools": tools})

    async def delete_upstream(self, request: Request, principal: Principal) -> Response:
        name = request.path_params["name"]
        if not await self.gateway.remove_upstream(name):
            raise Problem(404, "Not Found", f"no upstream named {name!r}")
        return Response(status_code=204)

    async def sync_upstream(self, request: Request, principal: Principal) -> Response:
        name = request.path_params["name"]
        if self.federation.client(name) is None:
            raise Problem(404, "Not Found", f"no upstream named {name!r}")
        try:
            result = await self.federation.sync(name)
        except RegistrationError as exc:
            raise Problem(409, "Conflict", str(exc)) from None
        except UpstreamError as exc:
            raise Problem(502, "Bad Gateway", str(exc)) from None
        return JSONResponse(result.model_dump())

    async def list_tools(self, request: Request, principal: Principal) -> Response:
        """Admins see the whole catalog with every state; others see the tools they may call."""
        params = request.query_params
        try:
            limit = int(params.get("limit", "100"))
            after = decode_cursor(params["cursor"]) if params.get("cursor") else None
        except (ValueError, InvalidCursor):
            raise Problem(400, "Bad Request", "limit must be an integer and cursor one this API returned") from None
        if not 1 <= limit <= 1000:
            raise Problem(400, "Bad Request", "limit must be between 1 and 1000")
        state = params.get("state")
        if state is not None and state not in ToolState.__members__:
            raise Problem(400, "Bad Request", f"state must be one of {', '.join(ToolState.__members__)}")
        if principal.is_admin:
            tools = self.federation.tools
            records = [tools[n] for n in sorted(tools) if state is None or tools[n].state == state]
        else:
            records = self.gateway.visible_tools(principal)
        if params.get("upstream"):
            records = [r for r in records if r.upstream == params["upstream"]]
        if after is not None:
            records = [r for r in records if r.name > after]
        page = records[:limit]
        next_cursor = encode_cursor(page[-1].name) if len(records) > limit else None
        return JSONResponse({"tools": [tool_json(r) for r in page], "next_cursor": next_cursor})

    async def get_tool(self, request: Request, principal: Principal) -> Response:
        name = request.path_params["name"]
        if principal.is_admin:
            record = self.federation.tools.get(name)
        else:
            try:
                record = self.gateway.tool(principal, name)
            except NotFound:
                record = None
        if record is None:
            raise Problem(404, "Not Found", f"no tool named {name!r}")
        return JSONResponse(tool_json(record))
