"""Bearer credentials → Principal, for every protected surface (/mcp, /api/v1, /agents).

The token is read only from the `Authorization` header; a request that carries one in the query string
is refused. Failures become 401 with an RFC 6750 / RFC 9728 challenge naming the resource metadata and
the scope to ask for; an identity store too stale to decide gives 503 (fail closed).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from hub.identity.directory import Unavailable
from hub.identity.principal import Principal
from hub.identity.service import Identity
from hub.identity.tokens import InvalidToken

ADMIN_TOKEN_FILE = "admin-token"
SURFACE_SCOPE = {"/mcp": "mcp"}


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


class Rejected(AuthenticationError):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


def bearer_token(conn: HTTPConnection) -> str | None:
    """The token of an `Authorization: Bearer` header; None when absent, "" when malformed."""
    value = conn.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""
    return token.strip()


def challenge(identity: Identity | None, path: str, error: str | None = None, description: str | None = None,
              scope: str | None = None) -> str:
    """An RFC 6750 challenge with the RFC 9728 resource metadata URL and the scope to request."""
    parts = ['Bearer realm="hub"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append('error_description="{}"'.format(description.replace('"', "'")))
    if identity is not None:
        resource = identity.resource_for(path)
        if resource:
            suffix = resource[len(identity.issuer):]
            parts.append(f'resource_metadata="{identity.issuer}/.well-known/oauth-protected-resource{suffix}"')
            wanted = scope or SURFACE_SCOPE.get(suffix)
            if wanted:
                parts.append(f'scope="{wanted}"')
    return ", ".join(parts)


class HubAuthBackend(AuthenticationBackend):
    """Starlette backend: sets request.user to a HubUser on protected paths, or rejects the request."""

    def __init__(self) -> None:
        self.identity: Identity | None = None  # set when the hub has started

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, HubUser] | None:
        identity = self.identity
        if identity is None:
            return None
        user = conn.scope.get("user")
        if isinstance(user, HubUser) and "auth" in conn.scope:
            # Set by this backend on the lean tools/call path, which then handed the request down the stack.
            return conn.scope["auth"], user
        resource = identity.resource_for(conn.scope["path"])  # the raw path: building conn.url costs more
        if resource is None:
            return None  # public routes: metadata, OAuth endpoints, health
        if conn.scope.get("query_string") and "access_token" in conn.query_params:
            raise Rejected(400, "invalid_request", "tokens are accepted only in the Authorization header")
        token = bearer_token(conn)
        if token is None:
            principal = identity.anonymous
            if principal is None:
                return None
            token = ""
        elif not token:
            raise Rejected(401, "invalid_token", "malformed Authorization header; expected Bearer <token>")
        else:
            try:
                principal = await identity.authenticate(token, resource)
            except InvalidToken as exc:
                raise Rejected(401, "invalid_token", str(exc)) from None
            except Unavailable as exc:
                raise Rejected(503, "temporarily_unavailable", str(exc)) from None
        access = AccessToken(token=token, client_id=principal.client_id or principal.id,
                             scopes=sorted(principal.scopes))
        return AuthCredentials(sorted(principal.scopes)), HubUser(principal, access)


def rejection(backend: HubAuthBackend) -> object:
    def on_error(conn: HTTPConnection, exc: Exception) -> Response:
        status, error, description = 401, "invalid_token", "invalid credentials"
        if isinstance(exc, Rejected):
            status, error, description = exc.status, exc.error, exc.description
        headers = {"WWW-Authenticate": challenge(backend.identity, conn.url.path, error, description)}
        if status == 503:
            headers = {"Retry-After": "2"}
        if conn.url.path.startswith("/api/"):  # the REST surface speaks RFC 9457 problem+json
            title = {400: "Bad Request", 401: "Unauthorized"}.get(status, "Service Unavailable")
            return JSONResponse({"type": "about:blank", "title": title, "status": status, "detail": description,
                                 "error": error}, status_code=status, headers=headers,
                                media_type="application/problem+json")
        return JSONResponse({"error": error, "error_description": description}, status_code=status,
                            headers=headers)

    return on_error


def principal_of(conn: HTTPConnection) -> Principal | None:
    user = conn.scope.get("user")
    return user.principal if isinstance(user, HubUser) else None
