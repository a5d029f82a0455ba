"""Who may use what. Deny by default: every grant is a scope the principal holds.

Scopes: `tool:<qualified name>` and `upstream:<name>` (every tool, prompt and resource of an upstream),
`admin` (everything), and `*` (everything; only for an operator's anonymous single-user setup).
"""

from __future__ import annotations

from hub.identity.principal import ADMIN_SCOPE, Principal


def may_use_tool(principal: Principal, qualified_name: str, upstream: str) -> bool:
    s = principal.scopes
    return bool(ADMIN_SCOPE in s or "*" in s or f"tool:{qualified_name}" in s or f"upstream:{upstream}" in s)


def may_use_upstream(principal: Principal, upstream: str) -> bool:
    """Prompts and resources are granted per upstream (they have no finer scope yet)."""
    s = principal.scopes
    return bool(ADMIN_SCOPE in s or "*" in s or f"upstream:{upstream}" in s)
