"""The hub's own meta-tools (`hub.<name>`), served beside the federated tools and decided by the gateway.

`hub.request_access` lets a principal ask for scopes from inside an MCP session; an admin decides
(REST or CLI), and the caller's tool list changes once they do. `hub.find_tools` and `hub.find_agents`
search the catalog by intent (only what the caller may use). In discovery mode, for catalogs too large to
list, tools/list shows only these meta-tools, and `hub.call_tool` calls a found tool for clients that
cannot refresh their tool list.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mcp.types as types

from hub.catalog.store import Conflict
from hub.identity.principal import Principal
from hub.identity.scopes import ScopeError, parse

if TYPE_CHECKING:
    from hub.gateway.gateway import Gateway

REGISTERED_VIA = ("oauth", "issuer:")  # principals with a record of their own (who can hold grants)


def registered(principal: Principal) -> bool:
    return principal.via.startswith(REGISTERED_VIA)


CALL_TOOL = "hub.call_tool"


@dataclass(frozen=True)
class MetaTool:
    tool: types.Tool
    visible: Callable[[Principal], bool]
    call: Callable[[Principal, dict[str, Any]], Awaitable[types.CallToolResult]]
    discovery_only: bool = False  # listed only in discovery mode (callable whenever visible)
    takes_relay: bool = False  # call(principal, arguments, relay): it reports progress to the caller


class MetaTools:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.tools: dict[str, MetaTool] = {
            "hub.request_access": MetaTool(REQUEST_ACCESS, registered, self.request_access),
            "hub.find_tools": MetaTool(FIND_TOOLS, self.can_search, self.find_tools),
            "hub.find_agents": MetaTool(FIND_AGENTS, self.can_search, self.find_agents),
            # Unwrapped by the gateway before any decision: the inner call is decided and audited as itself.
            CALL_TOOL: MetaTool(CALL_TOOL_DEF, self.can_call_through, _never, discovery_only=True),
        }

    def get(self, name: str) -> MetaTool | None:
        return self.tools.get(name)

    def listed(self, principal: Principal, *, discovery: bool = False) -> list[tuple[str, types.Tool]]:
        return [(name, meta.tool) for name, meta in self.tools.items()
                if meta.visible(principal) and (discovery or not meta.discovery_only)]

    def can_search(self, principal: Principal) -> bool:
        return self.gateway.discovery.can_search(principal)

    def can_call_through(self, principal: Principal) -> bool:
        return self.gateway.discovery.mode != "off" and self.can_search(principal)

    async def find_tools(self, principal: Principal, arguments: dict[str, Any]) -> types.CallToolResult:
        return await self._find(principal, arguments, ("tool",), "tools")

    async def find_agents(self, principal: Principal, arguments: dict[str, Any]) -> types.CallToolResult:
        return await self._find(principal, arguments, ("agent", "skill"), "agents")

    async def _find(self, principal: Principal, arguments: dict[str, Any], kinds: tuple[str, ...],
                    key: str) -> types.CallToolResult:
        from hub.gateway.gateway import error_result
        from hub.search.search import SearchUnavailable

        try:
            results = await self.gateway.discovery.find(principal, arguments["query"], kinds=kinds,
                                              limit=arguments.get("limit", 10))
        except SearchUnavailable as exc:
            return error_result(str(exc))
        return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps({key: results}))],
                                    structured_content={key: results})

    async def request_access(self, principal: Principal, arguments: dict[str, Any]) -> types.CallToolResult:
        from hub.gateway.gateway import error_result

        try:
            scopes = parse(arguments["scopes"])
        except ScopeError as exc:
            return error_result(str(exc))
        missing = [s for s in scopes if s not in principal.scopes]
        if not missing:
            return error_result("You already hold every scope you asked for.")
        try:
            request = await self.gateway.access.create(principal.id, missing, arguments["reason"].strip())
        except Conflict as exc:
            return error_result(str(exc))
        await self.gateway.audit_decision(principal.id, "access_request.create", request.id, "requested",
                                          detail={"scopes": missing})
        text = (f"Access request {request.id} for {', '.join(missing)} is waiting for an administrator. "
                "Your tool list will change once it is approved.")
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                    structured_content={"id": request.id, "state": request.state, "scopes": missing})


async def _never(principal: Principal, arguments: dict[str, Any]) -> types.CallToolResult:
    raise AssertionError("hub.call_tool is unwrapped by the gateway")


_QUERY = {
    "query": {"type": "string", "minLength": 1, "maxLength": 1000,
              "description": "what you want to do, in plain words"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
}

FIND_TOOLS = types.Tool(
    name="hub.find_tools",
    title="Find tools",
    description=(
        "Search the tools you may use by what you want to do (e.g. \"convert a PDF to text\"). Returns the "
        "best matches with their names, descriptions and input schemas, ready to call."
    ),
    input_schema={"type": "object", "properties": _QUERY, "required": ["query"], "additionalProperties": False},
    output_schema={
        "type": "object",
        "properties": {"tools": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "title": {"type": ["string", "null"]},
            "description": {"type": ["string", "null"]}, "inputSchema": {"type": "object"},
            "score": {"type": "number"}}, "required": ["name", "inputSchema", "score"]}}},
        "required": ["tools"],
    },
    annotations=types.ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                      open_world_hint=False),
)

FIND_AGENTS = types.Tool(
    name="hub.find_agents",
    title="Find agents",
    description=(
        "Search the agents you may talk to by what you need done (e.g. \"an agent that negotiates with "
        "vendors\"). Returns the best matching agents and skills with their ids and descriptions."
    ),
    input_schema={"type": "object", "properties": _QUERY, "required": ["query"], "additionalProperties": False},
    output_schema={
        "type": "object",
        "properties": {"agents": {"type": "array", "items": {"type": "object"}}},
        "required": ["agents"],
    },
    annotations=types.ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                      open_world_hint=False),
)

CALL_TOOL_DEF = types.Tool(
    name=CALL_TOOL,
    title="Call a tool",
    description=(
        "Call a tool found with hub.find_tools by its name, with arguments that match its input schema. "
        "For clients that cannot refresh their tool list."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 300, "description": "the tool's name"},
            "arguments": {"type": "object", "description": "the tool's arguments"},
        },
        "required": ["name"],
        "additionalProperties": False,
    },
    annotations=types.ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False,
                                      open_world_hint=True),
)

REQUEST_ACCESS = types.Tool(
    name="hub.request_access",
    title="Request access",
    description=(
        "Ask the hub's administrators for access to more tools, upstreams or agents. Give the scopes "
        "(tool:<tool name>, upstream:<upstream name>, agent:<agent id>, search) and say why you need them; "
        "an administrator approves or denies the request."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "scopes": {"type": "array", "items": {"type": "string", "maxLength": 300}, "minItems": 1,
                       "maxItems": 50, "description": "e.g. [\"tool:files.read\"]"},
            "reason": {"type": "string", "minLength": 3, "maxLength": 2000,
                       "description": "why you need this access"},
        },
        "required": ["scopes", "reason"],
        "additionalProperties": False,
    },
    output_schema={
        "type": "object",
        "properties": {"id": {"type": "string"}, "state": {"type": "string"},
                       "scopes": {"type": "array", "items": {"type": "string"}}},
        "required": ["id", "state"],
    },
    annotations=types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                                      open_world_hint=False),
)
