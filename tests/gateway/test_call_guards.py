"""Guards around a call end to end: arguments and output checked, rate limits, per-tool timeouts, the
circuit breaker, and the audit trail of it all."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.gateway.e2e import GW, audit, mcp_client, principal_token, register, tool
from tests.harness import ROOT, free_port, http_upstream, running_hub

# ---------------------------------------------------------------------------------------------- guards


async def test_arguments_and_structured_output_are_checked(tmp_path):
    with http_upstream(GW) as url:
        async with running_hub(tmp_path) as hub:
            await register(hub, url, auto_approve=True)
            async with mcp_client(hub, "test-admin-token-0123456789") as client:
                bad = await client.call_tool("gw.weather", {"lie": True})
                assert bad.is_error and "Invalid arguments" in bad.content[0].text and "city" in bad.content[0].text
                good = await client.call_tool("gw.weather", {"city": "Oslo"})
                assert not good.is_error and good.structured_content == {"city": "Oslo", "celsius": 21.5}
                lie = await client.call_tool("gw.weather", {"city": "Oslo", "lie": True})
                assert lie.is_error and "output schema" in lie.content[0].text
            records = await audit(hub, action="tools/call", target="gw.weather")
            assert [r["decision"] for r in records] == ["invalid", "allow", "allow"]
            assert [r["outcome"] for r in records] == [None, "ok", "invalid_output"]


async def test_rate_limits_per_principal_and_tool(tmp_path):
    with http_upstream(GW) as url:
        async with running_hub(tmp_path, tool_rate_limit="3/m", rate_limit="100/s") as hub:
            await register(hub, url, auto_approve=True)
            _, token_a = await principal_token(hub, ["upstream:gw"])
            _, token_b = await principal_token(hub, ["upstream:gw"])
            async with mcp_client(hub, token_a, mode="legacy") as a:
                for _ in range(3):
                    assert not (await a.call_tool("gw.echo", {"text": "x"})).is_error
                with pytest.raises(MCPError) as err:
                    await a.call_tool("gw.echo", {"text": "x"})
                assert err.value.code == -31029 and err.value.error.data["retryAfter"] > 0
                # Another tool has its own bucket; another principal is unaffected.
                assert not (await a.call_tool("gw.greet", {"name": "x"})).is_error
            async with mcp_client(hub, token_b) as b:
                assert not (await b.call_tool("gw.echo", {"text": "x"})).is_error

            # A plain 2026-07-28 POST over the limit gets HTTP 429 with Retry-After.
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "gw.echo", "arguments": {"text": "x"}, "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {}}}}
            headers = {"Authorization": f"Bearer {token_a}", "Accept": "application/json, text/event-stream",
                       "Content-Type": "application/json", "MCP-Protocol-Version": "2026-07-28",
                       "Mcp-Method": "tools/call", "Mcp-Name": "gw.echo"}
            async with httpx.AsyncClient() as http:
                response = await http.post(hub.mcp_url, json=body, headers=headers)
            assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
            assert response.json()["error"]["code"] == -31029
            assert any(r["decision"] == "rate_limited" for r in await audit(hub, target="gw.echo"))


# ---------------------------------------------------------------------------------------------- audit


async def test_every_call_is_audited_in_a_verifiable_chain(tmp_path):
    with http_upstream(GW) as url:
        async with running_hub(tmp_path) as hub:
            await register(hub, url, auto_approve=True)
            _, token = await principal_token(hub, ["tool:gw.echo"])
            async with mcp_client(hub, token) as client:
                await client.call_tool("gw.echo", {"text": "secret-value-123"})
                with pytest.raises(MCPError):
                    await client.call_tool("gw.greet", {"name": "x"})
            records = await audit(hub, action="tools/call")
            by_target = {r["target"]: r for r in records}
            echo, greet = by_target["gw.echo"], by_target["gw.greet"]
            assert echo["decision"] == "allow" and echo["outcome"] == "ok"
            assert echo["definition_hash"] == (await tool(hub, "gw.echo"))["definition_hash"]
            assert echo["argument_digest"].startswith("sha256:") and echo["latency_ms"] >= 0
            assert greet["decision"] == "deny"
            async with hub.http() as admin:
                exported = (await admin.get("/api/v1/audit", params={"format": "jsonl"})).text
                assert "secret-value-123" not in exported
                verified = (await admin.get("/api/v1/audit/verify")).json()
            assert verified["ok"] is True and verified["count"] >= 2


# ---------------------------------------------------------------------------------------------- upstream health


async def test_per_tool_timeout_and_a_circuit_breaker_for_a_dead_upstream(tmp_path):
    port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "tests.upstreams", "http", str(port)], cwd=ROOT)
    try:
        async with running_hub(tmp_path, breaker_failures=2, breaker_reset_s=30) as hub:
            for _ in range(200):  # wait for the upstream without blocking the hub's event loop
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                await asyncio.sleep(0.05)
            async with hub.http() as http:
                response = await http.post("/api/v1/upstreams", json={
                    "name": "up", "transport": "http", "url": f"http://127.0.0.1:{port}/mcp", "auto_approve": True})
                assert response.status_code == 201, response.text
                policy = await http.put("/api/v1/tools/up.slow/policy", json={"timeout_s": 0.5})
                assert policy.status_code == 200 and policy.json()["policy"]["timeout_s"] == 0.5
                bad = await http.put("/api/v1/tools/up.slow/policy", json={"rate_limit": "lots"})
                assert bad.status_code == 422
            async with mcp_client(hub, "test-admin-token-0123456789") as client:
                slow = await client.call_tool("up.slow", {"seconds": 5})
                assert slow.is_error and "within 0.5 s" in slow.content[0].text
                assert (await client.call_tool("up.echo", {"text": "up"})).content[0].text == "up"

                upstream.kill()  # the upstream dies: two failures open its circuit, then calls fail fast
                upstream.wait(10)
                for _ in range(2):
                    failed = await client.call_tool("up.echo", {"text": "x"})
                    assert failed.is_error and "upstream" in failed.content[0].text
                fast = await client.call_tool("up.echo", {"text": "x"})
                assert fast.is_error and "failing" in fast.content[0].text
            outcomes = [r["outcome"] for r in await audit(hub, target="up.echo")]
            assert outcomes[-3:] == ["upstream_error", "upstream_error", "circuit_open"]
            async with hub.http() as http:
                assert (await http.get("/api/v1/upstreams/up")).json()["health"]["circuit"] == "open"
                assert (await http.get("/readyz")).json()["upstreams"]["up"]["circuit"] == "open"
            async with hub.http(token=None) as anonymous:  # a probe without the admin token: counts, no names
                assert (await anonymous.get("/readyz")).json()["upstreams"] == {"count": 1, "unhealthy": 1}
    finally:
        upstream.kill()
        upstream.wait(10)
