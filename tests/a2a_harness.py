"""Run the fixture A2A agent (tests.fixtures.a2a_agent) as a real process, and make signing keys for it."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH
from joserfc.jwk import ECKey

from tests.harness import ADMIN_TOKEN, RunningHub, free_port, listening_process


@dataclass
class AgentProcess:
    url: str
    process: subprocess.Popen[bytes]

    @property
    def card_url(self) -> str:
        return f"{self.url}{AGENT_CARD_WELL_KNOWN_PATH}"

    @property
    def jsonrpc_url(self) -> str:
        return f"{self.url}/a2a/jsonrpc"

    @property
    def rest_url(self) -> str:
        return f"{self.url}/a2a/rest"

    async def set_card(self, description: str, skills: list[str] | None = None) -> dict[str, Any]:
        """Change the served card; `skills` as `ID:NAME:DESCRIPTION` strings (None keeps them)."""
        body: dict[str, Any] = {"description": description}
        if skills is not None:
            body["skills"] = skills
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.post(f"{self.url}/_control/card", json=body)
            r.raise_for_status()
            return r.json()

    async def requests(self) -> dict[str, Any]:
        """`{"count": n, "authorization": [header or None, ...], "card_requests": m}`."""
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.get(f"{self.url}/_control/requests")
            r.raise_for_status()
            return r.json()


@contextlib.contextmanager
def a2a_agent(*args: str) -> Iterator[AgentProcess]:
    """The fixture agent on a free loopback port, with extra CLI `args` (e.g. "--token", "t")."""
    port = free_port()
    argv = [sys.executable, "-m", "tests.fixtures.a2a_agent", str(port), *args]
    with listening_process(argv, port, f"A2A agent (args {args})") as proc:
        yield AgentProcess(f"http://127.0.0.1:{port}", proc)


def ec_jwk(kid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fresh ES256 key: (private JWK, public JWKS `{"keys": [...]}`)."""
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": kid, "alg": "ES256", "use": "sig"})
    return dict(key.as_dict(private=True)), {"keys": [dict(key.as_dict(private=False))]}


def write_jwk(tmp_path: Path, jwk: dict[str, Any]) -> Path:
    path = tmp_path / f"jwk-{jwk.get('kid', 'key')}.json"
    path.write_text(json.dumps(jwk))
    return path


# -- the hub's agent registry and A2A proxy -------------------------------------------------------

A2A_HEADERS = {"A2A-Version": "1.0"}
AGENT_SECRET = "agent-secret"
AGENT_AUTH = {"auth": {"type": "headers", "headers": {"Authorization": f"Bearer {AGENT_SECRET}"}}}


async def register_agent(hub: RunningHub, token: str | None = ADMIN_TOKEN, **body: Any) -> httpx.Response:
    """`POST /api/v1/agents` with `body` (card_url or card, id, settings, ...) as `token`'s principal."""
    async with hub.http(token) as http:
        return await http.post("/api/v1/agents", json=body)


async def approve_agent(hub: RunningHub, agent_id: str, card_hash: str | None = None) -> httpx.Response:
    async with hub.http() as admin:
        return await admin.post(f"/api/v1/agents/{agent_id}/approve",
                                json={"card_hash": card_hash} if card_hash else {})


async def approved_agent(hub: RunningHub, agent: AgentProcess, agent_id: str, **body: Any) -> dict[str, Any]:
    """Register `agent` by its card URL under `agent_id` (as the admin) and approve it; the registration."""
    response = await register_agent(hub, card_url=agent.card_url, id=agent_id, **body)
    assert response.status_code == 201, response.text
    registered = response.json()
    response = await approve_agent(hub, agent_id, registered["card_hash"])
    assert response.status_code == 200, response.text
    return registered


def user_message(text: str, **fields: Any) -> dict[str, Any]:
    """An A2A 1.0 user message as ProtoJSON."""
    return {"role": "ROLE_USER", "messageId": str(uuid.uuid4()), "parts": [{"text": text}], **fields}


async def rpc(http: httpx.AsyncClient, path: str, method: str, params: dict[str, Any],
              headers: dict[str, str] | None = A2A_HEADERS) -> httpx.Response:
    """One JSON-RPC request to `path` on the hub."""
    body = {"jsonrpc": "2.0", "id": str(uuid.uuid4()), "method": method, "params": params}
    return await http.post(path, json=body, headers=headers)
