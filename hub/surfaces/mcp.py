"""The MCP surface: `/mcp` (Streamable HTTP, both protocol eras) and stdio.

Speaks MCP and nothing else: every request becomes a call on the gateway, every answer goes back in
the protocol's terms. Server-to-client traffic an upstream produces during a call (progress, log
messages, sampling, elicitation, roots) is relayed to the calling client through `CallerRelay`.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import mcp.types as types
from mcp.server import NotificationOptions, Server, ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ToolsListChanged,
)
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp.types.version import MODERN_PROTOCOL_VERSIONS
from starlette.authentication import AuthenticationBackend
from starlette.requests import Request
from starlette.types import ASGIApp

from hub import __version__
from hub.events import PROMPTS_CHANGED, RESOURCES_CHANGED, TOOLS_CHANGED, Event, EventBus
from hub.gateway.gateway import Gateway, InvalidCursor, NotFound, RateLimited, Unavailable
from hub.identity.bearer import principal_of
from hub.identity.principal import Principal
from hub.surfaces.mcp_errors import rate_limited, trace_id
from hub.surfaces.mcp_fast import FastToolCall
from hub.surfaces.request_body import WholeBody

log = logging.getLogger("hub.surfaces.mcp")

INSTRUCTIONS = (
    "This is a tool hub. It federates tools, prompts and resources from many MCP servers; tool names are "
    "'<source>.<tool>'. You see only what your credential has been granted."
)


def _as_ours(result: Any) -> Any:
    """An upstream's result without the upstream's serverInfo stamp: the caller's server is the hub (the SDK
    stamps the hub's in its place, as the lean path does)."""
    meta = getattr(result, "meta", None)
    if isinstance(meta, dict) and types.SERVER_INFO_META_KEY in meta:
        kept = {k: v for k, v in meta.items() if k != types.SERVER_INFO_META_KEY}
        result = result.model_copy(update={"meta": kept or None})
    return result


class CallerRelay:
    """The calling client, as the adapter sees it during one request."""

    def __init__(self, ctx: ServerRequestContext[Any, Any]) -> None:
        self._ctx = ctx
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        # Session-era clients take sampling/elicitation requests mid-call; modern ones get input_required back.
        self.drives_input = not modern and ctx.session.can_send_request
        declared = ctx.session.client_capabilities
        self.capabilities = frozenset(
            name for name in ("sampling", "elicitation", "roots") if declared is not None and getattr(declared, name)
        )

    @property
    def _related(self) -> ServerMessageMetadata:
        return ServerMessageMetadata(related_request_id=self._ctx.request_id)

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        await self._ctx.session.report_progress(progress, total, message)

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            await self._ctx.session.send_log_message(
                params.level, params.data, params.logger, related_request_id=self._ctx.request_id
            )

    async def _request(self, request: Any, result_type: type[Any]) -> Any:
        try:
            return await self._ctx.session.send_request(request, result_type, metadata=self._related)
        except MCPError as exc:
            return exc.error
        except Exception as exc:  # no back channel (stateless caller) or the caller went away
            return types.ErrorData(code=types.INVALID_REQUEST, message=f"the calling client cannot answer: {exc}")

    async def sampling(self, params: types.CreateMessageRequestParams) -> Any:
        result_type = types.CreateMessageResultWithTools if params.tools else types.CreateMessageResult
        return await self._request(types.CreateMessageRequest(params=params), result_type)

    async def elicitation(self, params: types.ElicitRequestParams) -> Any:
        return await self._request(types.ElicitRequest(params=params), types.ElicitResult)

    async def list_roots(self) -> Any:
        return await self._request(types.ListRootsRequest(), types.ListRootsResult)


class HubServer(Server):
    """Advertise list_changed to session-era clients too (the session manager passes no options)."""

    def create_initialization_options(self, notification_options=None, experimental_capabilities=None,
                                      extensions=None):
        options = notification_options or NotificationOptions(
            tools_changed=True, prompts_changed=True, resources_changed=True
        )
        return super().create_initialization_options(options, experimental_capabilities, extensions)


