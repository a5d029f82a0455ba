"""Build the hub: Settings in, an ASGI app out; the lifespan starts and stops everything."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hub import __version__
from hub.adapters.mcp import Limits
from hub.catalog.agents import AgentStore
from hub.catalog.entities import ToolRecord
from hub.catalog.registry import AgentRegistry, RegistrySettings
from hub.catalog.store import Store
from hub.catalog.sync import Federation
from hub.config import Settings
from hub.events import TOOL_QUARANTINED, TOOLS_CHANGED, Event, EventBus
from hub.gateway.access import AccessRequests
from hub.gateway.agents import AgentGate
from hub.gateway.approvals import CallApprovals
from hub.gateway.audit import AuditLog
from hub.gateway.breaker import Breakers
from hub.gateway.gateway import Gateway, Rules
from hub.gateway.poisoning import scan_tool
from hub.gateway.ratelimit import Rate, limiter_from_url
from hub.identity.bearer import (
    HubAuthBackend,
    bearer_token,
    challenge,
    load_or_create_admin_token,
    principal_of,
    rejection,
)
from hub.identity.directory import Unavailable as DirectoryUnavailable
from hub.identity.fetch import FetchPolicy
from hub.identity.service import Identity
from hub.identity.tokens import InvalidToken
from hub.search.index import Ranking
from hub.search.search import Search, SearchSettings
from hub.surfaces.a2a_cards import CardServer
from hub.surfaces.a2a_hub import HubAgent
from hub.surfaces.a2a_proxy import AgentProxy
from hub.surfaces.api import Api, Problem, http_problem
from hub.surfaces.api_agents import AgentsApi
from hub.surfaces.api_audit import AuditApi
from hub.surfaces.api_gateway import GatewayApi
from hub.surfaces.api_identity import IdentityApi
from hub.surfaces.api_search import SearchApi
from hub.surfaces.headers import TrimHeaderValues
from hub.surfaces.mcp import McpSurface
from hub.surfaces.oauth import OAuthRoutes

log = logging.getLogger("hub")


@dataclass
class Hub:
    """Every long-lived part of a running hub, wired once."""

    settings: Settings
    store: Store
    events: EventBus
    federation: Federation
    gateway: Gateway
    identity: Identity
    audit: AuditLog
    search: Search | None
    agents: AgentGate


async def open_hub(settings: Settings) -> Hub:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = await Store.open(settings.sqlalchemy_url)
    events = EventBus()
    limits = Limits(
        timeout_s=settings.upstream_timeout_s,
        connect_timeout_s=settings.upstream_connect_timeout_s,
        max_response_bytes=settings.max_upstream_response_bytes,
        pool_size=settings.upstream_pool_size,
    )
    packs: dict[str, object] = {}
    if settings.packs:
        from hub.tools import build  # packs load only when configured

        packs = {name: build(name) for name in settings.packs}
    federation = Federation(store, events, limits, data_dir=settings.data_dir, packs=packs,
                            sync_interval_s=settings.sync_interval_s, screen=screen,
                            watch_interval_s=settings.catalog_watch_s)
    token, where, generated = load_or_create_admin_token(settings.data_dir, settings.admin_token)
    if generated:
        # Printed once, at first start, so the operator can use it; it is stored 0600 in `where`.
        print(f"hub: generated the bootstrap admin token, stored in {where}:\n  {token}", flush=True)
    elif where is not None:
        log.info("bootstrap admin token: stored in %s", where)
    identity = Identity(settings, store, token)
    await identity.start()
    audit = AuditLog(store)
    await audit.start()
    search = None
    if settings.search:
        search = Search(SearchSettings(
            model=settings.search_model, max_seq_length=settings.search_max_seq_length,
            threads=settings.search_threads, quantize=settings.search_quantize, backend=settings.search_backend,
            qdrant_url=settings.qdrant_url, qdrant_api_key=settings.qdrant_api_key,
            collection=settings.qdrant_collection,
            ranking=Ranking(method=settings.search_fusion, weights=settings.search_weights,
                            feedback=settings.search_feedback),
        ), settings.data_dir)
    gateway = Gateway(
        federation,
        audit=audit,
        limiter=limiter_from_url(settings.redis_url),
        breakers=Breakers(failure_threshold=settings.breaker_failures, reset_timeout_s=settings.breaker_reset_s),
        approvals=CallApprovals(store, (await identity.store.hub_secret("call-approval")).encode(),
                                timeout_s=settings.approval_timeout_s),
        access=AccessRequests(store),
        rules=Rules(principal_rate=Rate.parse(settings.rate_limit) if settings.rate_limit else None,
                    tool_rate=Rate.parse(settings.tool_rate_limit) if settings.tool_rate_limit else None),
        page_size=settings.page_size,
        approval_url=f"{settings.base_url}/api/v1/call-approvals",
        search=search,
        discovery=settings.discovery,
        discovery_threshold=settings.discovery_threshold,
    )

    async def tools_changed() -> None:
        await events.publish(Event(TOOLS_CHANGED))

    async def quarantined(event: Event) -> None:
        await gateway.audit_decision("hub", "tool.quarantine", event.data.get("tool"), "quarantine", event.data)

    identity.directory.on_change = tools_changed
    events.subscribe(TOOL_QUARANTINED, quarantined)
    policy = FetchPolicy(allow_http_loopback=settings.agent_allow_loopback, allow_private=settings.agent_allow_private,
                         extra_ca_file=settings.outbound_ca_file)
    registry = AgentRegistry(AgentStore(store), RegistrySettings(
        environment=settings.environment, policy=policy, pinned_keys=settings.pinned_agent_keys(),
        jku_allowlist=tuple(settings.agent_jku_allowlist), require_signature=settings.agent_require_signature,
        refresh_s=settings.agent_refresh_s, watch_s=settings.catalog_watch_s), on_change=tools_changed)
    agents = AgentGate(gateway, registry, base_url=settings.base_url,
                       agent_rate=Rate.parse(settings.agent_rate_limit) if settings.agent_rate_limit else None)
    gateway.attach_agents(agents)
    await registry.start()
    await federation.start()
    if search is not None:
        async def reindex(event: Event) -> None:
            search.changed()

        events.subscribe(TOOLS_CHANGED, reindex)
        await search.start()
    return Hub(settings, store, events, federation, gateway, identity, audit, search, agents)


def screen(record: ToolRecord) -> list[str]:
    """The poisoning scan over everything a model reads of a tool."""
    return scan_tool(name=record.upstream_tool, title=record.title, description=record.description,
                     input_schema=record.input_schema, output_schema=record.output_schema,
                     annotations=record.annotations)


async def close_hub(hub: Hub) -> None:
    if hub.search is not None:
        await hub.search.close()
    await hub.federation.close()
    await hub.agents.registry.close()
    await hub.audit.close()  # after the calls it records; before the database goes
    await hub.gateway.limiter.close()
    await hub.identity.close()
    await hub.store.close()


def default_hosts(settings: Settings) -> tuple[list[str], list[str]]:
    """Host/Origin allowlists: the configured ones, else loopback plus the public URL's host."""
    hosts = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    public = urlsplit(settings.base_url)
    if public.hostname and public.netloc not in hosts:
        hosts += [public.netloc, f"{public.hostname}:*"]
        origins += [f"{public.scheme}://{public.netloc}"]
    return settings.allowed_hosts or hosts, settings.allowed_origins or origins


