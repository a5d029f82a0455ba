"""REST for the gateway's decisions: tool approval and policy, kill switches, access requests, risky calls.

Every decision is audited with who made it; decisions that change what callers see refresh this
replica's catalog at once (other replicas follow within their watch interval).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.catalog.entities import ToolPolicy, ToolState
from hub.catalog.store import Conflict, NotFound, StaleDefinition
from hub.catalog.sync import Federation
from hub.gateway.gateway import Gateway
from hub.gateway.meta import registered
from hub.gateway.ratelimit import Rate
from hub.identity.principal import Principal
from hub.identity.scopes import ScopeError, parse
from hub.surfaces.api import Problem, endpoint, model_body, tool_json

STATES = ("pending", "approved", "denied", "expired")


class ApproveTool(BaseModel):
    model_config = ConfigDict(extra="forbid")
    definition_hash: str = Field(min_length=1, max_length=80)
    reason: str | None = Field(default=None, max_length=2000)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=2000)


class NewAccessRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scopes: list[str] = Field(min_length=1, max_length=50)
    reason: str = Field(min_length=3, max_length=2000)


def _limit(request: Request) -> int:
    try:
        limit = int(request.query_params.get("limit", "100"))
    except ValueError:
        raise Problem(400, "Bad Request", "limit must be an integer") from None
    if not 1 <= limit <= 1000:
        raise Problem(400, "Bad Request", "limit must be between 1 and 1000")
    return limit


def _state(request: Request) -> str | None:
    state = request.query_params.get("state")
    if state is not None and state not in STATES:
        raise Problem(400, "Bad Request", f"state must be one of {', '.join(STATES)}")
    return state


async def _reason(request: Request) -> str | None:
    if request.headers.get("content-length", "0") in ("", "0") and "transfer-encoding" not in request.headers:
        return None
    return (await model_body(request, Reason)).reason


class GatewayApi:
    def __init__(self, gateway: Gateway, federation: Federation) -> None:
        self.gateway = gateway
        self.federation = federation

    def routes(self) -> list[Route]:
        admin = {"admin": True}
        return [
            Route("/api/v1/tools/{name}/approve", endpoint(self.approve_tool, **admin), methods=["POST"]),
            Route("/api/v1/tools/{name}/disable", endpoint(self.disable_tool, **admin), methods=["POST"]),
            Route("/api/v1/tools/{name}/policy", endpoint(self.set_policy, **admin), methods=["PUT"]),
            Route("/api/v1/upstreams/{name}/disable", endpoint(self.disable_upstream, **admin), methods=["POST"]),
            Route("/api/v1/upstreams/{name}/enable", endpoint(self.enable_upstream, **admin), methods=["POST"]),
            Route("/api/v1/access-requests", endpoint(self.request_access), methods=["POST"]),
            Route("/api/v1/access-requests", endpoint(self.list_requests), methods=["GET"]),
            Route("/api/v1/access-requests/{id}", endpoint(self.get_request), methods=["GET"]),
            Route("/api/v1/access-requests/{id}/approve", endpoint(self.approve_request, **admin), methods=["POST"]),
            Route("/api/v1/access-requests/{id}/deny", endpoint(self.deny_request, **admin), methods=["POST"]),
            Route("/api/v1/call-approvals", endpoint(self.list_calls, **admin), methods=["GET"]),
            Route("/api/v1/call-approvals/{id}", endpoint(self.get_call, **admin), methods=["GET"]),
            Route("/api/v1/call-approvals/{id}/approve", endpoint(self.approve_call, **admin), methods=["POST"]),
            Route("/api/v1/call-approvals/{id}/deny", endpoint(self.deny_call, **admin), methods=["POST"]),
        ]

    async def _audit(self, principal: Principal, action: str, target: str, decision: str,
                     detail: dict[str, Any] | None = None) -> None:
        await self.gateway.audit_decision(principal.id, action, target, decision, detail)

    # -- tools ---------------------------------------------------------------------------------------

    async def approve_tool(self, request: Request, principal: Principal) -> Response:
        name = request.path_params["name"]
        body = await model_body(request, ApproveTool)
        try:
            record = await self.federation.store.approve_tool(name, body.definition_hash, body.reason)
        except StaleDefinition as exc:
            raise Problem(409, "Conflict", str(exc)) from None
        if record is None:
            raise Problem(404, "Not Found", f"no tool named {name!r}")
        await self._audit(principal, "tool.approve", name, "approve",
                          {"definition_hash": record.definition_hash, "reason": body.reason})
        await self.federation.refresh()
        return JSONResponse(tool_json(record))

    async def disable_tool(self, request: Request, principal: Principal) -> Response:
        name = request.path_params["name"]
        reason = await _reason(request)
        record = await self.federation.store.set_tool_state(name, ToolState.disabled, reason or "disabled by an admin")
        if record is None:
            raise Problem(404, "Not Found", f"no tool named {name!r}")
        await self._audit(principal, "tool.disable", name, "disable", {"reason": reason})
        await self.federation.refresh()
        return JSONResponse(tool_json(record))

    async def set_policy(self, request: Request, principal: Principal) -> Response:
        name = request.path_params["name"]
        policy = await model_body(request, ToolPolicy)
        if policy.rate_limit is not None:
            try:
                Rate.parse(policy.rate_limit)
            except ValueError as exc:
                raise Problem(422, "Unprocessable Content", f"rate_limit: {exc}") from None
        record = await self.federation.store.set_tool_policy(name, policy)
        if record is None:
            raise Problem(404, "Not Found", f"no tool named {name!r}")
        await self._audit(principal, "tool.policy", name, "set", policy.model_dump(exclude_none=True))
        await self.federation.refresh()
        return JSONResponse(tool_json(record))

    # -- upstream kill switch -------------------------------------------------------------------------

    async def _upstream_switch(self, request: Request, principal: Principal, enabled: bool) -> Response:
        name = request.path_params["name"]
        reason = await _reason(request)
        spec = await self.federation.set_upstream_enabled(name, enabled)
        if spec is None:
            raise Problem(404, "Not Found", f"no upstream named {name!r}")
        await self._audit(principal, "upstream.enable" if enabled else "upstream.disable", name,
                          "enable" if enabled else "disable", {"reason": reason})
        return JSONResponse(spec.redacted())

    async def disable_upstream(self, request: Request, principal: Principal) -> Response:
        return await self._upstream_switch(request, principal, False)

    async def enable_upstream(self, request: Request, principal: Principal) -> Response:
        return await self._upstream_switch(request, principal, True)

    # -- access requests ------------------------------------------------------------------------------

    async def request_access(self, request: Request, principal: Principal) -> Response:
        if not registered(principal):
            raise Problem(403, "Forbidden", "only registered principals can request access")
        body = await model_body(request, NewAccessRequest)
        try:
            scopes = parse(body.scopes)
        except ScopeError as exc:
            raise Problem(422, "Unprocessable Content", str(exc)) from None
        try:
            created = await self.gateway.access.create(principal.id, scopes, body.reason)
        except Conflict as exc:
            raise Problem(429, "Too Many Requests", str(exc)) from None
        await self._audit(principal, "access_request.create", created.id, "requested", {"scopes": scopes})
        return JSONResponse(created.json(), status_code=201,
                            headers={"Location": f"/api/v1/access-requests/{created.id}"})

    async def list_requests(self, request: Request, principal: Principal) -> Response:
        """Admins see the queue (any principal's); everyone else sees only their own requests."""
        limit = _limit(request)
        who = request.query_params.get("principal") if principal.is_admin else principal.id
        items = await self.gateway.access.list(state=_state(request), principal_id=who,
                                               after=request.query_params.get("after"), limit=limit + 1)
        page = items[:limit]
        return JSONResponse({"access_requests": [r.json() for r in page],
                             "next_after": page[-1].id if len(items) > limit else None})

    async def get_request(self, request: Request, principal: Principal) -> Response:
        try:
            found = await self.gateway.access.get(request.path_params["id"])
        except NotFound:
            found = None
        if found is None or not (principal.is_admin or found.principal_id == principal.id):
            raise Problem(404, "Not Found", "no such access request")
        return JSONResponse(found.json())

    async def _decide(self, request: Request, principal: Principal, what: str, approve: bool,
                      decide: Any, detail: Any) -> Response:
        """One admin decision on a queued item; 409 when another decision came first (the decide is atomic)."""
        item_id = request.path_params["id"]
        reason = await _reason(request)
        try:
            decided = await decide(item_id, approve, principal.id, reason)
        except Conflict as exc:
            raise Problem(409, "Conflict", str(exc)) from None
        except NotFound as exc:
            raise Problem(404, "Not Found", str(exc)) from None
        verb = "approve" if approve else "deny"
        await self._audit(principal, f"{what}.{verb}", item_id, verb, {**detail(decided), "reason": reason})
        return JSONResponse(decided.json())

    async def _decide_request(self, request: Request, principal: Principal, approve: bool) -> Response:
        return await self._decide(request, principal, "access_request", approve, self.gateway.access.decide,
                                  lambda d: {"principal": d.principal_id, "scopes": d.scopes})

    async def approve_request(self, request: Request, principal: Principal) -> Response:
        return await self._decide_request(request, principal, True)

    async def deny_request(self, request: Request, principal: Principal) -> Response:
        return await self._decide_request(request, principal, False)

    # -- risky calls ----------------------------------------------------------------------------------

    async def list_calls(self, request: Request, principal: Principal) -> Response:
        items = await self.gateway.approvals.list(state=_state(request), limit=_limit(request))
        return JSONResponse({"call_approvals": [a.json() for a in items]})

    async def get_call(self, request: Request, principal: Principal) -> Response:
        try:
            return JSONResponse((await self.gateway.approvals.get(request.path_params["id"])).json())
        except NotFound as exc:
            raise Problem(404, "Not Found", str(exc)) from None

    async def _decide_call(self, request: Request, principal: Principal, approve: bool) -> Response:
        return await self._decide(request, principal, "call", approve, self.gateway.approvals.decide,
                                  lambda d: {"tool": d.tool, "principal": d.principal_id})

    async def approve_call(self, request: Request, principal: Principal) -> Response:
        return await self._decide_call(request, principal, True)

    async def deny_call(self, request: Request, principal: Principal) -> Response:
        return await self._decide_call(request, principal, False)
