"""Client ID Metadata Documents: a client whose client_id is an https URL describes itself there.

The hub fetches the document (SSRF-guarded, size- and time-bounded, cached for a few minutes),
checks that it names itself, and accepts only public clients (`none`) with valid redirect URIs.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from hub.identity.fetch import FetchError, FetchPolicy, fetch_json
from hub.identity.oauth_base import redirect_uri_problem

_TTL_S = 300.0
_MAX_CACHED = 1000


class ClientDocumentError(Exception):
    """The client_id URL does not lead to an acceptable metadata document."""


def is_document_id(client_id: str | None) -> bool:
    if not client_id or len(client_id) > 300:
        return False
    parts = urlsplit(client_id)
    return parts.scheme in {"https", "http"} and bool(parts.hostname) and parts.path not in {"", "/"}


class ClientDocuments:
    def __init__(self, allow_loopback: bool, ca_file: str | None = None) -> None:
        self.policy = FetchPolicy(allow_http_loopback=allow_loopback, extra_ca_file=ca_file)
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    async def get(self, client_id: str) -> dict[str, Any]:
        hit = self._cache.get(client_id)
        if hit and time.monotonic() - hit[0] < _TTL_S:
            return hit[1]
        parts = urlsplit(client_id)
        if parts.scheme != "https" and not (self.policy.allow_http_loopback and parts.scheme == "http"):
            raise ClientDocumentError("a client_id URL must be https")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ClientDocumentError("a client_id URL has no query, fragment or credentials")
        try:
            doc = await fetch_json(client_id, policy=self.policy, max_bytes=16 * 1024, timeout_s=5.0)
        except FetchError as exc:
            raise ClientDocumentError(f"client metadata document: {exc}") from exc
        metadata = self._validate(client_id, doc)
        if len(self._cache) >= _MAX_CACHED:
            self._cache.pop(next(iter(self._cache)))
        self._cache[client_id] = (time.monotonic(), metadata)
        return metadata

    @staticmethod
    def _validate(client_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        if doc.get("client_id") != client_id:
            raise ClientDocumentError("the metadata document's client_id is not its own URL")
        method = doc.get("token_endpoint_auth_method", "none")
        if method != "none":
            raise ClientDocumentError("metadata-document clients must be public (token_endpoint_auth_method none)")
        uris = doc.get("redirect_uris")
        if not isinstance(uris, list) or not 1 <= len(uris) <= 10:
            raise ClientDocumentError("redirect_uris must list 1 to 10 URIs")
        for uri in uris:
            if problem := redirect_uri_problem(uri):
                raise ClientDocumentError(f"redirect URI {str(uri)[:100]!r} {problem}")
        grant_types = doc.get("grant_types", ["authorization_code"])
        if not isinstance(grant_types, list) or not set(grant_types) <= {"authorization_code", "refresh_token"}:
            raise ClientDocumentError("grant_types may be authorization_code and refresh_token only")
        name = doc.get("client_name")
        return {
            "client_name": name[:200] if isinstance(name, str) and name.isprintable() else client_id,
            "redirect_uris": uris,
            "grant_types": grant_types,
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
