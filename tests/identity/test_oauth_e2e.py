"""End to end with the mcp SDK's own OAuth clients: discovery, registration (DCR and CIMD), PKCE,
sign-in and consent, token exchange, then tools/list and tools/call through the hub to a real upstream."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.harness import free_port, http_upstream, running_hub

PASSWORD = "correct horse battery staple"


class Memory:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Person:
    """Plays the user at the browser: opens the authorization URL, signs in, approves."""

    def __init__(self, username: str, password: str = PASSWORD) -> None:
        self.username, self.password = username, password
        self.result: AuthorizationCodeResult | None = None
        self.pages: list[str] = []

    async def open(self, url: str) -> None:
        async with httpx.AsyncClient(timeout=30) as browser:
            page = await browser.get(url)
            assert page.status_code == 200, page.text
            assert page.headers["x-frame-options"] == "DENY"
            self.pages.append(page.text)
            form = re.search(r'name="form" value="([^"]+)"', page.text)
            assert form, page.text
            answer = await browser.post(
                urlsplit(url)._replace(query="").geturl(),
                data={"form": form.group(1).replace("&amp;", "&"), "username": self.username,
                      "password": self.password, "decision": "approve"},
            )
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        self.result = AuthorizationCodeResult(code=query["code"][0], state=query.get("state", [None])[0],
                                              iss=query.get("iss", [None])[0])

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


async def create(hub, body: dict) -> dict:
    async with hub.http() as http:
        response = await http.post("/api/v1/principals", json=body)
        assert response.status_code == 201, response.text
        return response.json()


async def call_through(hub, auth: httpx2.Auth) -> tuple[list[str], str]:
    async with httpx2.AsyncClient(auth=auth, timeout=30) as http, \
            Client(streamable_http_client(hub.mcp_url, http_client=http)) as client:
        tools = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool("r.echo", {"text": "through oauth"})
        return tools, result.content[0].text


@contextlib.asynccontextmanager
async def oauth_hub(tmp_path: Path, **settings) -> AsyncIterator:
    with http_upstream() as upstream:
        async with running_hub(tmp_path, **settings) as hub:
            async with hub.http() as http:
                response = await http.post("/api/v1/upstreams", json={"name": "r", "transport": "http",
                                                                      "url": upstream, "auto_approve": True})
                assert response.status_code == 201, response.text
            yield hub


async def test_interactive_client_registers_dynamically_signs_in_and_calls_tools(tmp_path):
    async with oauth_hub(tmp_path) as hub:
        await create(hub, {"id": "alice", "name": "Alice", "owner": "platform-team", "purpose": "interactive use",
                           "environment": "dev", "kind": "user", "password": PASSWORD, "scopes": ["upstream:r"]})
        person = Person("alice")
        storage = Memory()
        auth = OAuthClientProvider(
            hub.mcp_url,
            OAuthClientMetadata(redirect_uris=["http://127.0.0.1:9/callback"], client_name="Test Desktop",
                                token_endpoint_auth_method="none", grant_types=["authorization_code", "refresh_token"]),
            storage, redirect_handler=person.open, callback_handler=person.callback,
        )
        tools, echoed = await call_through(hub, auth)
        assert "r.echo" in tools and echoed == "through oauth"
        # Dynamic registration happened, the consent page named the client, and the token is the user's.
        assert storage.client and storage.client.client_id.startswith("dcr-")
        assert "Test Desktop" in person.pages[0]
        assert person.result and person.result.iss == hub.url
        async with hub.http(token=storage.tokens.access_token) as http:
            # issued for the MCP resource: refused by the REST surface, as RFC 8707 binds it
            assert (await http.get("/api/v1/principals/me")).status_code == 401
        assert storage.tokens.refresh_token


def _tls_pair(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for localhost/127.0.0.1 signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@contextlib.asynccontextmanager
async def document_server(tmp_path: Path, document: dict) -> AsyncIterator[tuple[str, list[str], str]]:
    """Serves one Client ID Metadata Document over https on loopback; yields its URL and the request log."""
    ca, cert, key = _tls_pair(tmp_path)
    port = free_port()
    url = f"https://localhost:{port}/clients/desktop.json"
    seen: list[str] = []

    async def serve(request):
        seen.append(request.url.path)
        return JSONResponse({**document, "client_id": url})

    app = Starlette(routes=[Route("/clients/desktop.json", serve)])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ssl_certfile=str(cert), ssl_keyfile=str(key)))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield url, seen, str(ca)
    finally:
        server.should_exit = True
        await task


async def test_interactive_client_with_a_metadata_document_url_as_client_id(tmp_path):
    redirect = "http://127.0.0.1:9/callback"
    doc = {"client_name": "Doc Client", "redirect_uris": [redirect], "token_endpoint_auth_method": "none",
           "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}
    async with document_server(tmp_path, doc) as (doc_url, seen, ca), \
            oauth_hub(tmp_path, cimd_allow_loopback=True, outbound_ca_file=ca) as hub:
        await create(hub, {"id": "bob", "name": "Bob", "owner": "platform-team", "purpose": "interactive use",
                           "environment": "dev", "kind": "user", "password": PASSWORD,
                           "scopes": ["upstream:r"]})
        person = Person("bob")
        storage = Memory()
        auth = OAuthClientProvider(
            hub.mcp_url,
            OAuthClientMetadata(redirect_uris=[redirect], client_name="Doc Client",
                                token_endpoint_auth_method="none"),
            storage, redirect_handler=person.open, callback_handler=person.callback,
            client_metadata_url=doc_url,
        )
        tools, echoed = await call_through(hub, auth)
        assert "r.echo" in tools and echoed == "through oauth"
        assert storage.client and storage.client.client_id == doc_url  # no registration: the URL is the id
        assert seen, "the hub fetched the metadata document"
        assert "Doc Client" in person.pages[0]


async def test_agent_with_client_credentials_lists_and_calls_only_what_it_was_granted(tmp_path):
    async with oauth_hub(tmp_path) as hub:
        agent = await create(hub, {"name": "Billing agent", "owner": "billing-team", "purpose": "reconcile invoices",
                                   "environment": "dev", "kind": "agent", "version": "1.4.0",
                                   "scopes": ["tool:r.echo"]})
        auth = ClientCredentialsOAuthProvider(hub.mcp_url, Memory(), agent["client_id"], agent["client_secret"],
                                              issuer=hub.url)
        tools, echoed = await call_through(hub, auth)
        assert tools == ["hub.request_access", "r.echo"] and echoed == "through oauth"


async def test_a_dev_credential_never_works_on_a_prod_hub(tmp_path):
    async with oauth_hub(tmp_path, environment="prod") as hub:
        agent = await create(hub, {"name": "Dev agent", "owner": "team", "purpose": "testing",
                                   "environment": "dev", "kind": "agent", "scopes": ["upstream:r"]})
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(f"{hub.url}/oauth/token", data={"grant_type": "client_credentials"},
                                       auth=(agent["client_id"], agent["client_secret"]))
        assert response.status_code in (400, 401)
        assert response.json()["error"] == "invalid_client"
        assert "dev" in response.json()["error_description"]

