"""Bearer credentials → Principal.

Until the OAuth issuer lands, two credentials exist: the bootstrap admin token, and (only when an
operator configures grants for it) the anonymous principal used when no credential is sent. The
`TokenVerifier` seam is where issued access tokens plug in.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from pathlib import Path

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.authentication import AuthCredentials, AuthenticationBackend
from starlette.requests import HTTPConnection

from hub.identity.principal import ADMIN_SCOPE, ANONYMOUS_ID, Principal

log = logging.getLogger("hub.identity")

ADMIN_TOKEN_FILE = "admin-token"


def load_or_create_admin_token(data_dir: Path, configured: str | None) -> tuple[str, Path | None, bool]:
    """The bootstrap admin token: configured, or stored under the data dir, or generated there.

    Returns (token, file it lives in or None, whether it was generated now).
    """
    if configured:
        return configured, None, False
    path = data_dir / ADMIN_TOKEN_FILE
    if path.exists():
        return path.read_text().strip(), path, False
    data_dir.mkdir(parents=True, exist_ok=True)
    token = "hub_admin_" + secrets.token_urlsafe(32)
    # Created 0600 before anything is written: the token never sits in a world-readable file.
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token, path, True


class HubUser(AuthenticatedUser):
    """What Starlette's request.user holds on the hub: the SDK's user (session binding) + our Principal."""

    def __init__(self, principal: Principal, access_token: AccessToken) -> None:
        super().__init__(access_token)
        self.principal = principal


class Credentials:
    """Resolves a bearer token to a Principal. Constant-time comparison; tokens are never logged."""

    def __init__(self, admin_token: str, anonymous_scopes: list[str], environment: str = "dev") -> None:
        self._admin_token = admin_token.encode()
        self._environment = environment
        self.admin = Principal(
            id="admin", name="bootstrap admin", kind="user", environment=environment,
            scopes=frozenset({ADMIN_SCOPE}), via="admin-token",
        )
        self.anonymous: Principal | None = None
        if anonymous_scopes:
            self.anonymous = Principal(
                id=ANONYMOUS_ID, name="anonymous", kind="user", environment=environment,
                scopes=frozenset(anonymous_scopes), via="anonymous",
            )

    def verify(self, token: str) -> Principal | None:
        if hmac.compare_digest(token.encode(), self._admin_token):
            return self.admin
        return None


def bearer_token(conn: HTTPConnection) -> str | None:
    """The token of an `Authorization: Bearer` header; None when absent. Never read from the query string."""
    value = conn.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""  # present but malformed: an invalid credential, not an absent one
    return token.strip()


class HubAuthBackend(AuthenticationBackend):
    """Starlette backend: sets request.user to a HubUser, or leaves it unauthenticated."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, HubUser] | None:
        token = bearer_token(conn)
        if token is None:
            principal = self.credentials.anonymous
            raw = ""
        else:
            principal = self.credentials.verify(token) if token else None
            raw = token
        if principal is None:
            return None
        access = AccessToken(token=raw, client_id=principal.id, scopes=sorted(principal.scopes))
        return AuthCredentials(sorted(principal.scopes)), HubUser(principal, access)


def principal_of(conn: HTTPConnection) -> Principal | None:
    user = conn.scope.get("user")
    return user.principal if isinstance(user, HubUser) else None
