"""A loopback "agent" that answers anything and records every request line, and inline cards: for tests of
what the hub's A2A proxy lets through."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.harness import RunningHub, free_port


def rpc_error(response: httpx.Response) -> int:
    """The code of an A2A JSON-RPC error answered with HTTP 200."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert "result" not in body, body
    return body["error"]["code"]


@dataclass
class Recording:
    url: str
    seen: list[tuple[str, bytes]] = field(default_factory=list)  # (method, raw path as received)

    def card(self, name: str = "Recorder") -> dict[str, Any]:
        """An A2A 1.0 card whose endpoints live under /svc/a2a/ on this server."""
        return {"name": name, "description": "answers anything", "version": "1.0",
                "supportedInterfaces": [
                    {"url": f"{self.url}/svc/a2a/rest", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"},
                    {"url": f"{self.url}/svc/a2a/jsonrpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}],
                "capabilities": {}, "defaultInputModes": ["text/plain"], "defaultOutputModes": ["text/plain"],
                "skills": [{"id": "echo", "name": "echo", "description": "echoes", "tags": ["test"]}]}


@contextlib.asynccontextmanager
async def recording_agent() -> AsyncIterator[Recording]:
    port = free_port()
    recording = Recording(f"http://127.0.0.1:{port}")

    async def record(request: Request) -> JSONResponse:
        recording.seen.append((request.method, request.scope["raw_path"]))
        return JSONResponse({"tasks": [], "note": "not an A2A answer"})

    app = Starlette(routes=[Route("/{path:path}", record, methods=["GET", "POST", "DELETE"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:  # readiness, not synchronisation: serve() sets it once it listens
        if task.done():
            task.result()
        assert time.monotonic() < deadline, "the recording agent did not start"
        await asyncio.sleep(0.02)
    try:
        yield recording
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


async def approve_inline_agent(hub: RunningHub, agent_id: str, card: dict[str, Any]) -> None:
    async with hub.http() as admin:
        registered = await admin.post("/api/v1/agents", json={"card": card, "id": agent_id})
        assert registered.status_code == 201, registered.text
        approved = await admin.post(f"/api/v1/agents/{agent_id}/approve", json={})
        assert approved.status_code == 200, approved.text


def card_without_network(name: str = "Inline") -> dict[str, Any]:
    """A valid card registered inline: nothing is fetched or called while registering it."""
    return {"name": name, "description": "d", "version": "1.0",
            "supportedInterfaces": [{"url": "https://agent.example/a2a", "protocolBinding": "JSONRPC",
                                     "protocolVersion": "1.0"}],
            "capabilities": {}, "defaultInputModes": ["text/plain"], "defaultOutputModes": ["text/plain"],
            "skills": [{"id": "s", "name": "s", "description": "s", "tags": ["t"]}]}
