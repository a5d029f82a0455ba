"""The hub's own meta-tools (`hub.<name>`), served beside the federated tools and decided by the gateway.

`hub.request_access` lets a principal ask for scopes from inside an MCP session; an admin decides
(REST or CLI), and the caller's tool list changes once they do.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class MetaTool:
    tool: types.Tool
    visible: Callable[[Principal], bool]
    call: Callable[[Principal, dict[str, Any]], Awaitable[types.CallToolResult]]


class MetaTools:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.tools: dict[str, MetaTool] = {
            "hub.request_access": MetaTool(REQUEST_ACCESS, registered, self.request_access),
        }

    def get(self, name: str) -> MetaTool | None:
        return self.tools.get(name)

    def listed(self, principal: Principal) -> list[tuple[str, types.Tool]]:
        return [(name, meta.tool) for name, meta in self.tools.items() if meta.visible(principal)]

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
