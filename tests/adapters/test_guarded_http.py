"""The guarded transport against real loopback servers: refusals before any connection, pinning, redirects, limits."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hub.adapters.guarded_http import Refused, check_url, fetch_document, guarded_client, refusal

from hub.identity.fetch import FetchError, FetchPolicy

LOOPBACK = FetchPolicy(allow_http_loopback=True)


def _response(status: str, ctype: str, body: bytes, extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n{extra}"
    return (head + "Connection: close\r\n\r\n").encode() + body


def _redirect(location: str) -> bytes:
    return _response("302 Found", "text/plain", b"", f"Location: {location}\r\n")


ROUTES = {
    "/json": _response("200 OK", "application/json", b'{"ok": true}'),
    "/card": _response("200 OK", "application/a2a-card+json; charset=utf-8", b'{"name": "agent"}'),
    "/html": _response("200 OK", "text/html", b"<html>secret page</html>"),
    "/huge": _response("200 OK", "application/json", b'{"pad": "' + b"x" * 2000 + b'"}'),
    "/to-metadata": _redirect("http://169.254.169.254/latest/meta-data/"),
    "/to-file": _redirect("file:///etc/passwd"),
}


@dataclass
class Server:
    port: int = 0
    connections: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            path = head[0].split(" ")[1]
            host = next((h.split(":", 1)[1].strip() for h in head[1:] if h.lower().startswith("host:")), "")
            self.requests.append((path, host))
            await self._respond(path, reader, writer)
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _respond(self, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if path.startswith("/hop/"):  # /hop/N redirects N times before the document
            n = int(path.removeprefix("/hop/"))
            writer.write(_redirect(f"/hop/{n - 1}") if n else ROUTES["/json"])
        elif path == "/silent":  # accepts, never answers; returns once the client hangs up
            await reader.read()
        elif path == "/endless":  # no Content-Length: the size is only known by counting
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
            for _ in range(1000):
                writer.write(b" " * 4096)
                await writer.drain()
        elif path == "/events":  # SSE: the second event only once the test has seen the first
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            for event in (b"data: one\n\n", b"data: two\n\n"):
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
                await asyncio.wait_for(self.release.wait(), 5)
            writer.write(b"0\r\n\r\n")
        else:
            writer.write(ROUTES.get(path, _response("404 Not Found", "application/json", b"{}")))
        await writer.drain()


async def _serve(ssl_ctx: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server()
    srv = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=ssl_ctx)
    server.port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield server
        srv.close()


@pytest.fixture
async def http() -> AsyncIterator[Server]:
    async for s in _serve():
        yield s


@dataclass
class Net:
    resolved: list[str] = field(default_factory=list)  # names looked up (IP literals left out)
    connected: list[str] = field(default_factory=list)  # hosts sockets were opened to
    fake: dict[str, list[str]] = field(default_factory=dict)  # name -> addresses the resolver answers ([]: none)


@pytest.fixture
async def net(monkeypatch: pytest.MonkeyPatch) -> Net:
    """Records the event loop's lookups and outbound connections; answers lookups for names in `fake`."""
    loop = asyncio.get_running_loop()
    seen = Net()
    real_gai, real_connect = loop.getaddrinfo, loop.create_connection

    async def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if not _is_ip(name):
            seen.resolved.append(name)
        if name in seen.fake:
            if not seen.fake[name]:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return [
                (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                for ip in seen.fake[name]
            ]
        return await real_gai(host, port, *args, **kwargs)

    async def create_connection(factory, host=None, *args, **kwargs):
        seen.connected.append(host)
        return await real_connect(factory, host, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(loop, "create_connection", create_connection)
    return seen


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def refused(url: str, match: str, policy: FetchPolicy = FetchPolicy(), **kw: float) -> Refused:  # noqa: B008
    with pytest.raises(Refused, match=match) as e:
        await fetch_document(url, policy=policy, **kw)
    return e.value


async def test_loopback_fetch_allowed_with_the_flag(http: Server) -> None:
    assert await fetch_document(f"http://127.0.0.1:{http.port}/json", policy=LOOPBACK) == {"ok": True}
    assert await fetch_document(f"http://localhost:{http.port}/card", policy=LOOPBACK) == {"name": "agent"}


async def test_loopback_refused_without_the_flag_and_never_connected(http: Server, net: Net) -> None:
    await refused(f"http://127.0.0.1:{http.port}/json", "plain http is not allowed")
    await refused(f"https://127.0.0.1:{http.port}/json", "address 127.0.0.1 is not allowed")
    assert http.connections == 0 and net.connected == []


INTERNAL = ["10.0.0.1", "169.254.169.254", "0.0.0.0", "[fd00::1]", "100.64.0.1", "[::ffff:169.254.169.254]"]


@pytest.mark.parametrize(
    ("host", "policy"),
    [pytest.param(h, FetchPolicy(), id=f"{h}-default") for h in [*INTERNAL, "[::ffff:127.0.0.1]", "127.0.0.1"]]
    + [pytest.param(h, LOOPBACK, id=f"{h}-loopback") for h in INTERNAL],
)
async def test_internal_addresses_refused_without_connecting(
    host: str, policy: FetchPolicy, http: Server, net: Net
) -> None:
    # The server's port, so that an address that reaches this machine (0.0.0.0, mapped loopback) would show up there.
    for scheme in ("https", "http"):
        with pytest.raises(Refused, match="not allowed"):
            await fetch_document(f"{scheme}://{host}:{http.port}/json", policy=policy)
    assert http.connections == 0 and net.connected == [] and net.resolved == []


@pytest.mark.parametrize(
    "host", ["localhost", "LocalHost.", "agent.localhost", "metadata.google.internal", "api.ns.svc.cluster.local"]
)
async def test_internal_names_refused_before_lookup(host: str, http: Server, net: Net) -> None:
    await refused(f"https://{host}:{http.port}/json", "is not allowed")
    assert http.connections == 0 and net.resolved == [] and net.connected == []


async def test_connection_goes_to_the_checked_address_with_the_name_in_host(http: Server, net: Net) -> None:
    net.fake["agent.example"] = ["127.0.0.1"]
    assert await fetch_document(f"http://agent.example:{http.port}/json", policy=LOOPBACK) == {"ok": True}
    assert net.resolved == ["agent.example"]  # looked up once, by the check
    assert net.connected == ["127.0.0.1"]  # the socket went to the checked address, never back through DNS
    assert http.requests == [("/json", f"agent.example:{http.port}")]


@pytest.mark.parametrize(
    ("addresses", "match"),
    [
        (["127.0.0.1", "10.0.0.1"], "resolves to an address that is not allowed"),  # every address must pass
        (["169.254.169.254"], "resolves to an address that is not allowed"),
        (["93.184.215.14"], "plain http .* use https"),  # public, but plain http only reaches loopback
    ],
)
async def test_names_resolving_to_refused_addresses(addresses: list[str], match: str, http: Server, net: Net) -> None:
    net.fake["agent.example"] = addresses
    e = await refused(f"http://agent.example:{http.port}/json", match, LOOPBACK)
    assert not any(a in str(e) for a in addresses)  # internal addresses are not echoed to the client
    assert http.connections == 0 and net.connected == []


async def test_check_url_applies_the_same_rules_without_connecting(net: Net) -> None:
    net.fake["hooks.example"] = ["93.184.215.14"]
    net.fake["rebound.example"] = ["93.184.215.14", "10.1.2.3"]
    await check_url("https://hooks.example/notify", FetchPolicy())  # public over https: accepted
    for url, match in [
        ("http://hooks.example/notify", "plain http is not allowed"),
        ("https://rebound.example/notify", "resolves to an address that is not allowed"),
        ("https://169.254.169.254/latest/meta-data/", "address 169.254.169.254 is not allowed"),
        ("https://metadata.google.internal/", "is not allowed"),
        ("https://u:p@hooks.example/", "credentials"),
        ("ftp://hooks.example/", "scheme 'ftp' is not allowed"),
    ]:
        with pytest.raises(Refused, match=match):
            await check_url(url, FetchPolicy())
    net.fake["gone.example"] = []
    with pytest.raises(FetchError, match="could not resolve") as e:
        await check_url("https://gone.example/", FetchPolicy())
    assert not isinstance(e.value, Refused)
    assert net.connected == []


async def test_redirect_to_metadata_refused(http: Server, net: Net) -> None:
    await refused(f"http://127.0.0.1:{http.port}/to-metadata", "address 169.254.169.254 is not allowed", LOOPBACK)
    assert [p for p, _ in http.requests] == ["/to-metadata"] and net.connected == ["127.0.0.1"]
    # The same through a client that follows redirects itself: an httpx error that still carries the refusal.
    async with guarded_client(LOOPBACK, timeout=2, follow_redirects=True) as client:
        with pytest.raises(httpx.ConnectError) as e:
            await client.get(f"http://127.0.0.1:{http.port}/to-metadata")
    assert isinstance(e.value, Refused) and refusal(e.value) == "address 169.254.169.254 is not allowed"
    assert net.connected == ["127.0.0.1", "127.0.0.1"]


async def test_redirect_to_file_refused(http: Server) -> None:
    await refused(f"http://127.0.0.1:{http.port}/to-file", "scheme 'file' is not allowed", LOOPBACK)


async def test_redirects_followed_up_to_the_limit(http: Server) -> None:
    assert await fetch_document(f"http://127.0.0.1:{http.port}/hop/3", policy=LOOPBACK) == {"ok": True}
    http.requests.clear()
    with pytest.raises(FetchError, match="more than 3 redirects"):
        await fetch_document(f"http://127.0.0.1:{http.port}/hop/4", policy=LOOPBACK)
    assert [p for p, _ in http.requests] == ["/hop/4", "/hop/3", "/hop/2", "/hop/1"]  # the 4th hop is never made
    with pytest.raises(FetchError, match="more than 0 redirects"):
        await fetch_document(f"http://127.0.0.1:{http.port}/hop/1", policy=LOOPBACK, max_redirects=0)


@pytest.mark.parametrize("path", ["/huge", "/endless"])  # declared length, and counted while streaming
async def test_oversize_body_refused(path: str, http: Server) -> None:
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        await fetch_document(f"http://127.0.0.1:{http.port}{path}", policy=LOOPBACK, max_bytes=1000)


async def test_wrong_content_type_refused_without_echoing_the_body(http: Server) -> None:
    with pytest.raises(FetchError, match="not JSON") as e:
        await fetch_document(f"http://127.0.0.1:{http.port}/html", policy=LOOPBACK)
    assert "secret" not in str(e.value)


async def test_silent_server_times_out_within_the_bound(http: Server) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(FetchError, match=r"timed out after 0\.3s"):
        await fetch_document(f"http://127.0.0.1:{http.port}/silent", policy=LOOPBACK, timeout_s=0.3)
    assert loop.time() - start < 1.5


async def test_connect_failure_is_not_a_refusal(net: Net) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with guarded_client(LOOPBACK, timeout=2) as client:
        with pytest.raises(httpx.ConnectError) as e:
            await client.get(f"http://127.0.0.1:{port}/")
    assert not isinstance(e.value, Refused) and refusal(e.value) is None
    with pytest.raises(FetchError, match="could not connect") as f:
        await fetch_document(f"http://127.0.0.1:{port}/", policy=LOOPBACK)
    assert not isinstance(f.value, Refused)
    net.fake["gone.example"] = []
    with pytest.raises(FetchError, match=r"could not resolve host 'gone\.example'") as f:
        await fetch_document("https://gone.example/", policy=FetchPolicy())
    assert not isinstance(f.value, Refused)


async def test_refusal_found_through_wrapping() -> None:
    async with guarded_client(FetchPolicy(), timeout=2) as client:
        with pytest.raises(httpx.HTTPError) as e:
            await client.get("https://user:pw@example.com/")
    wrapped = RuntimeError("agent call failed")
    wrapped.__cause__ = e.value
    assert refusal(wrapped) == "URL must not contain credentials"
    assert refusal(BaseExceptionGroup("tasks", [ValueError(), wrapped])) == "URL must not contain credentials"


async def test_streaming_response_arrives_chunk_by_chunk(http: Server) -> None:
    async with (
        guarded_client(LOOPBACK, timeout=5) as client,
        client.stream("GET", f"http://127.0.0.1:{http.port}/events") as resp,
    ):
        lines = resp.aiter_lines()
        assert await asyncio.wait_for(anext(lines), 2) == "data: one"  # before the server has sent the rest
        http.release.set()
        rest = [line async for line in lines]
    assert "data: two" in rest


# TLS: a private CA and a certificate for the name "localhost" only, served on 127.0.0.1.


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, signer: ec.EllipticCurvePrivateKey, ca: bool
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return b.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("pki")
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    (d / "ca.pem").write_bytes(_cert("test CA", ca_key, ca_key, ca=True).public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    leaf = _cert("localhost", key, ca_key, ca=False)
    (d / "server.pem").write_bytes(pem + leaf.public_bytes(serialization.Encoding.PEM))
    return d / "ca.pem", d / "server.pem"


async def test_https_pinned_to_the_ip_verifies_the_certificate_against_the_name(
    pki: tuple[Path, Path], net: Net
) -> None:
    ca, server_pem = pki
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(server_pem)
    trusted = FetchPolicy(allow_private=True, extra_ca_file=str(ca))
    async for srv in _serve(ctx):
        assert await fetch_document(f"https://localhost:{srv.port}/json", policy=trusted) == {"ok": True}
        assert net.connected and all(_is_ip(h) for h in net.connected)  # connected to an address...
        assert srv.requests == [("/json", f"localhost:{srv.port}")]  # ...while TLS and Host named "localhost"
        # The certificate names only "localhost": reaching the same server by its address must fail verification.
        with pytest.raises(FetchError, match="certificate verification failed"):
            await fetch_document(f"https://127.0.0.1:{srv.port}/json", policy=trusted)
        with pytest.raises(FetchError, match="certificate verification failed"):
            await fetch_document(f"https://localhost:{srv.port}/json", policy=FetchPolicy(allow_private=True))
        assert len(srv.requests) == 1
