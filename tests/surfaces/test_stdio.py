"""`hub stdio`: the same hub over stdin/stdout, spawned by a real MCP client."""

from __future__ import annotations

import os
import sys

import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from tests.harness import ROOT, STDIO_UPSTREAM, running_hub


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_surface_serves_the_catalog(tmp_path, mode):
    data_dir = tmp_path / "hub"
    # register an upstream through a running HTTP hub sharing the same data dir, then stop it
    async with running_hub(tmp_path) as hub, hub.http() as http:
        response = await http.post("/api/v1/upstreams", json={"auto_approve": True, 
            "name": "local", "transport": "stdio", "command": STDIO_UPSTREAM, "cwd": str(ROOT)})
        assert response.status_code == 201
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir), "HUB_ADMIN_TOKEN": "stdio-admin", "HUB_TOKEN": "stdio-admin",
           "HUB_PACKS": "[]"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "hub.cli", "stdio"], env=env, cwd=str(ROOT))
    async with Client(params, mode=mode) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert "local.echo" in names
        result = await client.call_tool("local.echo", {"text": "over stdio"})
        assert result.content[0].text == "over stdio"
        with pytest.raises(MCPError):
            await client.call_tool("local.missing", {})


async def test_stdio_refuses_to_start_without_a_credential(tmp_path):
    import asyncio

    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path / "hub"), "HUB_ADMIN_TOKEN": "x", "HUB_PACKS": "[]"}
    env.pop("HUB_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "hub.cli", "stdio", env=env, cwd=str(ROOT),
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert b"HUB_TOKEN" in err
