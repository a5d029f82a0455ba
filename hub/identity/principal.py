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


ANONYMOUS_ID = "anonymous"
