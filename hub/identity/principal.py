"""Principal: who is calling, resolved once per request and passed down the request path."""

from __future__ import annotations

from dataclasses import dataclass, field

ADMIN_SCOPE = "admin"
SEARCH_SCOPE = "search"


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    kind: str = "service"  # agent | service | user
    environment: str = "dev"
    scopes: frozenset[str] = field(default_factory=frozenset)
    # Which credential produced this principal ("admin-token", "anonymous", "oauth", ...): for audit.
    via: str = "token"

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes

    def may_use_tool(self, qualified_name: str, upstream: str) -> bool:
        """Deny by default: a tool needs `tool:<name>`, `upstream:<name>`, `*` or admin."""
        s = self.scopes
        return bool(
            ADMIN_SCOPE in s or "*" in s or f"tool:{qualified_name}" in s or f"upstream:{upstream}" in s
        )

    def may_use_upstream(self, upstream: str) -> bool:
        """Prompts and resources are granted per upstream (they have no finer scope yet)."""
        s = self.scopes
        return bool(ADMIN_SCOPE in s or "*" in s or f"upstream:{upstream}" in s)


ANONYMOUS_ID = "anonymous"
