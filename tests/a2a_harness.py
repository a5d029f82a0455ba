"""Run the fixture A2A agent (tests.fixtures.a2a_agent) as a real process, and make signing keys for it."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH
from joserfc.jwk import ECKey

from tests.harness import ROOT, free_port


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
    proc = subprocess.Popen([sys.executable, "-m", "tests.fixtures.a2a_agent", str(port), *args], cwd=ROOT)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"A2A agent did not start (args {args})")
            time.sleep(0.05)
        yield AgentProcess(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def ec_jwk(kid: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A fresh ES256 key: (private JWK, public JWKS `{"keys": [...]}`)."""
    key = ECKey.generate_key("P-256", private=True, parameters={"kid": kid, "alg": "ES256", "use": "sig"})
    return dict(key.as_dict(private=True)), {"keys": [dict(key.as_dict(private=False))]}


def write_jwk(tmp_path: Path, jwk: dict[str, Any]) -> Path:
    path = tmp_path / f"jwk-{jwk.get('kid', 'key')}.json"
    path.write_text(json.dumps(jwk))
    return path
