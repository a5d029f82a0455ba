"""Principal: who is calling, resolved once per request and passed down the request path."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.identity.scopes import ADMIN as ADMIN_SCOPE
from hub.identity.scopes import SEARCH as SEARCH_SCOPE

__all__ = ["ADMIN_SCOPE", "ANONYMOUS_ID", "SEARCH_SCOPE", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    kind: str = "service"  # agent | service | user
    environment: str = "dev"
    scopes: frozenset[str] = field(default_factory=frozenset)
    # Which credential produced this principal ("admin-token", "anonymous", "oauth", "issuer:<iss>"): for audit.
    via: str = "token"
    client_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes


ANONYMOUS_ID = "anonymous"
