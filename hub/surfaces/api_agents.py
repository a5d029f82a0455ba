"""REST for the agent registry: register (by anyone authenticated, e.g. an agent announcing itself), list
what the caller may see, and the admins' decisions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.catalog.agents import AgentRecord, AgentSettings
from hub.catalog.entities import ToolState
from hub.catalog.registry import AgentRegistration, RegistrationError
from hub.catalog.store import Conflict, StaleDefinition
from hub.gateway.agents import AgentGate
from hub.identity.principal import ANONYMOUS_ID, Principal
from hub.surfaces.a2a_cards import CardServer
from hub.surfaces.api import Problem, endpoint, model_body


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_hash: str | None = Field(default=None, max_length=80)  # approve exactly this card (409 if it changed)
    reason: str | None = Field(default=None, max_length=2000)


class AgentsApi:
    def __init__(self, gate: AgentGate, cards: CardServer, audit: Any) -> None:
        self.gate = gate
        self.registry = gate.registry
        self.cards = cards
        self.audit = audit  # gateway.audit_decision

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/agents", endpoint(self.register), methods=["POST"]),
            Route("/api/v1/agents", endpoint(self.list), methods=["GET"]),
            Route("/api/v1/agents/{id}", endpoint(self.get), methods=["GET"]),
            Route("/api/v1/agents/{id}", endpoint(self.delete), methods=["DELETE"]),
            Route("/api/v1/agents/{id}/refresh", endpoint(self.refresh), methods=["POST"]),
            Route("/api/v1/agents/{id}/approve", endpoint(self.approve, admin=True), methods=["POST"]),
            Route("/api/v1/agents/{id}/disable", endpoint(self.disable, admin=True), methods=["POST"]),
            Route("/api/v1/agents/{id}/settings", endpoint(self.settings, admin=True), methods=["PUT"]),
        ]

    def _view(self, principal: Principal, record: AgentRecord) -> dict[str, Any] | None:
        """Admins and the registrant see everything (secrets masked); others only approved agents they may use."""
        if principal.is_admin or record.registered_by == principal.id:
            view = record.admin_view()
            if record.id in self.registry.errors:
                view["refresh_error"] = self.registry.errors[record.id]
        elif self.gate.visible(principal, record):
            view = record.summary()
        else:
            return None
        view["card_url_via_hub"] = self.cards.agent_card_url(record.id)
        return view

    def _mine(self, principal: Principal, agent_id: str) -> AgentRecord:
        record = self.registry.agents.get(agent_id)
        if record is None or not (principal.is_admin or record.registered_by == principal.id):
            if record is not None and self.gate.visible(principal, record):
                raise Problem(403, "Forbidden", "only the agent's registrant or an admin may do this",
                              required_scopes=["admin"])
            raise Problem(404, "Not Found", f"no agent {agent_id!r}")
        return record

    async def register(self, request: Request, principal: Principal) -> Response:
        if principal.id == ANONYMOUS_ID:
            raise Problem(403, "Forbidden", "registering an agent needs an identity of your own")
        body = await model_body(request, AgentRegistration)
        try:
            record, created = await self.registry.register(body, principal)
        except RegistrationError as exc:
            await self.audit(principal.id, "agent.register", body.id or body.card_url, "invalid",
                             {"problem": str(exc)[:300]})
            raise Problem(422, "Unprocessable Content", str(exc)) from None
        except Conflict as exc:
            raise Problem(409, "Conflict", str(exc)) from None
        await self.audit(principal.id, "agent.register" if created else "agent.update", record.id, record.state.value,
                         {"card_hash": record.card_hash, "signature": record.signature})
        return JSONResponse({"id": record.id, "state": record.state.value, "card_hash": record.card_hash,
                             "signature": record.signature, "signature_kid": record.signature_kid,
                             "card_url_via_hub": self.cards.agent_card_url(record.id)},
                            status_code=201 if created else 200, headers={"Location": f"/api/v1/agents/{record.id}"})

    async def list(self, request: Request, principal: Principal) -> Response:
        views = [self._view(principal, r) for r in self.registry.agents.values()]
        return JSONResponse({"agents": sorted((v for v in views if v is not None), key=lambda v: v["id"])})

    async def get(self, request: Request, principal: Principal) -> Response:
        record = self.registry.agents.get(request.path_params["id"])
        view = None if record is None else self._view(principal, record)
        if view is None:
            raise Problem(404, "Not Found", f"no agent {request.path_params['id']!r}")
        return JSONResponse(view)

    async def delete(self, request: Request, principal: Principal) -> Response:
        record = self._mine(principal, request.path_params["id"])
        await self.registry.remove(record.id)
        await self.audit(principal.id, "agent.delete", record.id, "removed")
        return Response(status_code=204)

    async def refresh(self, request: Request, principal: Principal) -> Response:
        record = self._mine(principal, request.path_params["id"])
        try:
            refreshed = await self.registry.refresh(record.id)
        except RegistrationError as exc:
            raise Problem(422 if "card URL" in str(exc) else 502, "Refresh failed", str(exc)) from None
        return JSONResponse(self._view(principal, refreshed))

    async def _decide(self, request: Request, principal: Principal, state: ToolState) -> Response:
        agent_id = request.path_params["id"]
        empty = request.headers.get("content-length", "0") in ("", "0") and "transfer-encoding" not in request.headers
        body = Decision() if empty else await model_body(request, Decision)  # model_body bounds the body
        try:
            record = await self.registry.decide(agent_id, state, card_hash=body.card_hash, reason=body.reason)
        except StaleDefinition as exc:
            raise Problem(409, "Conflict", str(exc)) from None
        if record is None:
            raise Problem(404, "Not Found", f"no agent {agent_id!r}")
        await self.audit(principal.id, f"agent.{'approve' if state == ToolState.approved else 'disable'}", agent_id,
                         state.value, {"card_hash": record.card_hash, "reason": body.reason})
        return JSONResponse(self._view(principal, record))

    async def approve(self, request: Request, principal: Principal) -> Response:
        return await self._decide(request, principal, ToolState.approved)

    async def disable(self, request: Request, principal: Principal) -> Response:
        return await self._decide(request, principal, ToolState.disabled)

    async def settings(self, request: Request, principal: Principal) -> Response:
        settings = await model_body(request, AgentSettings)
        record = await self.registry.update_settings(request.path_params["id"], settings)
        if record is None:
            raise Problem(404, "Not Found", f"no agent {request.path_params['id']!r}")
        await self.audit(principal.id, "agent.settings", record.id, "updated")
        return JSONResponse(self._view(principal, record))
