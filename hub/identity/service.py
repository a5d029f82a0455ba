"""Identity, wired: the authorization server, the resource server's verifier, principals and clients.

Surfaces call `authenticate` (a bearer token and the resource it is presented to → a Principal) and
hand OAuth endpoint requests to `oauth`; the REST and CLI admin paths call the principal methods.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.catalog.store import Store
from hub.config import Settings
from hub.identity import passwords, scopes
from hub.identity.cimd import ClientDocumentError, ClientDocuments, is_document_id
from hub.identity.directory import Directory
from hub.identity.entities import PrincipalRecord, PrincipalSpec
from hub.identity.keys import KeyRing
from hub.identity.models import PrincipalRow
from hub.identity.oauth import HubAuthorizationServer
from hub.identity.oauth_base import HubRequest, redirect_uri_problem
from hub.identity.principal import ADMIN_SCOPE, ANONYMOUS_ID, Principal
from hub.identity.store import IdentityStore
from hub.identity.throttle import SignInThrottle
from hub.identity.tokens import TokenIssuer, TokenVerifier

log = logging.getLogger("hub.identity")
T = TypeVar("T")

# The hub's protected resources (RFC 8707 / RFC 9728), by path prefix. A token for the hub's base URL
# is good on every surface; one for a surface only there.
RESOURCE_PATHS = ("/mcp", "/api/v1", "/agents", "/a2a")


class RegistrationError(Exception):
    """RFC 7591 error: `error` is invalid_redirect_uri or invalid_client_metadata."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


class SignInRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class ClientMetadata(BaseModel):
    """What a client may register (RFC 7591); anything else is ignored, as the RFC allows."""

    model_config = ConfigDict(extra="ignore")

    redirect_uris: list[str] = Field(min_length=1, max_length=10)
    client_name: str | None = Field(default=None, max_length=200)
    token_endpoint_auth_method: str = "client_secret_basic"
    grant_types: list[str] = Field(default_factory=lambda: ["authorization_code"], max_length=4)
    response_types: list[str] = Field(default_factory=lambda: ["code"], max_length=2)
    scope: str | None = Field(default=None, max_length=4000)
    client_uri: str | None = Field(default=None, max_length=2000)
    software_id: str | None = Field(default=None, max_length=200)
    software_version: str | None = Field(default=None, max_length=64)


