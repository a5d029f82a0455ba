"""The admin's command line for the gateway: approve tools, kill switches, the access-request queue."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from tests.gateway.e2e import GW, principal_token, register, tool
from tests.harness import ADMIN_TOKEN, ROOT, RunningHub, http_upstream, running_hub


async def hub_cli(hub: RunningHub, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "HUB_TOKEN": ADMIN_TOKEN}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "hub.cli", *args, "--url", hub.url, env=env,
                                                cwd=str(ROOT), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_tools_access_and_upstream_commands(tmp_path):
    with http_upstream(GW) as url:
        async with running_hub(tmp_path) as hub:
            await register(hub, url)
            code, out, _ = await hub_cli(hub, "tools", "approve", "gw.echo")
            assert code == 0 and '"state": "approved"' in out and '"description": "Echo the text back."' in out
            assert (await tool(hub, "gw.echo"))["state"] == "approved"
            code, _, err = await hub_cli(hub, "tools", "approve", "gw.greet", "--hash", "sha256:stale")
            assert code == 1 and "409" in err and "review it again" in err

            code, out, _ = await hub_cli(hub, "upstream", "disable", "gw", "--reason", "incident 42")
            assert code == 0 and json.loads(out)["enabled"] is False
            code, out, _ = await hub_cli(hub, "upstream", "enable", "gw")
            assert code == 0 and json.loads(out)["enabled"] is True
            code, out, _ = await hub_cli(hub, "tools", "disable", "gw.echo")
            assert code == 0 and json.loads(out)["state"] == "disabled"

            _, token = await principal_token(hub, [])
            async with hub.http(token) as http:
                created = (await http.post("/api/v1/access-requests",
                                           json={"scopes": ["tool:gw.greet"], "reason": "greeting people"})).json()
            code, out, _ = await hub_cli(hub, "access", "list")
            assert code == 0 and created["id"] in out and "tool:gw.greet" in out and "greeting people" in out
            code, out, _ = await hub_cli(hub, "access", "approve", created["id"], "--reason", "fine")
            assert code == 0 and json.loads(out)["state"] == "approved"
            code, _, err = await hub_cli(hub, "access", "deny", created["id"])
            assert code == 1 and "409" in err
            code, out, _ = await hub_cli(hub, "calls", "list")
            assert code == 0 and json.loads(out) == {"call_approvals": []}
