"""An upstream protected by a real OAuth authorization server: the hub authenticates with its own client
credentials for that upstream. The upstream here is a second hub, which is both the authorization server
and the protected MCP resource."""

from __future__ import annotations

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.harness import ADMIN_TOKEN, running_hub


async def test_an_upstream_behind_oauth_is_reached_with_the_hubs_own_client_credentials(tmp_path):
    async with running_hub(tmp_path / "peer", packs=["essentials"]) as peer, running_hub(tmp_path / "edge") as edge:
        async with peer.http() as http:
            response = await http.post("/api/v1/principals", json={
                "name": "edge hub", "owner": "platform-team", "purpose": "federate the peer's tools",
                "environment": "dev", "kind": "service", "scopes": ["tool:essentials.calculate"]})
            assert response.status_code == 201, response.text
            account = response.json()
        async with edge.http() as http:
            response = await http.post("/api/v1/upstreams", json={
                "name": "peer", "auto_approve": True, "transport": "http", "url": peer.mcp_url,
                "auth": {"type": "oauth_client_credentials", "client_id": account["client_id"],
                         "client_secret": account["client_secret"], "issuer": peer.url}})
            assert response.status_code == 201, response.text
            # the peer shows the edge hub exactly what it granted (one tool) and its own hub.request_access
            assert response.json()["tools"] == 2
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60) as http, \
                Client(streamable_http_client(edge.mcp_url, http_client=http)) as client:
            result = await client.call_tool("peer.essentials.calculate", {"expression": "6 * 7"})
            assert not result.is_error, result
            assert "42" in result.content[0].text