class RequirePrincipal:
    """/mcp answers 401 (with a challenge naming the resource metadata) to a request without a credential."""

    def __init__(self, app: object, identity: Identity) -> None:
        self.app = app
        self.identity = identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if principal_of(HTTPConnection(scope)) is None:
            response = JSONResponse(
                {"jsonrpc": "2.0", "id": None,
                 "error": {"code": -32001, "message": "Authentication required: send Authorization: Bearer <token>"}},
                status_code=401,
                headers={"WWW-Authenticate": challenge(self.identity, "/mcp")},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)  # type: ignore[operator]


class RefuseNul:
    """A NUL character in the path or the query string is refused here, before any surface reads it: no
    identifier, name or filter the hub looks up may hold one (PostgreSQL refuses it, as a 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in scope["query_string"]):
            detail = "the request target must not contain NUL characters"
            response = Problem(400, "Bad Request", detail).response() if scope["path"].startswith("/api/") else \
                JSONResponse({"error": "invalid_request", "error_description": detail}, status_code=400)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _is_admin(identity: Identity, request: Request) -> bool:
    """Whether a public route's caller presented an admin credential (public routes skip authentication)."""
    token = bearer_token(request)
    if not token:
        return False
    try:
        return (await identity.authenticate(token, identity.issuer + "/api/v1")).is_admin
    except (InvalidToken, DirectoryUnavailable):
        return False


