"""Two hub replicas on one PostgreSQL database: tokens, suspensions, revocations and key rotations made on
one are honoured by the other within seconds (the OAuth server's sync callbacks run on asyncpg, too)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import POSTGRES_DSN, _admin
from tests.harness import running_hub

PASSWORD = "replica password 123"


@pytest.fixture
def fresh_postgres(postgres_url: str):
    """A database of its own (identity rows must not leak between tests)."""
    name = f"hub_replica_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    yield f"postgresql+asyncpg://{base}/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def eventually(check, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if await check():
            return
        assert time.monotonic() < deadline, "the change did not reach the other replica in time"
        await asyncio.sleep(0.2)


async def status_of(url: str, token: str) -> int:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(f"{url}/api/v1/principals/me", headers={"Authorization": f"Bearer {token}"})
        return response.status_code


async def test_replicas_share_identity_state(tmp_path, fresh_postgres):
    # Both replicas present themselves under one public URL (one issuer), as behind a load balancer.
    public = "http://127.0.0.1:8999"
    settings = dict(database_url=fresh_postgres, public_url=public, allowed_hosts=["127.0.0.1:*"])
    async with running_hub(tmp_path / "a", **settings) as a, running_hub(tmp_path / "b", **settings) as b:
        async with a.http() as http:
            agent = (await http.post("/api/v1/principals", json={
                "name": "Replica agent", "owner": "ops", "purpose": "replication test", "environment": "dev",
                "kind": "agent", "scopes": ["search"]})).json()
            user = await http.post("/api/v1/principals", json={
                "id": "rita", "name": "Rita", "owner": "ops", "purpose": "replication test",
                "environment": "dev", "kind": "user", "password": PASSWORD})
            assert user.status_code == 201, user.text
        async with httpx.AsyncClient(timeout=30) as http:
            token = (await http.post(f"{a.url}/oauth/token", data={"grant_type": "client_credentials"},
                                     auth=(agent["client_id"], agent["client_secret"]))).json()["access_token"]
        assert await status_of(b.url, token) == 200  # minted by A, accepted by B

        # suspension on A reaches B
        async with a.http() as http:
            await http.post(f"/api/v1/principals/{agent['id']}/suspend")
        await eventually(lambda: _is(b.url, token, 401))
        async with b.http() as http:
            await http.post(f"/api/v1/principals/{agent['id']}/reinstate")
        await eventually(lambda: _is(a.url, token, 200))

        # a key rotated on B signs tokens A accepts at once; old tokens keep working
        async with b.http() as http:
            assert (await http.post("/api/v1/keys/rotate")).status_code == 200
        async with httpx.AsyncClient(timeout=30) as http:
            fresh = (await http.post(f"{b.url}/oauth/token", data={"grant_type": "client_credentials"},
                                     auth=(agent["client_id"], agent["client_secret"]))).json()["access_token"]
        assert await status_of(a.url, fresh) == 200
        assert await status_of(a.url, token) == 200

        # authorization code + refresh on A, revocation on B, refusal on A
        tokens = await authorize(a.url, public)
        async with httpx.AsyncClient(timeout=30) as http:
            revoked = await http.post(f"{b.url}/oauth/revoke", data={
                "token": tokens["refresh_token"], "client_id": tokens["client_id"]})
            assert revoked.status_code == 200
        await eventually(lambda: _is(a.url, tokens["access_token"], 401))


async def _is(url: str, token: str, status: int) -> bool:
    return await status_of(url, token) == status


async def authorize(url: str, public: str) -> dict:
    """The authorization-code flow by hand against one replica (PKCE S256, sign-in, consent, exchange)."""
    async with httpx.AsyncClient(timeout=30) as http:
        client = (await http.post(f"{url}/oauth/register", json={
            "redirect_uris": ["http://127.0.0.1:9/cb"], "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"]})).json()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {"response_type": "code", "client_id": client["client_id"], "redirect_uri": "http://127.0.0.1:9/cb",
                  "state": "s1", "code_challenge": challenge, "code_challenge_method": "S256"}
        page = await http.get(f"{url}/oauth/authorize", params=params)
        assert page.status_code == 200, page.text
        form = page.text.split('name="form" value="', 1)[1].split('"', 1)[0]
        answer = await http.post(f"{url}/oauth/authorize", data={
            "form": form, "username": "rita", "password": PASSWORD, "decision": "approve"})
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        assert query["iss"] == [public] and query["state"] == ["s1"]
        exchanged = await http.post(f"{url}/oauth/token", data={
            "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": "http://127.0.0.1:9/cb",
            "code_verifier": verifier, "client_id": client["client_id"]})
        assert exchanged.status_code == 200, exchanged.text
        return {**exchanged.json(), "client_id": client["client_id"]}
