"""Upstream OAuth: the hub's own client credentials for an upstream, never the caller's token."""

from __future__ import annotations

from typing import Any

import httpx2

from hub.catalog.entities import Transport, UpstreamSpec


class _MemoryTokenStorage:
    """Upstream OAuth tokens live in memory: a restart simply fetches a new client-credentials token."""

    def __init__(self) -> None:
        self._tokens: Any = None
        self._client: Any = None

    async def get_tokens(self) -> Any:
        return self._tokens

    async def set_tokens(self, tokens: Any) -> None:
        self._tokens = tokens

    async def get_client_info(self) -> Any:
        return self._client

    async def set_client_info(self, client_info: Any) -> None:
        self._client = client_info


def oauth_client_credentials(spec: UpstreamSpec) -> httpx2.Auth | None:
    """The upstream's own OAuth client credentials (never the caller's token), via the SDK's provider."""
    if spec.transport != Transport.http or spec.auth.type != "oauth_client_credentials":
        return None
    from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider

    return ClientCredentialsOAuthProvider(
        server_url=spec.url or "",
        storage=_MemoryTokenStorage(),
        client_id=spec.auth.client_id or "",
        client_secret=spec.auth.client_secret or "",
        scope=spec.auth.scope,
        issuer=spec.auth.issuer,
    )