class Identity:
    def __init__(self, settings: Settings, store: Store, admin_token: str) -> None:
        self.settings = settings
        self.environment = settings.environment
        self.issuer = settings.base_url
        self.store = IdentityStore(store)
        self.keys = KeyRing(self.store, retention=timedelta(seconds=settings.access_token_ttl_s + 300))
        self.resources = frozenset({self.issuer, *(self.issuer + p for p in RESOURCE_PATHS)})
        self.tokens = TokenIssuer(self.keys, self.issuer, self.environment, settings.access_token_ttl_s)
        self.verifier = TokenVerifier(self.keys, self.issuer, self.environment, settings.token_leeway_s,
                                      settings.trusted_issuers, ca_file=settings.outbound_ca_file)
        self.directory = Directory(self.store, self.environment, settings.identity_refresh_s, self.keys)
        self.documents = ClientDocuments(allow_loopback=settings.cimd_allow_loopback, ca_file=settings.outbound_ca_file)
        self.server = HubAuthorizationServer(
            issuer=self.issuer, environment=self.environment, issuer_tokens=self.tokens,
            resources=self.resources, default_resource=self.issuer, token_endpoint=self.issuer + "/oauth/token",
            code_ttl_s=settings.auth_code_ttl_s, refresh_ttl_s=settings.refresh_token_ttl_s,
        )
        self._admin_token = admin_token.encode()
        self.admin = Principal(id="admin", name="bootstrap admin", kind="user", environment=self.environment,
                               scopes=frozenset({ADMIN_SCOPE}), via="admin-token")
        self.anonymous: Principal | None = None
        if settings.anonymous_scopes:
            self.anonymous = Principal(id=ANONYMOUS_ID, name="anonymous", kind="user",
                                       environment=self.environment,
                                       scopes=frozenset(settings.anonymous_scopes), via="anonymous")
        self.form_key = b""
        self._registrations: list[float] = []
        self.throttle = SignInThrottle()

    async def start(self) -> None:
        await self.keys.load()
        await self.directory.start()
        self.form_key = (await self.store.hub_secret("consent-form")).encode()

    async def close(self) -> None:
        await self.directory.close()

    # -- resource server ---------------------------------------------------------------------------

    def resource_for(self, path: str) -> str | None:
        for prefix in RESOURCE_PATHS:
            if path == prefix or path.startswith(prefix + "/"):
                return self.issuer + prefix
        return None

    async def authenticate(self, token: str, resource: str) -> Principal:
        """The principal behind a bearer token presented to `resource`; InvalidToken when there is none."""
        if self._admin_token and hmac.compare_digest(token.encode(), self._admin_token):
            return self.admin
        claims = await self.verifier.verify(token, frozenset({resource, self.issuer}))
        return await self.directory.resolve(claims)

    # -- authorization server ----------------------------------------------------------------------

    async def oauth(self, request: HubRequest, action: Callable[[HubAuthorizationServer, HubRequest], T]) -> T:
        """Run an authlib action for `request` in one transaction, with CIMD documents fetched first."""
        client_id = request.payload.client_id or request.form.get("client_id")
        documents: dict[str, dict[str, Any]] = {}
        if is_document_id(client_id):
            documents[client_id] = await self.documents.get(client_id)  # ClientDocumentError → caller

        result, revoked = await self.store.run_sync(
            lambda session: self.server.run(session, documents, request, action))
        self.directory.revoke_local(revoked)  # this replica at once; the others at their next refresh
        return result

    async def sign_in(self, username: str, password: str, address: str) -> PrincipalRow:
        """The user signing in on the consent page; SignInRefused when they can't (same answer for every
        reason but throttling, so the page tells nothing about which accounts exist)."""
        keys = (f"user:{username[:200]}", f"addr:{address}")
        if self.throttle.blocked(*keys):
            raise SignInRefused(429, "Too many failed sign-ins; wait a few minutes.")
        row = await self.store.principal_row(username) if username and len(username) <= 200 else None
        # argon2 is deliberately slow: keep it off the event loop. It runs for unknown users too.
        ok = await asyncio.to_thread(passwords.verify_password, row.password_hash if row else None, password)
        if not ok or row is None or row.kind != "user" or row.status != "active" \
                or row.environment != self.environment:
            self.throttle.failed(*keys)
            raise SignInRefused(401, "Wrong username or password, or the account cannot sign in here.")
        self.throttle.succeeded(keys[0])
        return row

    async def register_client(self, body: Any) -> dict[str, Any]:
        """Dynamic Client Registration (RFC 7591): open, but bounded in rate and validated strictly."""
        now = time.monotonic()
        self._registrations = [t for t in self._registrations if now - t < 60]
        if len(self._registrations) >= 30:
            raise RegistrationError("invalid_client_metadata", "too many registrations; retry in a minute")
        if not isinstance(body, dict):
            raise RegistrationError("invalid_client_metadata", "the body must be a JSON object")
        try:
            meta = ClientMetadata.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            error = "invalid_redirect_uri" if field.startswith("redirect_uris") else "invalid_client_metadata"
            raise RegistrationError(error, f"{field}: {first['msg']}") from None
        for uri in meta.redirect_uris:
            if problem := redirect_uri_problem(uri):
                raise RegistrationError("invalid_redirect_uri", f"redirect URI {uri[:100]!r} {problem}")
        if meta.token_endpoint_auth_method not in {"none", "client_secret_basic", "client_secret_post"}:
            raise RegistrationError("invalid_client_metadata",
                                    "token_endpoint_auth_method must be none, client_secret_basic or "
                                    "client_secret_post")
        if not set(meta.grant_types) <= {"authorization_code", "refresh_token"}:
            raise RegistrationError("invalid_client_metadata",
                                    "grant_types may be authorization_code and refresh_token")
        if meta.response_types != ["code"]:
            raise RegistrationError("invalid_client_metadata", "response_types must be [\"code\"]")
        if meta.client_name and not meta.client_name.isprintable():
            raise RegistrationError("invalid_client_metadata", "client_name must be printable")
        if meta.scope:
            try:
                scopes.parse(meta.scope)
            except scopes.ScopeError as exc:
                raise RegistrationError("invalid_client_metadata", str(exc)) from None
        self._registrations.append(now)
        client_id = "dcr-" + secrets.token_urlsafe(18)
        secret = None if meta.token_endpoint_auth_method == "none" else passwords.new_secret("hubcs_")
        stored = meta.model_dump(exclude_none=True)
        await self.store.add_client(client_id, stored, passwords.digest(secret) if secret else None)
        out: dict[str, Any] = {"client_id": client_id, "client_id_issued_at": int(time.time()), **stored}
        if secret:
            out.update(client_secret=secret, client_secret_expires_at=0)
        return out

    # -- principals (admin operations) -------------------------------------------------------------

    async def create_principal(self, spec: PrincipalSpec, created_by: str) -> tuple[PrincipalRecord, str | None]:
        scopes.parse(spec.scopes)
        record, secret = await self.store.create_principal(spec, created_by)
        self.directory.put(record)
        return record, secret

    async def set_status(self, principal_id: str, status: str) -> PrincipalRecord:
        record = await self.store.set_status(principal_id, status)
        self.directory.put(record)
        return record

    async def grant(self, principal_id: str, granted: list[str], by: str) -> PrincipalRecord:
        perms = [s for s in scopes.parse(granted) if scopes.is_permission(s)]
        record = await self.store.grant(principal_id, perms, by)
        self.directory.put(record)
        return record

    async def revoke_grant(self, principal_id: str, revoked: list[str], by: str) -> PrincipalRecord:
        record = await self.store.revoke_grant(principal_id, scopes.parse(revoked), by)
        self.directory.put(record)
        return record


__all__ = ["ClientDocumentError", "Identity", "RegistrationError", "SignInRefused"]
