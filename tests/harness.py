"""Run a real hub (uvicorn on a loopback port) and real upstream processes for tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import httpx2
import uvicorn

from hub.app import create_app
from hub.config import Settings
from hub.http_protocol import HubHttpProtocol

ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "test-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningHub:
    url: str
    settings: Settings
    server: uvicorn.Server

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"

    def http(self, token: str | None = ADMIN_TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=60)

    def mcp_http(self, token: str | None = ADMIN_TOKEN) -> httpx2.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60, read=120))


@contextlib.asynccontextmanager
async def running_hub(tmp_path: Path, **overrides: object) -> AsyncIterator[RunningHub]:
    port = free_port()
    values: dict[str, object] = dict(
        data_dir=tmp_path / "hub", host="127.0.0.1", port=port, admin_token=ADMIN_TOKEN, packs=[],
        upstream_timeout_s=20, sync_interval_s=3600,
        search=False,  # the search tests turn it on; elsewhere the model would only load in the background
    )
    values.update(overrides)
    settings = Settings(**values)  # type: ignore[arg-type]
    protocol = HubHttpProtocol.with_read_timeout(settings.request_read_timeout_s)  # as `hub serve` runs
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", http=protocol))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        if task.done():
            task.result()
        if time.monotonic() > deadline:
            raise RuntimeError("hub did not start")
        await asyncio.sleep(0.02)
    try:
        yield RunningHub(f"http://127.0.0.1:{port}", settings, server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@contextlib.contextmanager
def listening_process(argv: list[str], port: int, what: str) -> Iterator[subprocess.Popen[bytes]]:
    """A child process (run from the repository root) once it accepts connections on `port`; stopped after."""
    proc = subprocess.Popen(argv, cwd=ROOT)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start")
            time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def http_upstream(module: str = "tests.upstreams", *args: str) -> Iterator[str]:
    """A real upstream MCP server process over Streamable HTTP; yields its /mcp URL."""
    port = free_port()
    with listening_process([sys.executable, "-m", module, "http", str(port), *args], port, f"upstream {module}"):
        yield f"http://127.0.0.1:{port}/mcp"


STDIO_UPSTREAM = [sys.executable, "-m", "tests.upstreams", "stdio"]
