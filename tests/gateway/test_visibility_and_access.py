"""Deny by default and access requests end to end: what each principal sees and calls, requests
approved or denied by admins, revocation without a new token."""

from __future__ import annotations

import asyncio
from typing import Any

import mcp.types as types
import pytest
from mcp.shared.exceptions import MCPError

from tests.gateway.e2e import GW, TOOLS, audit, mcp_client, names, principal_token, register
from tests.harness import http_upstream, running_hub
from tests.identity.oauth_helpers import eventually

# ---------------------------------------------------------------------------------------------- visibility


async def test_principals_see_and_call_only_what_they_are_granted(tmp_path):
    with http_upstream(GW) as url:
        async with running_hub(tmp_path) as hub:
            await register(hub, url, auto_approve=True)
            _, token_a = await principal_token(hub, ["tool:gw.echo"])
            _, token_b = await principal_token(hub, ["upstream:gw"])
            _, token_c = await principal_token(hub, [])
            async with mcp_client(hub, token_a) as a, mcp_client(hub, token_b, mode="legacy") as b, \
                    mcp_client(hub, token_c) as c:
                assert await names(a) == ["gw.echo", "hub.request_access"]
                assert await names(b) == [*TOOLS, "hub.request_access"]
                assert await names(c) == ["hub.request_access"]  # never an empty list in place of an error

                # Under concurrency, each sees its own list, every time.
                expected = [["gw.echo", "hub.request_access"], [*TOOLS, "hub.request_access"],
                            ["hub.request_access"]]
                results = await asyncio.gather(*(names(x) for x in [a, b, c] * 10))
                assert results == expected * 10

                # A tool the caller may not use answers exactly like one that does not exist.
                answers = []
                for name in ("gw.greet", "gw.does-not-exist"):
                    with pytest.raises(MCPError) as err:
                        await a.call_tool(name, {"name": "x"})
                    answers.append((err.value.code, err.value.error.message.replace(name, "<name>")))
                assert answers[0] == answers[1] and answers[0][0] == types.INVALID_PARAMS
                assert (await a.call_tool("gw.echo", {"text": "mine"})).content[0].text == "mine"

            async with hub.http(token_a) as http:
                assert (await http.get("/api/v1/tools/gw.greet")).status_code == 404
                assert [t["name"] for t in (await http.get("/api/v1/tools")).json()["tools"]] == ["gw.echo"]
            async with hub.http("not-a-token") as http:
                assert (await http.get("/api/v1/tools")).status_code == 401  # an error, not an empty list


# ---------------------------------------------------------------------------------------------- access requests


async def test_access_request_from_an_mcp_session_approved_by_an_admin(tmp_path):
    with http_upstream(GW) as url:
        async with running_hub(tmp_path) as hub:
            await register(hub, url, auto_approve=True)
            principal_id, token = await principal_token(hub, [])
            changed = asyncio.Event()

            async def on_message(message: Any) -> None:
                if isinstance(message, types.ToolListChangedNotification):
                    changed.set()

            async with mcp_client(hub, token, mode="legacy", message_handler=on_message) as client:
                result = await client.call_tool("hub.request_access", {"scopes": ["tool:gw.echo"],
                                                                       "reason": "to echo things"})
                assert not result.is_error, result.content
                request_id = result.structured_content["id"]
                assert result.structured_content["state"] == "pending"
                assert await names(client) == ["hub.request_access"]
                bad = await client.call_tool("hub.request_access", {"scopes": ["rm -rf /"], "reason": "why not"})
                assert bad.is_error and "unknown scope" in bad.content[0].text

                async with hub.http() as admin:
                    queue = (await admin.get("/api/v1/access-requests", params={"state": "pending"})).json()
                    assert [r["id"] for r in queue["access_requests"]] == [request_id]
                    assert queue["access_requests"][0]["reason"] == "to echo things"
                    # Two admins decide at once: exactly one wins, the other gets 409.
                    first, second = await asyncio.gather(
                        admin.post(f"/api/v1/access-requests/{request_id}/approve", json={"reason": "ok"}),
                        admin.post(f"/api/v1/access-requests/{request_id}/deny", json={"reason": "no"}),
                    )
                assert sorted([first.status_code, second.status_code]) == [200, 409]
                winner = first if first.status_code == 200 else second
                decided = winner.json()
                assert decided["decided_by"] == "admin" and decided["decided_at"]

                if decided["state"] == "approved":
                    async def sees_echo() -> bool:
                        return "gw.echo" in await names(client)

                    assert await eventually(sees_echo, 3)  # no new token
                    await asyncio.wait_for(changed.wait(), 5)  # and the session was told
                    assert (await client.call_tool("gw.echo", {"text": "granted"})).content[0].text == "granted"
                else:
                    await asyncio.sleep(1.5)
                    assert await names(client) == ["hub.request_access"]

            async with hub.http(token) as http:  # the principal sees its own requests, and only those
                own = (await http.get("/api/v1/access-requests")).json()["access_requests"]
                assert [r["id"] for r in own] == [request_id] and own[0]["principal_id"] == principal_id
                assert (await http.post(f"/api/v1/access-requests/{request_id}/approve")).status_code == 403
                created = await http.post("/api/v1/access-requests",
                                          json={"scopes": ["upstream:gw"], "reason": "the whole upstream"})
                assert created.status_code == 201 and created.json()["state"] == "pending"
            action = "access_request.approve" if decided["state"] == "approved" else "access_request.deny"
            decisions = await audit(hub, action=action, target=request_id)
            assert [d["principal"] for d in decisions] == ["admin"]


async def test_revocation_and_denial_take_effect_without_a_new_token(tmp_path):
    with http_upstream(GW) as url:
        async with running_hub(tmp_path) as hub:
            await register(hub, url, auto_approve=True)
            principal_id, token = await principal_token(hub, ["tool:gw.echo"])
            async with mcp_client(hub, token) as client:
                assert "gw.echo" in await names(client)
                async with hub.http() as admin:
                    response = await admin.request("DELETE", f"/api/v1/principals/{principal_id}/grants",
                                                   json={"scopes": ["tool:gw.echo"]})
                    assert response.status_code == 200, response.text

                async def gone() -> bool:
                    return "gw.echo" not in await names(client)

                assert await eventually(gone, 3)
            async with hub.http(token) as http:
                created = (await http.post("/api/v1/access-requests",
                                           json={"scopes": ["tool:gw.echo"], "reason": "again"})).json()
            async with hub.http() as admin:
                denied = await admin.post(f"/api/v1/access-requests/{created['id']}/deny", json={"reason": "no"})
                assert denied.status_code == 200 and denied.json()["state"] == "denied"
                again = await admin.post(f"/api/v1/access-requests/{created['id']}/approve")
                assert again.status_code == 409
            async with mcp_client(hub, token) as client:
                assert await names(client) == ["hub.request_access"]
