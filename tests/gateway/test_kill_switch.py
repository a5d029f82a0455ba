"""Kill switches end to end, on one hub and across two replicas of one database."""

from __future__ import annotations

import contextlib

import pytest
from mcp.shared.exceptions import MCPError

from tests.gateway.e2e import GW, audit, mcp_client, names, principal_token, register, tool
from tests.harness import http_upstream, running_hub
from tests.identity.oauth_helpers import eventually

# ---------------------------------------------------------------------------------------------- kill switch


async def test_kill_switch_for_a_tool_an_upstream_and_a_principal(tmp_path):
    with http_upstream(GW) as url:
        async with running_hub(tmp_path) as hub:
            await register(hub, url, auto_approve=True)
            principal_id, token = await principal_token(hub, ["upstream:gw"])
            async with mcp_client(hub, token) as client, hub.http() as admin:
                assert (await admin.post("/api/v1/tools/gw.echo/disable", json={"reason": "leaks"})).status_code \
                    == 200
                assert "gw.echo" not in await names(client)
                with pytest.raises(MCPError):
                    await client.call_tool("gw.echo", {"text": "x"})
                assert (await tool(hub, "gw.echo"))["state"] == "disabled"

                assert (await admin.post("/api/v1/upstreams/gw/disable")).status_code == 200
                assert await names(client) == ["hub.request_access"]
                with pytest.raises(MCPError):
                    await client.call_tool("gw.greet", {"name": "x"})
                assert (await admin.post("/api/v1/upstreams/gw/enable")).status_code == 200
                assert (await client.call_tool("gw.greet", {"name": "x"})).content[0].text == "hello x"

                assert (await admin.post(f"/api/v1/principals/{principal_id}/suspend")).status_code == 200
            async with hub.http(token) as http:
                assert (await http.get("/api/v1/principals/me")).status_code == 401
            kinds = {r["action"] for r in await audit(hub)}
            assert {"tool.disable", "upstream.disable", "upstream.enable", "principal.suspend"} <= kinds


async def test_another_replica_follows_registration_kill_switch_and_removal(tmp_path):
    """Two hubs on one database: what an admin does on one, the other follows within about a second."""
    with http_upstream(GW) as url:
        async with running_hub(tmp_path, catalog_watch_s=0.2) as one, \
                running_hub(tmp_path, catalog_watch_s=0.2) as two, \
                mcp_client(two, "test-admin-token-0123456789") as client:
            await register(one, url, auto_approve=True)  # registered on one, connected on two

            async def answers() -> bool:
                with contextlib.suppress(MCPError):
                    result = await client.call_tool("gw.echo", {"text": "x"})
                    return not result.is_error and result.content[0].text == "x"
                return False

            assert await eventually(answers, 5)
            async with one.http() as admin:
                assert (await admin.post("/api/v1/tools/gw.echo/disable")).status_code == 200

            async def refused() -> bool:
                return "gw.echo" not in await names(client)

            assert await eventually(refused, 3)
            with pytest.raises(MCPError):
                await client.call_tool("gw.echo", {"text": "x"})

            async with one.http() as admin:
                assert (await admin.delete("/api/v1/upstreams/gw")).status_code == 204

            async def released() -> bool:
                async with two.http() as http:
                    return "gw" not in (await http.get("/readyz")).json()["upstreams"]

            assert await eventually(released, 3)
            assert await names(client) == []
