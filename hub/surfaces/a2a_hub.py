"""The hub as an A2A agent: its signed card at `/.well-known/agent-card.json`, JSON-RPC at `/a2a/jsonrpc` and
HTTP+JSON at `/a2a/rest`, served by the a2a-sdk request handler.

An agent asks in words ("an agent that translates contracts") and gets ranked agents and tools as a data
part, or sends `{"skill": "find_agents" | "find_tools" | "call_tool", ...}` as a data part. Every answer is
the gateway's: search is filtered to what the caller may use, tool calls are decided and audited as
tools/call. The SDK does not enforce the card's security requirements, so this surface does.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from a2a.helpers import get_data_parts, get_message_text, new_data_part, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import DefaultServerCallContextBuilder, create_jsonrpc_routes, create_rest_routes
from a2a.server.tasks import InMemoryTaskStore
from a2a.types import Message, Role
from a2a.utils.errors import UnsupportedOperationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from hub.gateway.errors import Forbidden, NotFound, RateLimited, Unavailable
from hub.identity.bearer import challenge, principal_of
from hub.identity.principal import Principal
from hub.search.search import MAX_QUERY_CHARS, SearchUnavailable
from hub.surfaces.a2a_cards import CardServer

log = logging.getLogger("hub.surfaces.a2a")

SKILLS = ("find_agents", "find_tools", "call_tool")
MAX_RESULTS = 25


class _Context(DefaultServerCallContextBuilder):
    """Carries the hub's Principal (set by the authentication middleware) into the executor."""

    def build(self, request: Request) -> Any:
        context = super().build(request)
        context.state["principal"] = principal_of(request)
        return context


class HubExecutor(AgentExecutor):
    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        principal = context.call_context.state.get("principal") if context.call_context else None
        request = self._request(context)
        try:
            if principal is None:
                raise Forbidden("authentication required")
            data = await self._answer(principal, request)
            parts = [new_data_part(data)]
        except (Forbidden, NotFound, RateLimited, Unavailable, SearchUnavailable, ValueError) as exc:
            parts = [new_text_part(str(exc)), new_data_part({"error": type(exc).__name__, "message": str(exc)})]
        await event_queue.enqueue_event(Message(role=Role.ROLE_AGENT, message_id=str(uuid.uuid4()),
                                                context_id=context.context_id, parts=parts))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise UnsupportedOperationError("the hub answers at once; there is nothing to cancel")

    @staticmethod
    def _request(context: RequestContext) -> dict[str, Any]:
        message = context.message
        for data in get_data_parts(message.parts) if message else []:
            if isinstance(data, dict):
                return data
        return {"query": get_message_text(message) if message else ""}

    async def _answer(self, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
        skill = request.get("skill")
        if skill is not None and skill not in SKILLS:
            raise ValueError(f"unknown skill {str(skill)[:50]!r}; the hub's skills are {', '.join(SKILLS)}")
        if skill == "call_tool":
            name, arguments = request.get("name"), request.get("arguments") or {}
            if not isinstance(name, str) or not isinstance(arguments, dict):
                raise ValueError('call_tool needs {"name": "<tool>", "arguments": {...}}')
            result = await self.gateway.call_tool(principal, name, arguments)
            return result.model_dump(mode="json", by_alias=True, exclude_none=True)
        query = request.get("query")
        if not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY_CHARS:
            raise ValueError(f"say what you are looking for (1-{MAX_QUERY_CHARS} characters)")
        limit = request.get("limit", 10)
        limit = max(1, min(limit if isinstance(limit, int) else 10, MAX_RESULTS))
        kinds = {"find_agents": ("agent",), "find_tools": ("tool",)}.get(skill or "", ("agent", "tool"))
        results = await self.gateway.discovery.find(principal, query.strip(), kinds=kinds, limit=limit)
        return {"query": query.strip(), "results": results}


class HubAgent:
    """The hub's card and A2A endpoints (an ASGI app for /a2a/... and the card route)."""

    def __init__(self, gateway: Any, cards: CardServer, identity: Any) -> None:
        self.cards = cards
        self.identity = identity
        handler = DefaultRequestHandler(agent_executor=HubExecutor(gateway), task_store=InMemoryTaskStore(),
                                        agent_card=cards.hub_card())
        self.app = Starlette(routes=[
            *create_jsonrpc_routes(handler, rpc_url="/a2a/jsonrpc", context_builder=_Context()),
            *create_rest_routes(handler, context_builder=_Context(), path_prefix="/a2a/rest"),
        ])

    async def card(self, request: Request) -> Response:
        body, etag = self.cards.hub_card_response()
        headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        if principal_of(request) is None:
            response = JSONResponse({"error": "invalid_token", "error_description": "a bearer token is required"},
                                    status_code=401,
                                    headers={"WWW-Authenticate": challenge(self.identity, request.url.path)})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
