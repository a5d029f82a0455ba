"""The grants the hub's authorization server answers, and client authentication by signed assertion.

Each grant validates with authlib and then issues through `HubAuthorizationServer.issue`, so every
token, whatever the grant, is minted the same way.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import update

from hub.identity import passwords
from hub.identity.models import AuthCodeRow, PrincipalRow, RefreshTokenRow, RevocationRow, SeenAssertionRow
from hub.identity.oauth_base import ASSERTION_ALGORITHMS, Client, InvalidTargetError, aware, ctx, now

if TYPE_CHECKING:
    from hub.identity.oauth import HubAuthorizationServer


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def generate_token(self, user: Any = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        server: HubAuthorizationServer = self.server
        principal = server.check_principal(self.client.principal)
        resource = server.resolve_resource(self.request)
        return server.issue(principal, self.client, scope, resource=resource,
                            family=secrets.token_hex(12), bound=None, refresh=False)


class S256Only(CodeChallenge):
    """PKCE for every client (confidential ones too), S256 only: `plain` and a missing challenge are refused."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(description="PKCE is required: send code_challenge (method S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError(description="code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError(description="Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)

    def get_authorization_code_challenge(self, authorization_code: AuthCodeRow) -> str:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: AuthCodeRow) -> str:
        return authorization_code.code_challenge_method


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"]

    def validate_authorization_request(self) -> str:
        redirect_uri = super().validate_authorization_request()
        # The redirect URI is required (exact match, never defaulted) and the resource must be ours.
        if not self.request.payload.redirect_uri:
            raise InvalidRequestError(description="redirect_uri is required")
        try:
            self.server.resolve_resource(self.request)
        except OAuth2Error as error:
            error.redirect_uri = redirect_uri
            raise
        return redirect_uri

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        c = ctx()
        c.session.add(AuthCodeRow(
            code_hash=passwords.digest(code), client_id=request.client.client_id, principal_id=request.user.id,
            redirect_uri=data.get("redirect_uri", ""), scope=data.get("scope") or "",
            resource=self.server.resolve_resource(request), code_challenge=data["code_challenge"],
            code_challenge_method=data.get("code_challenge_method", "S256"), family_id=secrets.token_hex(12),
            expires_at=now() + timedelta(seconds=self.server.code_ttl_s),
        ))

    def query_authorization_code(self, code: str, client: Client) -> AuthCodeRow | None:
        c = ctx()
        row = c.session.get(AuthCodeRow, passwords.digest(code))
        if row is None or row.client_id != client.client_id:
            return None
        if row.used_at is not None:
            # Reuse: someone has a copy of the code. Revoke everything it produced.
            self.server.revoke_family(row.family_id)
            return None
        if aware(row.expires_at) < now():
            return None
        return row

    def validate_token_request(self) -> None:
        super().validate_token_request()
        code: AuthCodeRow = self.request.authorization_code
        resource = self.request.payload.datalist.get("resource", [])
        if resource and resource[0].rstrip("/") != code.resource:
            raise InvalidTargetError(description="resource differs from the authorization request")
        if not self.request.payload.redirect_uri:
            raise InvalidRequestError(description="redirect_uri is required")

    def delete_authorization_code(self, authorization_code: AuthCodeRow) -> None:
        authorization_code.used_at = now()  # kept, so that a second use is recognised as reuse

    def authenticate_user(self, authorization_code: AuthCodeRow) -> PrincipalRow | None:
        return ctx().session.get(PrincipalRow, authorization_code.principal_id)

    def generate_token(self, user: Any = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        server: HubAuthorizationServer = self.server
        code: AuthCodeRow = self.request.authorization_code
        principal = server.check_principal(user, InvalidGrantError)
        return server.issue(principal, self.client, code.scope, resource=code.resource or
                            server.default_resource, family=code.family_id, bound=None,
                            refresh=self.client.check_grant_type("refresh_token"))


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> _Refresh | None:
        c = ctx()
        row = c.session.get(RefreshTokenRow, passwords.digest(refresh_token)) if refresh_token else None
        if row is None:
            return None
        if c.session.get(RevocationRow, f"family:{row.family_id}") is not None or aware(row.expires_at) < now():
            return None
        if row.used_at is not None:  # reuse: someone has a copy of a rotated token
            self.server.revoke_family(row.family_id)
            return None
        # Claimed (marked used) only in generate_token, once the client, scope and resource checks passed: a
        # refused request leaves the token usable, so the client's corrected retry is not taken for reuse.
        return _Refresh(row)

    def authenticate_user(self, refresh_token: _Refresh) -> PrincipalRow | None:
        return ctx().session.get(PrincipalRow, refresh_token.row.principal_id)

    def revoke_old_credential(self, refresh_token: _Refresh) -> None:
        pass  # already marked used when claimed

    def generate_token(self, user: Any = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        server: HubAuthorizationServer = self.server
        row: RefreshTokenRow = self.request.refresh_token.row
        principal = server.check_principal(user, InvalidGrantError)
        resource = server.resolve_resource(self.request) if "resource" in self.request.payload.data else row.resource
        if resource != row.resource:
            raise InvalidTargetError(description="resource differs from the original grant")
        # Claim it atomically: of two concurrent uses exactly one wins; the other is reuse.
        claimed = ctx().session.execute(update(RefreshTokenRow).where(
            RefreshTokenRow.token_hash == row.token_hash, RefreshTokenRow.used_at.is_(None)).values(used_at=now()))
        if claimed.rowcount != 1:
            server.revoke_family(row.family_id)
            raise InvalidGrantError()
        return server.issue(principal, self.client, scope or row.scope, resource=resource or
                            server.default_resource, family=row.family_id, bound=row.bound, refresh=True)


@dataclass
class _Refresh:
    row: RefreshTokenRow

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.row.client_id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((aware(self.row.expires_at) - now()).total_seconds())

    def is_expired(self) -> bool:
        return aware(self.row.expires_at) < now()

    def is_revoked(self) -> bool:
        return False


# -- client authentication with a signed assertion (RFC 7523) ----------------------------------------


class PrivateKeyJWT(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, server: HubAuthorizationServer) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.server = server

    def get_audiences(self) -> list[str]:
        return [self.server.token_endpoint, self.server.issuer]

    def resolve_client_public_key(self, client: Client) -> KeySet:
        jwks = client.metadata.get("jwks")
        if not jwks:
            raise InvalidClientError(description="client has no registered keys")
        return KeySet.import_key_set(jwks)

    def extract_assertion(self, assertion: str) -> Any:
        try:
            return super().extract_assertion(assertion)
        except RecursionError:  # authlib parses the unverified payload with json.loads
            raise InvalidClientError(description="Invalid JWT payload.") from None

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> Any:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGORITHMS)
        except JoseError as exc:
            raise InvalidClientError(description="invalid client assertion") from exc
        exp = token.claims.get("exp")
        if not isinstance(exp, int) or exp > time.time() + 600:
            raise InvalidClientError(description="client assertion must expire within 10 minutes")
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        c = ctx()
        key = f"{claims['sub']}:{jti}"[:300]
        if c.session.get(SeenAssertionRow, key) is not None:
            return False
        c.session.add(SeenAssertionRow(jti=key, expires_at=datetime.fromtimestamp(claims["exp"] + 60, UTC)))
        c.session.flush()
        return True