class McpSurface:
    def __init__(self, gateway: Gateway, events: EventBus, *, stdio_principal: Principal | None = None) -> None:
        self.gateway = gateway
        self.stdio_principal = stdio_principal
        self.bus = InMemorySubscriptionBus()
        self._legacy: dict[str, ServerSession] = {}
        self._stdio_session: ServerSession | None = None
        with warnings.catch_warnings():
            # logging/setLevel is deprecated in 2026-07-28 but still served to older clients
            warnings.simplefilter("ignore")
            self.server = HubServer(
                "hub",
                version=__version__,
                instructions=INSTRUCTIONS,
                get_tool_input_schema=gateway.input_schema,
                on_list_tools=self.list_tools,
                on_call_tool=self.call_tool,
                on_list_prompts=self.list_prompts,
                on_get_prompt=self.get_prompt,
                on_list_resources=self.list_resources,
                on_list_resource_templates=self.list_resource_templates,
                on_read_resource=self.read_resource,
                on_subscribe_resource=self.subscribe_resource,
                on_unsubscribe_resource=self.unsubscribe_resource,
                on_completion=self.complete,
                on_set_logging_level=self.set_logging_level,
                on_subscriptions_listen=ListenHandler(self.bus),
            )
        events.subscribe(TOOLS_CHANGED, self._on_change)
        events.subscribe(PROMPTS_CHANGED, self._on_change)
        events.subscribe(RESOURCES_CHANGED, self._on_change)

    def http_app(self, *, allowed_hosts: list[str], allowed_origins: list[str], max_request_bytes: int,
                 auth: AuthenticationBackend) -> tuple[StreamableHTTPSessionManager, ASGIApp, FastToolCall]:
        """The session manager (its run() belongs in the host lifespan), the /mcp ASGI app, and the lean
        tools/call path the host puts ahead of its HTTP stack (authenticating with `auth`)."""
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=allowed_hosts, allowed_origins=allowed_origins
        )
        manager = StreamableHTTPSessionManager(
            app=self.server,
            stateless=False,  # session-era clients keep sessions (server-to-client requests need them)
            json_response=False,
            security_settings=security,
            max_request_body_size=max_request_bytes,
        )
        fast = FastToolCall(self.gateway, security, max_request_bytes, auth)
        return manager, WholeBody(StreamableHTTPASGIApp(manager), max_request_bytes), fast

    # ------------------------------------------------------------------------------ plumbing

    def _principal(self, ctx: ServerRequestContext[Any, Any]) -> Principal:
        request = ctx.request
        principal = principal_of(request) if isinstance(request, Request) else self.stdio_principal
        if principal is None:  # the HTTP middleware rejects these first; never serve without a principal
            raise MCPError(types.INVALID_REQUEST, "Authentication required")
        self._remember(ctx)
        return principal

    def _remember(self, ctx: ServerRequestContext[Any, Any]) -> None:
        """Keep session-era sessions so list_changed can reach their standalone stream."""
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return
        request = ctx.request
        if isinstance(request, Request):
            sid = request.headers.get("mcp-session-id")
            if sid and sid not in self._legacy:
                self._legacy[sid] = ctx.session
        elif request is None:
            self._stdio_session = ctx.session

    async def _on_change(self, event: Event) -> None:
        modern, legacy = {
            TOOLS_CHANGED: (ToolsListChanged(), "send_tool_list_changed"),
            PROMPTS_CHANGED: (PromptsListChanged(), "send_prompt_list_changed"),
            RESOURCES_CHANGED: (ResourcesListChanged(), "send_resource_list_changed"),
        }[event.topic]
        await self.bus.publish(modern)
        sessions = list(self._legacy.items())
        if self._stdio_session is not None:
            sessions.append(("stdio", self._stdio_session))
        for sid, session in sessions:
            try:
                await getattr(session, legacy)()
            except Exception:
                self._legacy.pop(sid, None)  # the session ended: forget it

    @staticmethod
    def _meta(params: Any) -> dict[str, Any] | None:
        meta = getattr(params, "meta", None)
        if meta is None:
            return None
        return meta if isinstance(meta, dict) else meta.model_dump(by_alias=True, exclude_none=True)

    # ------------------------------------------------------------------------------ tools

    async def list_tools(self, ctx: ServerRequestContext[Any, Any],
                         params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        principal = self._principal(ctx)
        try:
            tools, next_cursor = self.gateway.list_tools(principal, params.cursor if params else None)
        except InvalidCursor:
            raise MCPError(types.INVALID_PARAMS, "Invalid cursor") from None
        return types.ListToolsResult(tools=tools, next_cursor=next_cursor, ttl_ms=0, cache_scope="private")

    async def call_tool(self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> Any:
        principal = self._principal(ctx)
        try:
            return _as_ours(await self.gateway.call_tool(
                principal, params.name, params.arguments, relay=CallerRelay(ctx), meta=self._meta(params),
                input_responses=params.input_responses, request_state=params.request_state,
                trace_id=trace_id(ctx.request),
            ))
        except NotFound as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        except RateLimited as exc:
            raise rate_limited(exc) from None
        except Unavailable as exc:
            raise MCPError(types.INTERNAL_ERROR, str(exc)) from None

    # ------------------------------------------------------------------------------ prompts

    async def list_prompts(self, ctx: ServerRequestContext[Any, Any],
                           params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=self.gateway.list_prompts(self._principal(ctx)))

    async def get_prompt(self, ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams) -> Any:
        principal = self._principal(ctx)
        try:
            return await self.gateway.get_prompt(
                principal, params.name, params.arguments, relay=CallerRelay(ctx), meta=self._meta(params),
                input_responses=params.input_responses, request_state=params.request_state,
            )
        except NotFound as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        except Unavailable as exc:
            raise MCPError(types.INTERNAL_ERROR, str(exc)) from None

    # ------------------------------------------------------------------------------ resources

    async def list_resources(self, ctx: ServerRequestContext[Any, Any],
                             params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=self.gateway.list_resources(self._principal(ctx)))

    async def list_resource_templates(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=self.gateway.list_resource_templates(self._principal(ctx))
        )

    async def read_resource(self, ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams) -> Any:
        principal = self._principal(ctx)
        try:
            return await self.gateway.read_resource(
                principal, str(params.uri), relay=CallerRelay(ctx), meta=self._meta(params),
                input_responses=params.input_responses, request_state=params.request_state,
            )
        except NotFound as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        except Unavailable as exc:
            raise MCPError(types.INTERNAL_ERROR, str(exc)) from None

    async def _resource_call(self, ctx: ServerRequestContext[Any, Any], uri: str, method: str) -> types.EmptyResult:
        principal = self._principal(ctx)
        try:
            upstream = self.gateway.resource_upstream(principal, uri)

            async def op(client: Any) -> Any:
                if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    return None  # 2026-07-28 upstreams announce updates on their listen stream instead
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return await getattr(client.session, method)(uri)

            await self.gateway.on_upstream(principal, upstream, op, method)
        except NotFound as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        except Unavailable as exc:
            raise MCPError(types.INTERNAL_ERROR, str(exc)) from None
        return types.EmptyResult()

    async def subscribe_resource(self, ctx: ServerRequestContext[Any, Any],
                                 params: types.SubscribeRequestParams) -> types.EmptyResult:
        return await self._resource_call(ctx, str(params.uri), "subscribe_resource")

    async def unsubscribe_resource(self, ctx: ServerRequestContext[Any, Any],
                                   params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        return await self._resource_call(ctx, str(params.uri), "unsubscribe_resource")

    # ------------------------------------------------------------------------------ completion, logging

    async def complete(self, ctx: ServerRequestContext[Any, Any], params: types.CompleteRequestParams) -> Any:
        principal = self._principal(ctx)
        ref = params.ref
        try:
            if isinstance(ref, types.PromptReference):
                upstream, upstream_name = self.gateway.prompt_target(principal, ref.name)
                ref = types.PromptReference(type="ref/prompt", name=upstream_name)
            else:
                upstream = self.gateway.resource_upstream(principal, ref.uri)

            async def op(client: Any) -> Any:
                context = params.context.arguments if params.context else None
                argument = {"name": params.argument.name, "value": params.argument.value}
                return await client.session.complete(ref=ref, argument=argument, context_arguments=context)

            return await self.gateway.on_upstream(principal, upstream, op, "completion")
        except NotFound as exc:
            raise MCPError(types.INVALID_PARAMS, str(exc)) from None
        except Unavailable as exc:
            raise MCPError(types.INTERNAL_ERROR, str(exc)) from None

    async def set_logging_level(self, ctx: ServerRequestContext[Any, Any],
                                params: types.SetLevelRequestParams) -> types.EmptyResult:
        self._principal(ctx)
        return types.EmptyResult()

