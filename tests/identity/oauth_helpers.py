"""Small helpers for the identity tests: principals, tokens, PKCE, forging JWTs, driving the consent page."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import json
import re
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.harness import RunningHub, free_port

PASSWORD = "correct horse battery staple"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a JWS compact token, without checking anything."""
    head, body, _ = token.split(".")
    return (json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))),
            json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


async def create_principal(hub: RunningHub, **fields: Any) -> dict[str, Any]:
    body = {"name": "test principal", "owner": "tests", "purpose": "identity tests", "environment": "dev",
            "kind": "service", **fields}
    async with hub.http() as admin:
        response = await admin.post("/api/v1/principals", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def create_user(hub: RunningHub, user_id: str = "alice", scopes: list[str] | None = None) -> dict[str, Any]:
    return await create_principal(hub, id=user_id, name=user_id, kind="user", password=PASSWORD,
                                  scopes=scopes or ["search"])


async def token_request(hub: RunningHub, data: dict[str, str], auth: tuple[str, str] | None = None
                        ) -> httpx.Response:
    async with hub.http(token=None) as http:
        return await http.post("/oauth/token", data=data, auth=auth)


async def client_credentials(hub: RunningHub, client_id: str, secret: str, **form: str) -> httpx.Response:
    return await token_request(hub, {"grant_type": "client_credentials", **form}, auth=(client_id, secret))


async def service_token(hub: RunningHub, scopes: list[str] | None = None, **form: str) -> tuple[dict, str]:
    """A new service principal and an access token for it: (principal, access token)."""
    principal = await create_principal(hub, scopes=scopes if scopes is not None else ["search"])
    response = await client_credentials(hub, principal["client_id"], principal["client_secret"], **form)
    assert response.status_code == 200, response.text
    return principal, response.json()["access_token"]


async def me(hub: RunningHub, token: str | None) -> httpx.Response:
    async with hub.http(token=token) as http:
        return await http.get("/api/v1/principals/me")


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 2.5) -> bool:
    """Poll `check` until it holds or `timeout` passes; the final verdict."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)


async def rejected_within(hub: RunningHub, token: str, timeout: float = 2.5) -> bool:
    async def check() -> bool:
        return (await me(hub, token)).status_code == 401

    return await eventually(check, timeout)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge


# -- forging tokens -----------------------------------------------------------------------------------


def hub_signing_key(hub: RunningHub) -> ECKey:
    """The hub's active private signing key, read straight from its database."""
    with sqlite3.connect(hub.settings.data_dir / "hub.db") as db:
        rows = db.execute("SELECT private_jwk FROM signing_keys WHERE state = 'active' ORDER BY created_at").fetchall()
    assert rows, "the hub has no active signing key"
    value = rows[-1][0]
    return ECKey.import_key(json.loads(value) if isinstance(value, str) else value)


def claims_for(hub: RunningHub, subject: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": hub.url, "sub": subject, "aud": hub.url, "client_id": subject, "scope": "", "iat": now,
        "nbf": now, "exp": now + 300, "jti": secrets.token_urlsafe(12), "env": "dev", "fam": secrets.token_hex(12),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(key: ECKey, claims: dict[str, Any], **header: Any) -> str:
    """An ES256 JWS over `claims`; header defaults typ=at+jwt and the key's kid (None drops a field)."""
    values: dict[str, Any] = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
    values.update(header)
    values = {k: v for k, v in values.items() if v is not None}
    return jwt.encode(values, claims, key, algorithms=["ES256"])


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64json(header)}.{b64json(claims)}.{b64url(signature)}"


def new_key(kid: str | None = None) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid or "k-" + secrets.token_hex(4), "alg": "ES256"},
                              private=True)


# -- a loopback HTTP server that counts what reaches it ------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.connections = 0
        self.url = ""


@asynccontextmanager
async def recording_server(body: bytes = b'{"keys": []}') -> AsyncIterator[Recorder]:
    recorder = Recorder()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        recorder.connections += 1
        with suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    port = free_port()
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    recorder.url = f"http://127.0.0.1:{port}"
    try:
        yield recorder
    finally:
        server.close()
        await server.wait_closed()


# -- the authorization code flow, by hand --------------------------------------------------------------


async def register_public_client(hub: RunningHub, redirect_uri: str, **extra: Any) -> dict[str, Any]:
    body = {"redirect_uris": [redirect_uri], "client_name": "test app", "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"], **extra}
    async with hub.http(token=None) as http:
        response = await http.post("/oauth/register", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def authorize_params(client_id: str, redirect_uri: str, challenge: str | None, **extra: str | None
                     ) -> dict[str, str]:
    params: dict[str, str | None] = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                                     "code_challenge": challenge, "code_challenge_method": "S256",
                                     "state": "st-" + secrets.token_hex(4), "scope": "mcp"}
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def sealed_form(page: str) -> str:
    found = re.search(r'name="form" value="([^"]+)"', page)
    assert found, "no sealed form on the consent page"
    return html.unescape(found.group(1))


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class Browser:
    """A user agent on the consent page: keeps the hub_consent cookie between GET and POST."""

    def __init__(self, hub: RunningHub) -> None:
        self.hub = hub
        self.http = hub.http(token=None)

    async def __aenter__(self) -> Browser:
        await self.http.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.__aexit__(*exc)

    async def open(self, params: dict[str, str]) -> httpx.Response:
        return await self.http.get("/oauth/authorize", params=params)

    async def decide(self, page: httpx.Response, decision: str = "approve", username: str = "alice",
                     password: str = PASSWORD, cookie: bool = True) -> httpx.Response:
        cookies = {"hub_consent": page.cookies["hub_consent"]} if cookie else {}
        self.http.cookies.clear()
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
        return await self.http.post("/oauth/authorize", headers=headers, data={
            "form": sealed_form(page.text), "username": username, "password": password, "decision": decision})

    async def approve(self, params: dict[str, str], **kwargs: Any) -> dict[str, str]:
        """Open the consent page and approve: the query of the redirect (code, state, iss)."""
        page = await self.open(params)
        assert page.status_code == 200, page.text
        response = await self.decide(page, **kwargs)
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert location.startswith(params["redirect_uri"] + "?"), location
        return query_of(location)


async def exchange(hub: RunningHub, client_id: str, code: str, redirect_uri: str, verifier: str | None
                   ) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "client_id": client_id}
    if verifier is not None:
        data["code_verifier"] = verifier
    return await token_request(hub, data)


async def refresh(hub: RunningHub, client_id: str, refresh_token: str) -> httpx.Response:
    return await token_request(hub, {"grant_type": "refresh_token", "refresh_token": refresh_token,
                                     "client_id": client_id})


async def user_tokens(hub: RunningHub, redirect_uri: str | None = None) -> tuple[dict, dict[str, Any], str]:
    """A user, a public client and one completed authorization code flow: (client, token response, redirect)."""
    redirect_uri = redirect_uri or f"http://127.0.0.1:{free_port()}/cb"
    await create_user(hub)
    client = await register_public_client(hub, redirect_uri)
    verifier, challenge = pkce()
    async with Browser(hub) as browser:
        result = await browser.approve(authorize_params(client["client_id"], redirect_uri, challenge))
    response = await exchange(hub, client["client_id"], result["code"], redirect_uri, verifier)
    assert response.status_code == 200, response.text
    return client, response.json(), redirect_uri





def oauth_error(response: httpx.Response, status: int | tuple[int, ...], error: str) -> dict[str, Any]:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.text
    body = response.json()
    assert body["error"] == error, body
    return body


def assert_error_page(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert fragment in response.text, response.text
