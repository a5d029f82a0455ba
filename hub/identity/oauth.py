"""The OAuth 2.1 authorization server, on authlib's grant and endpoint framework.

authlib's server is synchronous; its callbacks (query_client, save codes, rotate refresh tokens) run
inside `IdentityStore.run_sync`, i.e. one write transaction on the hub's own async database, through
SQLAlchemy's sync-over-async session. Anything needing the network (Client ID Metadata Documents) is
fetched before the synchronous part starts. The per-request state lives in a context variable.

Tightened over authlib's defaults, as OAuth 2.1 and the MCP authorization spec require:
- PKCE is required of every client for authorization_code, and only S256 is accepted;
- redirect URIs match exactly; an authorization code is single-use, and presenting it again revokes
  every token it produced;
- refresh tokens rotate on every use; presenting a rotated one revokes the whole token family;
- `resource` (RFC 8707) binds the token audience to one of the hub's resources;
- authorization responses carry `iss` (RFC 9207).
"""

from __future__ import annotations

import contextvars
import logging
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.identity import passwords, scopes
from hub.identity.keys import ALG
from hub.identity.models import (
    AuthCodeRow,
    ClientRow,
    GrantRow,
    PrincipalRow,
    RefreshTokenRow,
    RevocationRow,
    SeenAssertionRow,
)
from hub.identity.tokens import TokenIssuer

ASSERTION_ALGORITHMS = ["ES256", "RS256", "PS256"]

# authlib logs every issued token (access and refresh) at DEBUG ("Issue token %r to %r"): keep its
# loggers at INFO whatever the hub's log level, so no token ever reaches a log.
logging.getLogger("authlib").setLevel(logging.INFO)
REFRESH_PREFIX = "hubrt_"
_SECRET_METHODS = ("client_secret_basic", "client_secret_post")


class InvalidTargetError(OAuth2Error):
    error = "invalid_target"  # RFC 8707


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- requests ---------------------------------------------------------------------------------------


class _Payload(OAuth2Payload):
    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list] = defaultdict(list)
        self._data: dict[str, str] = {}
        for key, value in items:
            self._datalist[key].append(value)
            self._data.setdefault(key, value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list]:
        return self._datalist


class HubRequest(OAuth2Request):
    """An HTTP request as authlib sees it, built from what the surface has already read and bounded."""

    def __init__(self, method: str, uri: str, headers: Any, query: list[tuple[str, str]],
                 form: list[tuple[str, str]]) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload(form if method == "POST" else query)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class Result:
    """An endpoint's answer, before the surface turns it into an HTTP response."""

    status: int
    body: Any
    headers: dict[str, str]

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    @location.setter
    def location(self, value: str) -> None:
        self.headers["Location"] = value


# -- clients ----------------------------------------------------------------------------------------


@dataclass
class Client(ClientMixin):
    client_id: str
    metadata: dict[str, Any]
    secret_hash: str | None = None
    principal: PrincipalRow | None = None  # the principal whose credentials these are (agents, services)
    source: str = "dcr"  # principal | dcr | cimd

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.metadata.get("redirect_uris") or []
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str) -> str:
        return scope or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in (self.metadata.get("redirect_uris") or [])  # exact, no patterns

    def check_client_secret(self, client_secret: str) -> bool:
        return passwords.matches(self.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        registered = self.metadata.get("token_endpoint_auth_method", "client_secret_basic")
        if self.source == "principal" and registered in _SECRET_METHODS:
            return method in _SECRET_METHODS  # a principal's secret works in the header or the body
        return method == registered

    def check_response_type(self, response_type: str) -> bool:
        return response_type in (self.metadata.get("response_types") or [])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.metadata.get("grant_types") or [])

    @property
    def name(self) -> str:
        return str(self.metadata.get("client_name") or self.client_id)


# -- per-request context ----------------------------------------------------------------------------


@dataclass
class _Ctx:
    session: Session
    documents: dict[str, dict[str, Any]]  # Client ID Metadata Documents fetched for this request
    revoked: list[str] = field(default_factory=list)  # revocation keys written in this request
    resource: str | None = None
    family: str | None = None
    bound: bool | None = None
    granted_scope: str | None = None


_ctx: contextvars.ContextVar[_Ctx] = contextvars.ContextVar("hub_oauth_ctx")


def ctx() -> _Ctx:
    return _ctx.get()


