"""Real processes for the gateway's deployment tests: `hub serve`, an upstream, Redis and PostgreSQL on
loopback, each in its own session and always stopped; and the small HTTP helpers those tests call with.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conftest import POSTGRES_DSN, _admin
from tests.harness import ROOT, free_port

ADMIN_TOKEN = "process-test-admin-token-0123456789"
PROTOCOL = "2026-07-28"
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379")
TOOL = "up.echo"
START_TIMEOUT_S = 60.0  # a hub imports a lot; a loaded 2-core CI box is slow to start one


def _unavailable(what: str) -> None:
    if os.environ.get("CI"):  # CI has the services: a missing one is a failure, never a silent skip
        pytest.fail(what)
    pytest.skip(what)


# ---------------------------------------------------------------------------------------------- processes


class Processes:
    """Child processes in their own sessions, logging to files; `close` stops every one still running."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}  # nothing from outside leaks in
        with open(self.log_dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(argv, cwd=ROOT, env={**base, **(env or {})}, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def log(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self, name: str) -> None:
        """SIGKILL, and reap it."""
        proc = self.procs[name]
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    """Request it after the database fixtures, so that the processes stop before their database is dropped."""
    p = Processes(tmp_path)
    try:
        yield p
    finally:
        p.close()


@dataclass
class Hub:
    name: str
    url: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60)


async def start_hub(procs: Processes, name: str, data_dir: Path, **env: str) -> Hub:
    """`python -m hub.cli serve` on a free loopback port, ready (its /readyz answers 200) when this returns."""
    port = free_port()
    values = {"HUB_DATA_DIR": str(data_dir), "HUB_HOST": "127.0.0.1", "HUB_PORT": str(port),
              "HUB_ADMIN_TOKEN": ADMIN_TOKEN, "HUB_PACKS": "[]", "HUB_LOG_LEVEL": "warning",
              "HUB_SYNC_INTERVAL_S": "3600", "HUB_SEARCH": "false", **env}
    proc = procs.start(name, [sys.executable, "-m", "hub.cli", "serve"], values)
    hub = Hub(name, f"http://127.0.0.1:{port}", values, proc)
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited during start-up:\n{procs.log(name)}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{hub.url}/readyz")).status_code == 200:
                    return hub
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} not ready within {START_TIMEOUT_S:.0f} s:\n{procs.log(name)}")
            await asyncio.sleep(0.1)


async def wait_listening(procs: Processes, name: str, port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if procs.procs[name].poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{name} did not start listening on {port}:\n{procs.log(name)}")
        await asyncio.sleep(0.05)


async def start_upstream(procs: Processes) -> str:
    """`python -m tests.upstreams http PORT` (tool `echo`); its /mcp URL."""
    port = free_port()
    procs.start("upstream", [sys.executable, "-m", "tests.upstreams", "http", str(port)])
    await wait_listening(procs, "upstream", port)
    return f"http://127.0.0.1:{port}/mcp"


def start_redis(procs: Processes, name: str, port: int) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable("no redis-server binary on PATH")
    assert binary is not None
    procs.start(name, [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
    client = redis.Redis(port=port, socket_connect_timeout=1, socket_timeout=1)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                if procs.procs[name].poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"redis-server on {port} did not start:\n{procs.log(name)}") from None
                time.sleep(0.05)
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------- services


@pytest.fixture
def shared_redis() -> Iterator[redis.Redis]:
    """The Redis server at HUB_TEST_REDIS_URL (default 127.0.0.1:6379)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except (redis.exceptions.RedisError, OSError) as e:
        client.close()
        _unavailable(f"no Redis server at {REDIS_URL}: {e}")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def fresh_postgres(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database of this test's own (the session's one is shared with tests that empty tables)."""
    name = f"hub_proc_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgresql+asyncpg://{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ---------------------------------------------------------------------------------------------- API helpers


async def register_upstream(hub: Hub, url: str) -> None:
    async with hub.admin() as http:
        response = await http.post("/api/v1/upstreams", json={"name": "up", "transport": "http", "url": url,
                                                               "auto_approve": True})
    assert response.status_code == 201, response.text


async def create_principal(hub: Hub, scopes: list[str]) -> dict[str, Any]:
    body = {"name": "process test", "owner": "tests", "purpose": "process tests", "environment": "dev",
            "kind": "service", "scopes": scopes}
    async with hub.admin() as http:
        response = await http.post("/api/v1/principals", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def access_token(hub: Hub, principal: dict[str, Any]) -> str:
    """A client_credentials token from this hub, once it knows the principal (replicas re-read identities)."""
    deadline = time.monotonic() + 10
    async with httpx.AsyncClient(base_url=hub.url, timeout=30) as http:
        while True:
            response = await http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                       auth=(principal["client_id"], principal["client_secret"]))
            if response.status_code == 200:
                token = response.json()["access_token"]
                me = await http.get("/api/v1/principals/me", headers={"Authorization": f"Bearer {token}"})
                if me.status_code == 200:
                    return token
            assert time.monotonic() < deadline, f"{hub.name} did not accept the principal: {response.text}"
            await asyncio.sleep(0.2)


def traceparent() -> tuple[str, str]:
    """(a W3C traceparent header value, its trace id)."""
    trace = secrets.token_hex(16)
    return f"00-{trace}-{secrets.token_hex(8)}-01", trace


def digest(arguments: dict[str, Any]) -> str:
    text = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


async def call(http: httpx.AsyncClient, hub: Hub, token: str, arguments: dict[str, Any], *,
               trace: str | None = None, request_id: int = 1) -> httpx.Response:
    """One stateless 2026-07-28 tools/call of up.echo."""
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {
        "name": TOOL, "arguments": arguments, "_meta": {
            "io.modelcontextprotocol/protocolVersion": PROTOCOL,
            "io.modelcontextprotocol/clientCapabilities": {}}}}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
               "Content-Type": "application/json", "MCP-Protocol-Version": PROTOCOL,
               "Mcp-Method": "tools/call", "Mcp-Name": TOOL}
    if trace is not None:
        headers["traceparent"] = trace
    return await http.post(f"{hub.url}/mcp", json=body, headers=headers)


def message(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC message of an answer, whether sent as JSON or as one SSE event."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        for line in response.text.splitlines():
            if line.startswith("data:") and line[5:].strip():
                return json.loads(line[5:])
        raise AssertionError(f"no message in {response.text[:300]!r}")
    return response.json()


def echoed(response: httpx.Response, text: str) -> bool:
    """A complete HTTP 200 JSON-RPC success whose result echoes `text`: the call was acknowledged."""
    if response.status_code != 200:
        return False
    result = message(response).get("result")
    return (isinstance(result, dict) and not result.get("isError")
            and (result.get("content") or [{}])[0].get("text") == text)


async def wait_callable(hub: Hub, http: httpx.AsyncClient) -> None:
    """Until this hub serves up.echo end to end (a replica picks a new upstream up from the shared catalog)."""
    deadline = time.monotonic() + 20
    while True:
        response = await call(http, hub, ADMIN_TOKEN, {"text": "ready?"})
        if echoed(response, "ready?"):
            return
        assert time.monotonic() < deadline, f"{hub.name} never served {TOOL}: {response.status_code} {response.text}"
        await asyncio.sleep(0.2)


async def audit_records(hub: Hub, **filters: str) -> list[dict[str, Any]]:
    """Every matching audit record, through the JSON-lines export."""
    async with hub.admin() as http:
        response = await http.get("/api/v1/audit", params={"format": "jsonl", **filters})
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]
