"""Shared by the gateway's end-to-end tests: the fixture upstream, principals, MCP clients, the audit."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.harness import RunningHub
from tests.identity.oauth_helpers import client_credentials, create_principal

GW = "tests.gateway_upstream"
TOOLS = ["gw.calls", "gw.drop", "gw.echo", "gw.greet", "gw.poison", "gw.redefine", "gw.restore", "gw.weather"]


async def register(hub: RunningHub, url: str, **extra: Any) -> dict[str, Any]:
    async with hub.http() as http:
        response = await http.post("/api/v1/upstreams", json={"name": "gw", "transport": "http", "url": url,
                                                               **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def tool(hub: RunningHub, name: str) -> dict[str, Any]:
    async with hub.http() as http:
        response = await http.get(f"/api/v1/tools/{name}")
    assert response.status_code == 200, response.text
    return response.json()


async def approve(hub: RunningHub, name: str, definition_hash: str | None = None) -> httpx.Response:
    digest = definition_hash or (await tool(hub, name))["definition_hash"]
    async with hub.http() as http:
        return await http.post(f"/api/v1/tools/{name}/approve", json={"definition_hash": digest})


async def principal_token(hub: RunningHub, scopes: list[str]) -> tuple[str, str]:
    """A new service principal holding `scopes`: (its id, an access token that follows its live grants)."""
    created = await create_principal(hub, scopes=scopes)
    response = await client_credentials(hub, created["client_id"], created["client_secret"])
    assert response.status_code == 200, response.text
    return created["id"], response.json()["access_token"]


@contextlib.asynccontextmanager
async def mcp_client(hub: RunningHub, token: str, mode: str = "auto", **kwargs: Any):
    async with hub.mcp_http(token) as http, Client(streamable_http_client(hub.mcp_url, http_client=http),
                                                   mode=mode, **kwargs) as client:
        yield client


async def names(client: Client) -> list[str]:
    return [t.name for t in (await client.list_tools(cache_mode="bypass")).tools]


async def audit(hub: RunningHub, **filters: str) -> list[dict[str, Any]]:
    async with hub.http() as http:
        response = await http.get("/api/v1/audit", params={"limit": "1000", **filters})
    assert response.status_code == 200, response.text
    return response.json()["records"]


async def is_(get: Any, expected: str) -> bool:
    return await get() == expected
