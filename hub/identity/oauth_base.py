"""What every part of the authorization server shares: the request as authlib sees it, the answer
before it becomes HTTP, the client model, and the per-request context its synchronous callbacks use."""

from __future__ import annotations

import contextvars
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Error, OAuth2Payload, OAuth2Request
from sqlalchemy.orm import Session

from hub.identity import passwords
from hub.identity.models import PrincipalRow

ASSERTION_ALGORITHMS = ["ES256", "RS256", "PS256"]

REFRESH_PREFIX = "hubrt_"
SECRET_METHODS = ("client_secret_basic", "client_secret_post")


class InvalidTargetError(OAuth2Error):
    error = "invalid_target"  # RFC 8707


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
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
        if self.source == "principal" and registered in SECRET_METHODS:
            return method in SECRET_METHODS  # a principal's secret works in the header or the body
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
class Ctx:
    session: Session
    documents: dict[str, dict[str, Any]]  # Client ID Metadata Documents fetched for this request
    revoked: list[str] = field(default_factory=list)  # revocation keys written in this request


_current: contextvars.ContextVar[Ctx] = contextvars.ContextVar("hub_oauth_ctx")


def ctx() -> Ctx:
    """The state of the request being handled (set by HubAuthorizationServer.run)."""
    return _current.get()


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
