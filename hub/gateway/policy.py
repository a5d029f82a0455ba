"""Who may use what. Deny by default: every grant is a scope the principal holds.

Scopes: `tool:<qualified name>` and `upstream:<name>` (every tool, prompt and resource of an upstream),
`agent:<id>` (an A2A agent: its card, its proxy and its skills as tools), `admin` (everything),
and `*` (everything; only for an operator's anonymous single-user setup).
"""

from __future__ import annotations

from hub.identity.principal import ADMIN_SCOPE, SEARCH_SCOPE, Principal


def tool_grants(qualified_name: str, upstream: str) -> tuple[str, str]:
    """The scopes that each let a principal use a tool (the search index filters on these)."""
    return f"tool:{qualified_name}", f"upstream:{upstream}"


def unrestricted(principal: Principal) -> bool:
    return ADMIN_SCOPE in principal.scopes or "*" in principal.scopes


def may_use_tool(principal: Principal, qualified_name: str, upstream: str) -> bool:
    s = principal.scopes  # tool_grants, spelled out: this runs for every tool of every list
    return bool(ADMIN_SCOPE in s or "*" in s or f"tool:{qualified_name}" in s or f"upstream:{upstream}" in s)


def may_search(principal: Principal) -> bool:
    """Discovery needs the `search` scope; results are still only what the caller may use."""
    return unrestricted(principal) or SEARCH_SCOPE in principal.scopes


def search_grants(principal: Principal) -> frozenset[str] | None:
    """The grants a search filters on: None (no filter) for unrestricted principals."""
    return None if unrestricted(principal) else principal.scopes


def agent_grants(agent_id: str) -> tuple[str]:
    """The scope that lets a principal see and talk to an agent (and call its skills as tools)."""
    return (f"agent:{agent_id}",)


def may_use_agent(principal: Principal, agent_id: str) -> bool:
    return unrestricted(principal) or f"agent:{agent_id}" in principal.scopes


def may_use_upstream(principal: Principal, upstream: str) -> bool:
    """Prompts and resources are granted per upstream (they have no finer scope yet)."""
    return unrestricted(principal) or f"upstream:{upstream}" in principal.scopes
