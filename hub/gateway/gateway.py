"""The gateway: the single point where every list and call is decided before it reaches an adapter.

Surfaces call the gateway; the gateway consults the caller's Principal and the catalog and calls the
upstream through its adapter. Deny by default: what a principal may not use is indistinguishable
from what does not exist.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from typing import Any

import mcp.types as types

from hub.adapters.mcp import Relay, UpstreamError
from hub.catalog.entities import ToolRecord, ToolState
from hub.catalog.sync import Federation
from hub.gateway.policy import may_use_tool, may_use_upstream
from hub.gateway.validation import validate_arguments
from hub.identity.principal import Principal

log = logging.getLogger("hub.gateway")


class NotFound(Exception):
    """Unknown, or not visible to this caller: the two are deliberately the same answer."""


class InvalidCursor(Exception):
    pass


class Unavailable(Exception):
    """The target exists but cannot be reached now; the message is safe to show."""


def encode_cursor(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("invalid cursor") from None


class Gateway:
    def __init__(self, federation: Federation, *, page_size: int = 100) -> None:
        self.federation = federation
        self.page_size = page_size

    # ------------------------------------------------------------------------------ tools

    def _visible(self, principal: Principal, record: ToolRecord) -> bool:
        return record.state == ToolState.approved and may_use_tool(principal, record.name, record.upstream)

    def visible_tools(self, principal: Principal) -> list[ToolRecord]:
        tools = self.federation.tools
        return [tools[name] for name in sorted(tools) if self._visible(principal, tools[name])]

    def list_tools(
        self, principal: Principal, cursor: str | None = None, limit: int | None = None
    ) -> tuple[list[types.Tool], str | None]:
        """One page of the caller's tools, in name order; the cursor is opaque (the last name seen)."""
        after = decode_cursor(cursor) if cursor else None
        size = max(1, min(limit or self.page_size, self.page_size))
        names = [r.name for r in self.visible_tools(principal) if after is None or r.name > after]
        page = names[:size]
        next_cursor = encode_cursor(page[-1]) if len(names) > size else None
        defs = self.federation.tool_defs
        return [defs[n] for n in page], next_cursor

    def tool(self, principal: Principal, name: str) -> ToolRecord:
        record = self.federation.tools.get(name)
        if record is None or not self._visible(principal, record):
            raise NotFound(f"Unknown tool: {name}")
        return record

    def can_call_directly(self, record: ToolRecord) -> bool:
        """Whether a stateless call of this tool can skip the SDK machinery end to end."""
        client = self.federation.client(record.upstream)
        return client is not None and client.can_call_directly(record.input_schema)

    def input_schema(self, name: str) -> dict[str, Any] | None:
        record = self.federation.tools.get(name)
        return record.input_schema if record is not None else None

    async def call_tool(
        self,
        principal: Principal,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        relay: Relay | None = None,
        meta: dict[str, Any] | None = None,
        input_responses: dict[str, Any] | None = None,
        request_state: str | None = None,
    ) -> types.CallToolResult | types.InputRequiredResult:
        record = self.tool(principal, name)
        problem = validate_arguments(record.input_schema, arguments or {})
        if problem is not None:
            return _error_result(f"Invalid arguments for {name}: {problem}")
        client = self.federation.client(record.upstream)
        if client is None:
            return _error_result(f"Tool {name} is unavailable: its upstream is not connected")
        started = time.perf_counter()
        try:
            result = await client.call_tool(
                record.upstream_tool, arguments, relay=relay, meta=meta,
                input_responses=input_responses, request_state=request_state,
                timeout=client.spec.timeout_s, input_schema=record.input_schema,
            )
        except UpstreamError as exc:
            log.info("call %s by %s failed: %s", name, principal.id, exc)
            return _error_result(str(exc))
        log.debug("call %s by %s took %.1f ms", name, principal.id, (time.perf_counter() - started) * 1000)
        return result

    # ------------------------------------------------------------------------------ prompts

    def list_prompts(self, principal: Principal) -> list[types.Prompt]:
        prompts = self.federation.prompts
        return [
            prompts[n].prompt for n in sorted(prompts) if may_use_upstream(principal, prompts[n].upstream)
        ]

    async def get_prompt(
        self, principal: Principal, name: str, arguments: dict[str, str] | None, *, relay: Relay | None = None,
        meta: dict[str, Any] | None = None, input_responses: dict[str, Any] | None = None,
        request_state: str | None = None,
    ) -> types.GetPromptResult | types.InputRequiredResult:
        entry = self.federation.prompts.get(name)
        if entry is None or not may_use_upstream(principal, entry.upstream):
            raise NotFound(f"Unknown prompt: {name}")
        client = self._client(entry.upstream)
        try:
            return await client.get_prompt(entry.upstream_name, arguments, relay=relay, meta=meta,
                                           input_responses=input_responses, request_state=request_state)
        except UpstreamError as exc:
            raise Unavailable(str(exc)) from None

    # ------------------------------------------------------------------------------ resources

    def list_resources(self, principal: Principal) -> list[types.Resource]:
        resources = self.federation.resources
        return [resources[u][1] for u in sorted(resources) if may_use_upstream(principal, resources[u][0])]

    def list_resource_templates(self, principal: Principal) -> list[types.ResourceTemplate]:
        return [t.template for t in self.federation.templates if may_use_upstream(principal, t.upstream)]

    def prompt_target(self, principal: Principal, name: str) -> tuple[str, str]:
        """(upstream, the upstream's own prompt name) for a prompt the caller may use."""
        entry = self.federation.prompts.get(name)
        if entry is None or not may_use_upstream(principal, entry.upstream):
            raise NotFound(f"Unknown prompt: {name}")
        return entry.upstream, entry.upstream_name

    def resource_upstream(self, principal: Principal, uri: str) -> str:
        upstream = self.federation.resource_upstream(uri)
        if upstream is None or not may_use_upstream(principal, upstream):
            raise NotFound(f"Unknown resource: {uri}")
        return upstream

    async def read_resource(
        self, principal: Principal, uri: str, *, relay: Relay | None = None, meta: dict[str, Any] | None = None,
        input_responses: dict[str, Any] | None = None, request_state: str | None = None,
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        client = self._client(self.resource_upstream(principal, uri))
        try:
            return await client.read_resource(uri, relay=relay, meta=meta, input_responses=input_responses,
                                              request_state=request_state)
        except UpstreamError as exc:
            raise Unavailable(str(exc)) from None

    async def on_upstream(self, principal: Principal, upstream: str, operation: Any, what: str) -> Any:
        """Another request (completion, subscribe) routed to an upstream the caller may use."""
        if not may_use_upstream(principal, upstream):
            raise NotFound(f"Unknown target: {what}")
        try:
            return await self._client(upstream).session_call(operation, what)
        except UpstreamError as exc:
            raise Unavailable(str(exc)) from None

    def _client(self, upstream: str) -> Any:
        client = self.federation.client(upstream)
        if client is None:
            raise Unavailable(f"upstream {upstream!r} is not connected")
        return client


def _error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)