class QuietDisconnects:
    """A client that goes before its body is read (it hung up, or its request ran past the read deadline) ends
    its request here, as one that goes later does: there is no one to answer and nothing went wrong in the
    hub. Starlette's `Request.body()` raises ClientDisconnect then, which the stack would log as an error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            return


class LeanToolCalls:
    """POSTs to /mcp meet the lean tools/call path (hub.surfaces.mcp_fast) before the generic stack, whose
    middleware, router and exception layers cost a plain call more than its policy does. Whatever the lean
    path does not answer continues down that stack untouched."""

    def __init__(self, app: ASGIApp, state: dict[str, object]) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.state.get("fast")
        if fast is None or scope["type"] != "http" or scope["path"] != "/mcp" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        await fast(scope, receive, send, self.app)  # type: ignore[operator]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    state: dict[str, object] = {}

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def readyz(request: Request) -> Response:
        hub = state.get("hub")
        if not isinstance(hub, Hub):
            return JSONResponse({"status": "starting"}, status_code=503)
        health = hub.gateway.upstream_health()
        # Upstream names and their last errors are for operators: anyone else (a load balancer's probe) sees counts.
        upstreams: object = health if await _is_admin(hub.identity, request) else {
            "count": len(health), "unhealthy": sum(1 for h in health.values()
                                                   if not h["healthy"] or h["circuit"] != "closed")}
        body = {"status": "ready", "tools": len(hub.federation.tools), "upstreams": upstreams,
                "agents": len(hub.agents.registry.agents)}
        if hub.search is not None:
            body["search"] = hub.search.status()  # serving never waits for indexing: progress only
        return JSONResponse(body)

    class Lazy:
        """Routes exist before the lifespan builds what they call: dispatch to it once it is there."""

        def __init__(self, key: str) -> None:
            self.key = key

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            target = state.get(self.key)
            if target is None:
                await JSONResponse({"status": "starting"}, status_code=503)(scope, receive, send)
                return
            await target(scope, receive, send)  # type: ignore[operator]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub = await open_hub(settings)
        surface = McpSurface(hub.gateway, hub.events)
        hosts, origins = default_hosts(settings)
        manager, mcp_app, fast = surface.http_app(allowed_hosts=hosts, allowed_origins=origins,
                                                  max_request_bytes=settings.max_request_bytes, auth=backend)
        backend.identity = hub.identity
        api_router = Starlette(routes=Api(hub.gateway, hub.federation).routes()
                               + GatewayApi(hub.gateway, hub.federation).routes()
                               + IdentityApi(hub.identity, hub.gateway.audit_decision).routes()
                               + AuditApi(hub.store).routes()
                               + SearchApi(hub.gateway).routes(),
                               exception_handlers={HTTPException: http_problem})
        cards = CardServer(settings.base_url, hub.identity.keys)
        api_router.routes.extend(AgentsApi(hub.agents, cards, hub.gateway.audit_decision).routes())
        oauth_router = Starlette(routes=OAuthRoutes(hub.identity).routes())
        hub_agent = HubAgent(hub.gateway, cards, hub.identity)
        proxy = Starlette(routes=AgentProxy(hub.agents, cards, hub.identity).routes())
        state.update(hub=hub, mcp=RequirePrincipal(mcp_app, hub.identity), fast=fast, api=api_router,
                     oauth=oauth_router, a2a=hub_agent, agents=proxy,
                     card=Starlette(routes=[Route("/.well-known/agent-card.json", hub_agent.card)]))
        # What start-up built (modules, the catalog, the model's tokenizer) lives as long as the process:
        # out of the collector's sight, a full collection no longer walks it (it had cost 200 ms a time).
        gc.collect()
        gc.freeze()
        try:
            async with manager.run():
                log.info("hub %s ready on %s (%d tools)", __version__, settings.base_url, len(hub.federation.tools))
                yield
        finally:
            state.clear()
            backend.identity = None
            await close_hub(hub)
            log.info("hub stopped: upstreams closed, database closed")

    backend = HubAuthBackend()  # given the hub's identity at start-up
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/mcp", Lazy("mcp")),
        Route("/api/v1/{rest:path}", Lazy("api")),
        Route("/.well-known/oauth-authorization-server", Lazy("oauth")),
        Route("/.well-known/oauth-protected-resource{rest:path}", Lazy("oauth")),
        Route("/oauth/{rest:path}", Lazy("oauth")),
        Route("/.well-known/agent-card.json", Lazy("card"), methods=["GET"]),
        Route("/a2a/{rest:path}", Lazy("a2a")),
        Route("/agents/{rest:path}", Lazy("agents")),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(QuietDisconnects), Middleware(TrimHeaderValues), Middleware(RefuseNul),
                    Middleware(LeanToolCalls, state=state),
                    Middleware(AuthenticationMiddleware, backend=backend, on_error=rejection(backend))],
        lifespan=lifespan,
    )
