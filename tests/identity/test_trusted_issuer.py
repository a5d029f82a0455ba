"""A second OAuth issuer on loopback (an organisation's IdP) whose tokens the hub is told to trust."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.harness import ADMIN_TOKEN, free_port, running_hub


@contextlib.asynccontextmanager
async def identity_provider() -> AsyncIterator[tuple[str, RSAKey, list[str]]]:
    key = RSAKey.generate_key(2048, parameters={"kid": "corp-1", "alg": "RS256", "use": "sig"})
    seen: list[str] = []

    async def jwks(request):
        seen.append(request.url.path)
        return JSONResponse({"keys": [key.as_dict(private=False)]})

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/jwks", jwks)]), host="127.0.0.1", port=port,
                                           log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", key, seen
    finally:
        server.should_exit = True
        await task


def mint(key: RSAKey, issuer: str, **claims) -> str:
    now = int(time.time())
    body = {"iss": issuer, "sub": "alice", "aud": "hub-api", "iat": now, "exp": now + 300, "scp": ["search"]}
    body.update(claims)
    header = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
    header.update(body.pop("_header", {}))
    return jwt.encode(header, body, key, algorithms=["RS256"])


@contextlib.asynccontextmanager
async def hub_trusting(tmp_path, issuer: str) -> AsyncIterator:
    trusted = {"issuer": issuer, "jwks_uri": f"{issuer}/jwks", "audience": ["hub-api"], "algorithms": ["RS256"],
               "token_types": ["JWT", "at+jwt"], "principal_prefix": "corp:", "scope_claim": "scp",
               "allowed_scopes": ["search"], "allow_http_loopback": True}
    async with running_hub(tmp_path, trusted_issuers=[trusted]) as hub:
        async with hub.http() as http:
            response = await http.post("/api/v1/principals", json={
                "id": "corp:alice", "name": "Alice (corporate IdP)", "owner": "identity-team",
                "purpose": "staff access", "environment": "dev", "kind": "agent", "scopes": ["upstream:r"]})
            assert response.status_code == 201, response.text
        yield hub


async def me(hub, token: str):
    async with hub.http(token=token) as http:
        return await http.get("/api/v1/principals/me")


async def test_tokens_of_a_trusted_issuer_map_to_registered_principals(tmp_path):
    async with identity_provider() as (issuer, key, seen), hub_trusting(tmp_path, issuer) as hub:
        response = await me(hub, mint(key, issuer))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == "corp:alice"
        assert body["via"] == f"issuer:{issuer}"
        # the hub's grant plus the IdP's scope claim, limited to what the operator allows from this issuer
        assert body["scopes"] == ["search", "upstream:r"]
        assert seen == ["/jwks"]

        limited = await me(hub, mint(key, issuer, scp=["search", "admin"]))
        assert limited.json()["scopes"] == ["search", "upstream:r"]  # admin is not the IdP's to give


async def test_a_trusted_issuer_gets_no_leeway_on_the_rules(tmp_path):
    async with identity_provider() as (issuer, key, seen), hub_trusting(tmp_path, issuer) as hub:
        cases = {
            "unregistered subject": (mint(key, issuer, sub="mallory"), "not registered"),
            "wrong audience": (mint(key, issuer, aud="another-api"), "aud"),
            "expired": (mint(key, issuer, exp=int(time.time()) - 600), "expired"),
            "other issuer": (mint(key, "http://127.0.0.1:1"), "untrusted issuer"),
            "jku header": (mint(key, issuer, _header={"jku": f"{issuer}/evil"}), "jku"),
        }
        forged_key = RSAKey.generate_key(2048, parameters={"kid": "corp-1"})
        cases["signed by another key with the same kid"] = (mint(forged_key, issuer), "signature")
        same_key_any_alg = RSAKey.import_key({k: v for k, v in key.as_dict(private=True).items() if k != "alg"})
        ps = jwt.encode({"alg": "PS256", "typ": "JWT", "kid": "corp-1"},
                        {"iss": issuer, "sub": "alice", "aud": "hub-api", "exp": int(time.time()) + 60},
                        same_key_any_alg, algorithms=["PS256"])
        cases["not pinned algorithm"] = (ps, "algorithm")
        for name, (token, message) in cases.items():
            response = await me(hub, token)
            assert response.status_code == 401, name
            assert message in response.json()["detail"], (name, response.json())
        assert "/evil" not in seen  # the jku URL was never fetched


async def test_the_admin_token_still_works_beside_trusted_issuers(tmp_path):
    async with identity_provider() as (issuer, _key, _seen), hub_trusting(tmp_path, issuer) as hub:
        response = await me(hub, ADMIN_TOKEN)
        assert response.status_code == 200 and response.json()["id"] == "admin"
