"""Risky calls wait for an admin: session-era clients wait, 2026-07-28 clients get input_required."""

from __future__ import annotations

import asyncio
from typing import Any

import mcp.types as types
from mcp import Client

from tests.gateway.e2e import GW, audit, mcp_client, register
from tests.harness import RunningHub, http_upstream, running_hub

# ---------------------------------------------------------------------------------------------- risky calls


async def counted(client: Client) -> int:
    return (await client.call_tool("gw.calls", {})).structured_content["drop"]


async def decide_next_call(hub: RunningHub, action: str) -> dict[str, Any]:
    async with hub.http() as admin:
        for _ in range(100):
            pending = (await admin.get("/api/v1/call-approvals", params={"state": "pending"})).json()
            if pending["call_approvals"]:
                approval = pending["call_approvals"][0]
                assert approval["tool"] == "gw.drop" and "users" in approval["arguments_preview"]
                response = await admin.post(f"/api/v1/call-approvals/{approval['id']}/{action}",
                                            json={"reason": "checked"})
                assert response.status_code == 200
                return response.json()
            await asyncio.sleep(0.05)
    raise AssertionError("no call waited for approval")


async def test_destructive_calls_wait_for_an_admin(tmp_path):
    with http_upstream(GW) as url:
        async with running_hub(tmp_path, approval_timeout_s=2) as hub:
            await register(hub, url, auto_approve=True)
            async with mcp_client(hub, "test-admin-token-0123456789", mode="legacy") as client:
                call = asyncio.create_task(client.call_tool("gw.drop", {"table": "users"}))
                await decide_next_call(hub, "approve")
                assert (await call).content[0].text == "dropped users"
                assert await counted(client) == 1

                call = asyncio.create_task(client.call_tool("gw.drop", {"table": "users"}))
                await decide_next_call(hub, "deny")
                denied = await call
                assert denied.is_error and "denied" in denied.content[0].text
                assert await counted(client) == 1  # the upstream never saw it

                expired = await client.call_tool("gw.drop", {"table": "users"})
                assert expired.is_error and "in time" in expired.content[0].text
                assert await counted(client) == 1
            decisions = [r["decision"] for r in await audit(hub, target="gw.drop")]
            assert decisions == ["allow", "approval_denied", "approval_denied"]


async def test_a_modern_client_is_handed_the_approval_and_resumes(tmp_path):
    """2026-07-28: input_required carries a URL elicitation; the client's retry waits for the decision."""
    with http_upstream(GW) as url:
        async with running_hub(tmp_path, approval_timeout_s=30) as hub:
            await register(hub, url, auto_approve=True)
            shown: list[str] = []

            async def elicitation(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
                assert isinstance(params, types.ElicitRequestURLParams)
                shown.append(params.url)
                await decide_next_call(hub, "approve")
                return types.ElicitResult(action="accept")

            async with mcp_client(hub, "test-admin-token-0123456789", elicitation_callback=elicitation) as client:
                assert client.protocol_version == "2026-07-28"
                result = await client.call_tool("gw.drop", {"table": "users"})
                assert result.content[0].text == "dropped users", result
                assert shown and "/api/v1/call-approvals/ca_" in shown[0]
                assert await counted(client) == 1