# -- the server -------------------------------------------------------------------------------------


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
        self.register_extension(Issuer(issuer))
        self.register_client_auth_method(PrivateKeyJWT.CLIENT_AUTH_METHOD, PrivateKeyJWT(self))

    # authlib framework hooks
    def query_client(self, client_id: str) -> Client | None:
        if not isinstance(client_id, str) or not client_id or len(client_id) > 300:
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
        return Result(status, body, dict(headers))

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

    def issue(self, request: OAuth2Request, principal: PrincipalRow, client: Client, scope: str | None,
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
                expires_at=_now() + timedelta(seconds=self.refresh_ttl_s), created_at=_now(),
            ))
            token["refresh_token"] = value
        return token

    def revoke_family(self, family: str) -> None:
        c = ctx()
        key = f"family:{family}"
        if c.session.get(RevocationRow, key) is None:
            c.session.add(RevocationRow(key=key, revoked_at=_now(),
                                        expires_at=_now() + timedelta(seconds=self.refresh_ttl_s)))
        c.session.execute(update(RefreshTokenRow).where(RefreshTokenRow.family_id == family,
                                                        RefreshTokenRow.used_at.is_(None)).values(used_at=_now()))
        c.revoked.append(key)


class Issuer(IssuerParameter):
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


# -- grants -----------------------------------------------------------------------------------------


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def generate_token(self, user: Any = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        server: HubAuthorizationServer = self.server
        principal = server.check_principal(self.client.principal)
        resource = server.resolve_resource(self.request)
        return server.issue(self.request, principal, self.client, scope, resource=resource,
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
            expires_at=_now() + timedelta(seconds=self.server.code_ttl_s),
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
        if _aware(row.expires_at) < _now():
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
        authorization_code.used_at = _now()  # kept, so that a second use is recognised as reuse

    def authenticate_user(self, authorization_code: AuthCodeRow) -> PrincipalRow | None:
        return ctx().session.get(PrincipalRow, authorization_code.principal_id)

    def generate_token(self, user: Any = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        server: HubAuthorizationServer = self.server
        code: AuthCodeRow = self.request.authorization_code
        principal = server.check_principal(user, InvalidGrantError)
        return server.issue(self.request, principal, self.client, code.scope, resource=code.resource or
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
        if c.session.get(RevocationRow, f"family:{row.family_id}") is not None or _aware(row.expires_at) < _now():
            return None
        # Claim it atomically: of two concurrent uses exactly one wins; the other is reuse.
        claimed = c.session.execute(update(RefreshTokenRow).where(
            RefreshTokenRow.token_hash == row.token_hash, RefreshTokenRow.used_at.is_(None)).values(used_at=_now()))
        if claimed.rowcount != 1:
            self.server.revoke_family(row.family_id)
            return None
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
        return server.issue(self.request, principal, self.client, scope or row.scope, resource=resource or
                            server.default_resource, family=row.family_id, bound=row.bound, refresh=True)


@dataclass
class _Refresh:
    row: RefreshTokenRow

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.row.client_id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((_aware(self.row.expires_at) - _now()).total_seconds())

    def is_expired(self) -> bool:
        return _aware(self.row.expires_at) < _now()

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


# -- revocation and introspection --------------------------------------------------------------------


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
                      int(_aware(row.expires_at).timestamp()), family=row.family_id,
                      active=row.used_at is None and not revoked and _aware(row.expires_at) > _now())
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
                c.session.add(RevocationRow(key=key, revoked_at=_now(),
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


def redirect_uri_problem(uri: Any) -> str | None:
    """Why a redirect URI may not be registered, or None when it may (RFC 8252 / OAuth 2.1 rules)."""
    if not isinstance(uri, str) or not uri or len(uri) > 2000:
        return "must be a string of at most 2000 characters"
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in uri):
        return "must not contain spaces or control characters"
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        return "must not contain a fragment"
    scheme = parts.scheme.lower()
    if scheme in {"javascript", "data", "file", "vbscript", "about", "blob", "ftp", "ws", "wss"}:
        return f"the {scheme}: scheme is not allowed"
    if scheme == "https":
        return None if parts.hostname else "needs a host"
    if scheme == "http":
        if parts.hostname in {"127.0.0.1", "::1", "localhost"}:
            return None
        return "http is allowed only for loopback redirect URIs (127.0.0.1, [::1], localhost)"
    if scheme and "." in scheme:
        return None  # private-use scheme of a native app (reverse domain name, RFC 8252 7.1)
    return "must be https, http on loopback, or a reverse-domain private-use scheme"
