"""`hub serve` as a real process: first start, readiness, and a clean SIGTERM that lets calls finish."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.harness import ROOT, STDIO_UPSTREAM, free_port


async def wait_ready(url: str, proc: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            if proc.returncode is not None:
                raise AssertionError("hub exited during start-up")
            try:
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("hub not ready within 30 s")


async def test_first_start_generates_an_admin_token_and_sigterm_lets_calls_finish(tmp_path):
    port = free_port()
    data_dir = tmp_path / "hub"
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir), "HUB_PORT": str(port), "HUB_PACKS": '["essentials"]'}
    env.pop("HUB_ADMIN_TOKEN", None)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "hub.cli", "serve", env=env, cwd=str(ROOT),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url, proc)
        token_file = data_dir / "admin-token"
        token = token_file.read_text().strip()
        assert token.startswith("hub_admin_")
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"

        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
            response = await http.post("/api/v1/upstreams", json={"auto_approve": True, 
                "name": "local", "transport": "stdio", "command": STDIO_UPSTREAM, "cwd": str(ROOT)})
            assert response.status_code == 201

        async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
                Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
            now = await client.call_tool("essentials.now", {"timezone": "UTC"})
            assert not now.is_error
            call = asyncio.create_task(client.call_tool("local.slow", {"seconds": 1.5}))
            await asyncio.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            result = await call
            assert not result.is_error and result.content[0].text == "done"
        # uvicorn re-raises the captured SIGTERM after its graceful shutdown: -15 is the clean exit
        assert await asyncio.wait_for(proc.wait(), 30) in (0, -signal.SIGTERM)
        output = (await proc.stdout.read()).decode()
        assert "hub stopped: upstreams closed, database closed" in output
        assert "generated the bootstrap admin token" in output
        assert output.count(token) == 1  # printed once at first start, never logged again
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
