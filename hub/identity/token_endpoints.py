"""Revocation (RFC 7009) and introspection (RFC 7662) for the hub's own tokens."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import select

from hub.identity import passwords, scopes
from hub.identity.keys import ALG
from hub.identity.models import GrantRow, PrincipalRow, RefreshTokenRow, RevocationRow
from hub.identity.oauth_base import REFRESH_PREFIX, Client, aware, ctx, now

if TYPE_CHECKING:
    from hub.identity.oauth import HubAuthorizationServer


@dataclass
class _Token:
    kind: str  # access_token | refresh_token
    client_id: str
    principal_id: str
    scope: str
    expires_at: int
    jti: str | None = None
    family: str | None = None
    aud: Any = None
    active: bool = True

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id


def _query_token(server: HubAuthorizationServer, value: str, hint: str | None) -> _Token | None:
    c = ctx()
    if not isinstance(value, str) or not value or len(value) > 8192:
        return None
    if hint != "access_token" and value.startswith(REFRESH_PREFIX):
        row = c.session.get(RefreshTokenRow, passwords.digest(value))
        if row is None:
            return None
        revoked = c.session.get(RevocationRow, f"family:{row.family_id}") is not None
        return _Token("refresh_token", row.client_id, row.principal_id, row.scope,
                      int(aware(row.expires_at).timestamp()), family=row.family_id,
                      active=row.used_at is None and not revoked and aware(row.expires_at) > now())
    try:
        decoded = jwt.decode(value, server.tokens.keys.verification_keys(), algorithms=[ALG])
    except (JoseError, ValueError, TypeError):
        return None
    claims = decoded.claims
    if claims.get("iss") != server.issuer or decoded.header.get("typ") != "at+jwt":
        return None
    jti, family = claims.get("jti"), claims.get("fam")
    revoked = any(c.session.get(RevocationRow, key) is not None for key in (f"jti:{jti}", f"family:{family}"))
    principal = c.session.get(PrincipalRow, claims.get("sub"))
    active = (not revoked and claims.get("exp", 0) > time.time() and principal is not None
              and principal.status == "active" and claims.get("env") == server.environment)
    return _Token("access_token", claims.get("client_id", ""), claims.get("sub", ""), claims.get("scope", ""),
                  int(claims.get("exp", 0)), jti=jti, family=family, aud=claims.get("aud"), active=active)


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Token | None:
        return _query_token(self.server, token_string, token_type_hint)

    def revoke_token(self, token: _Token, request: OAuth2Request) -> None:
        c = ctx()
        if token.kind == "refresh_token" and token.family:
            # RFC 7009 2.1: revoking a refresh token revokes the access tokens of the same grant.
            self.server.revoke_family(token.family)
        elif token.jti:
            key = f"jti:{token.jti}"
            if c.session.get(RevocationRow, key) is None:
                c.session.add(RevocationRow(key=key, revoked_at=now(),
                                            expires_at=datetime.fromtimestamp(token.expires_at + 60, UTC)))
            c.revoked.append(key)


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Token | None:
        return _query_token(self.server, token_string, token_type_hint)

    def check_permission(self, token: _Token, client: Client, request: OAuth2Request) -> bool:
        # A client may introspect its own tokens; an admin principal's client may introspect any.
        if token.client_id == client.client_id:
            return True
        if client.principal is None:
            return False
        return ctx().session.scalar(select(GrantRow.id).where(
            GrantRow.principal_id == client.principal.id, GrantRow.scope == scopes.ADMIN,
            GrantRow.state == "approved")) is not None

    def introspect_token(self, token: _Token) -> dict[str, Any]:
        if not token.active:
            return {"active": False}
        body: dict[str, Any] = {"active": True, "client_id": token.client_id, "sub": token.principal_id,
                                "scope": token.scope, "exp": token.expires_at, "token_type": token.kind,
                                "iss": self.server.issuer}
        if token.aud:
            body["aud"] = token.aud
        return body

    def create_endpoint_response(self, request: OAuth2Request) -> tuple[int, Any, list]:
        client = self.authenticate_endpoint_client(request)
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        # RFC 7662: an unknown, expired or foreign token is simply inactive.
        if token is None or not self.check_permission(token, client, request):
            return 200, {"active": False}, [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        return 200, self.introspect_token(token), [("Content-Type", "application/json"),
                                                    ("Cache-Control", "no-store")]
