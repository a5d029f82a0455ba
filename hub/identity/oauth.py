"""The OAuth 2.1 authorization server, on authlib's grant and endpoint framework.

authlib's server is synchronous; its callbacks (query_client, save codes, rotate refresh tokens) run
inside `IdentityStore.run_sync`, i.e. one write transaction on the hub's own async database, through
SQLAlchemy's sync-over-async session. Anything needing the network (Client ID Metadata Documents) is
fetched before the synchronous part starts. The per-request state lives in a context variable
(`hub.identity.oauth_base.ctx`); the grants are in `hub.identity.grants`, revocation and introspection
in `hub.identity.token_endpoints`.

Tightened over authlib's defaults, as OAuth 2.1 and the MCP authorization spec require:
- PKCE is required of every client for authorization_code, and only S256 is accepted;
- redirect URIs match exactly; an authorization code is single-use, and presenting it again revokes
  every token it produced;
- refresh tokens rotate on every use; presenting a rotated one revokes the whole token family;
- `resource` (RFC 8707) binds the token audience to one of the hub's resources;
- authorization responses carry `iss` (RFC 9207).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidScopeError, OAuth2Error, OAuth2Request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.identity import passwords, scopes
from hub.identity.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    PrivateKeyJWT,
    RefreshTokenGrant,
    S256Only,
)
from hub.identity.models import ClientRow, GrantRow, PrincipalRow, RefreshTokenRow, RevocationRow
from hub.identity.oauth_base import (
    REFRESH_PREFIX,
    Client,
    Ctx,
    HubRequest,
    InvalidTargetError,
    Result,
    _current,
    ctx,
    now,
)
from hub.identity.token_endpoints import Introspection, Revocation
from hub.identity.tokens import TokenIssuer

T = TypeVar("T")

# authlib logs every issued token (access and refresh) at DEBUG ("Issue token %r to %r"): keep its
# loggers at INFO whatever the hub's log level, so no token ever reaches a log.
logging.getLogger("authlib").setLevel(logging.INFO)


class HubAuthorizationServer(AuthorizationServer):
    def __init__(self, *, issuer: str, environment: str, issuer_tokens: TokenIssuer, resources: frozenset[str],
                 default_resource: str, token_endpoint: str, code_ttl_s: int, refresh_ttl_s: int) -> None:
        super().__init__()
        self.issuer, self.environment, self.tokens = issuer, environment, issuer_tokens
        self.resources, self.default_resource = resources, default_resource
        self.token_endpoint, self.code_ttl_s, self.refresh_ttl_s = token_endpoint, code_ttl_s, refresh_ttl_s
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(AuthorizationCodeGrant, [S256Only()])
        self.register_grant(RefreshTokenGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)
        self.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT(self))

    # authlib framework hooks
    def query_client(self, client_id: str) -> Client | None:
        if not isinstance(client_id, str) or not client_id or len(client_id) > 300 or "\x00" in client_id:
            return None
        c = ctx()
        if client_id in c.documents:
            return Client(client_id, c.documents[client_id], source="cimd")
        row = c.session.get(ClientRow, client_id)
        if row is None:
            return None
        principal = c.session.get(PrincipalRow, row.principal_id) if row.principal_id else None
        return Client(row.client_id, dict(row.metadata_), row.secret_hash, principal, row.source)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        pass  # access tokens are self-contained; refresh tokens are stored when minted (issue())

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def create_oauth2_request(self, request: HubRequest) -> HubRequest:
        return request

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> Result:
        result = Result(status, body, dict(headers))
        # Only authorization responses redirect; RFC 9207: each one, success or error, names the issuer.
        if result.location and "iss" not in parse_qs(urlsplit(result.location).query):
            result.location = add_params_to_uri(result.location, {"iss": self.issuer})
        return result

    def run(self, session: Session, documents: dict[str, dict[str, Any]], request: HubRequest,
            action: Callable[[HubAuthorizationServer, HubRequest], T]) -> tuple[T, list[str]]:
        """Run an authlib action with its callbacks on `session`: (its result, revocation keys written)."""
        c = Ctx(session=session, documents=documents)
        token = _current.set(c)
        try:
            return action(self, request), c.revoked
        finally:
            _current.reset(token)

    def validate_requested_scope(self, scope: str | None) -> None:
        try:
            scopes.parse(scope)
        except scopes.ScopeError as exc:
            raise InvalidScopeError(description=str(exc)) from exc

    # token issuance, shared by every grant
    def check_principal(self, principal: PrincipalRow | None, error: type[OAuth2Error] = InvalidClientError
                        ) -> PrincipalRow:
        """The principal tokens are issued to must be active and of this hub's environment.

        `invalid_client` when it is the client's own principal (client credentials); `invalid_grant`
        when it is the user behind a code or refresh token (the client itself authenticated fine).
        """
        if principal is None:
            raise error(description="no principal for this grant")
        if principal.status != "active":
            raise error(description="principal suspended")
        if principal.environment != self.environment:
            raise error(description=f"credential belongs to {principal.environment}; this hub is {self.environment}")
        return principal

    def resolve_resource(self, request: OAuth2Request) -> str:
        values = request.payload.datalist.get("resource", [])
        if len(values) > 1:
            raise InvalidTargetError(description="one resource per token")
        if not values:
            return self.default_resource
        resource = values[0].rstrip("/")
        if resource not in self.resources:
            known = ", ".join(sorted(self.resources))
            raise InvalidTargetError(description=f"unknown resource; expected one of {known}")
        return resource

    def issue(self, principal: PrincipalRow, client: Client, scope: str | None,
              *, resource: str, family: str, bound: bool | None, refresh: bool) -> dict[str, Any]:
        c = ctx()
        requested = scopes.parse(scope)
        granted = set(c.session.scalars(select(GrantRow.scope).where(
            GrantRow.principal_id == principal.id, GrantRow.state == "approved")).all())
        asked = [s for s in requested if scopes.is_permission(s)]
        if bound is None:
            bound = bool(asked)
        perms = [s for s in asked if s in granted] if bound else sorted(granted)
        issued = perms + [s for s in requested if s in scopes.SURFACE_SCOPES]
        access, claims = self.tokens.mint(subject=principal.id, client_id=client.client_id, scopes=issued,
                                          audience=resource, family=family, bound=bound)
        token: dict[str, Any] = {"token_type": "Bearer", "access_token": access,
                                 "expires_in": claims["exp"] - claims["iat"], "scope": " ".join(issued)}
        if refresh:
            value = passwords.new_secret(REFRESH_PREFIX)
            c.session.add(RefreshTokenRow(
                token_hash=passwords.digest(value), family_id=family, client_id=client.client_id,
                principal_id=principal.id, scope=" ".join(requested), resource=resource, bound=bound,
                expires_at=now() + timedelta(seconds=self.refresh_ttl_s), created_at=now(),
            ))
            token["refresh_token"] = value
        return token

    def revoke_family(self, family: str) -> None:
        c = ctx()
        key = f"family:{family}"
        if c.session.get(RevocationRow, key) is None:
            c.session.add(RevocationRow(key=key, revoked_at=now(),
                                        expires_at=now() + timedelta(seconds=self.refresh_ttl_s)))
        c.session.execute(update(RefreshTokenRow).where(RefreshTokenRow.family_id == family,
                                                        RefreshTokenRow.used_at.is_(None)).values(used_at=now()))
        c.revoked.append(key)
