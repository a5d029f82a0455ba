"""fetch_json against a real loopback HTTP(S) server: the SSRF refusals, pinning, and response checks."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.identity.fetch import FetchError, FetchPolicy, fetch_json

LOOPBACK = FetchPolicy(allow_http_loopback=True)
BIG = b"[" + b"1," * 100_000 + b"1]"


def _response(status: str, ctype: str, body: bytes, extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n{extra}"
    return (head + "Connection: close\r\n\r\n").encode() + body


ROUTES = {
    "/json": _response("200 OK", "application/json; charset=utf-8", b'{"ok": true}'),
    "/jwks": _response("200 OK", "application/jwk-set+json", b'{"keys": []}'),
    "/redirect": _response("302 Found", "application/json", b"{}", "Location: /json\r\n"),
    "/missing": _response("404 Not Found", "application/json", b"{}"),
    "/huge": _response("200 OK", "application/json", BIG),
    "/html": _response("200 OK", "text/html", b"<html></html>"),
    "/array": _response("200 OK", "application/json", b"[1, 2]"),
    "/broken": _response("200 OK", "application/json", b"{not json"),
    "/gzip": _response("200 OK", "application/json", b"\x1f\x8b", "Content-Encoding: gzip\r\n"),
}


@dataclass
class Server:
    port: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            path = head[0].split(" ")[1]
            host = next((h.split(":", 1)[1].strip() for h in head[1:] if h.lower().startswith("host:")), "")
            self.requests.append((path, host))
            if path == "/slow":
                await asyncio.sleep(10)
            elif path == "/endless":  # no Content-Length: read until close, never ends on its own
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
                for _ in range(1000):
                    writer.write(b" " * 4096)
                    await writer.drain()
            else:
                writer.write(ROUTES.get(path, ROUTES["/missing"]))
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()


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
class Spy:
    resolved: list[str] = field(default_factory=list)
    connected: list[str] = field(default_factory=list)


@pytest.fixture
async def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    """Records (without replacing) the event loop's name resolutions and outbound connections."""
    loop = asyncio.get_running_loop()
    seen = Spy()
    real_gai, real_connect = loop.getaddrinfo, loop.create_connection

    async def getaddrinfo(host, *args, **kwargs):
        seen.resolved.append(host)
        return await real_gai(host, *args, **kwargs)

    async def create_connection(factory, host=None, *args, **kwargs):
        seen.connected.append(host)
        return await real_connect(factory, host, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(loop, "create_connection", create_connection)
    return seen


async def refused(url: str, match: str, policy: FetchPolicy = FetchPolicy(), **kw: float) -> None:  # noqa: B008
    with pytest.raises(FetchError, match=match):
        await fetch_json(url, policy=policy, **kw)


async def test_loopback_http_refused_by_default(http: Server, spy: Spy) -> None:
    await refused(f"http://127.0.0.1:{http.port}/json", "only https URLs are allowed")
    await refused(f"https://127.0.0.1:{http.port}/json", "non-public address")
    assert http.requests == [] and spy.connected == []


async def test_loopback_http_allowed_when_policy_says(http: Server) -> None:
    assert await fetch_json(f"http://127.0.0.1:{http.port}/json", policy=LOOPBACK) == {"ok": True}
    assert await fetch_json(f"http://localhost:{http.port}/jwks", policy=LOOPBACK) == {"keys": []}


async def test_name_is_resolved_once_and_connection_pinned_to_the_ip(http: Server, spy: Spy) -> None:
    assert await fetch_json(f"http://localhost:{http.port}/json", policy=LOOPBACK) == {"ok": True}
    assert spy.resolved[0] == "localhost"
    assert spy.connected and all(ipaddress.ip_address(h) for h in spy.connected)  # an IP, never the name
    assert http.requests == [("/json", f"localhost:{http.port}")]  # the Host header still names the host


@pytest.mark.parametrize("url", ["http://8.8.8.8/", "http://10.0.0.1/", "http://[2001:4860:4860::8888]/"])
async def test_http_to_non_loopback_refused(url: str, spy: Spy) -> None:
    await refused(url, "only https URLs are allowed")
    await refused(url, "http is only allowed to loopback", LOOPBACK)
    assert spy.connected == []


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("https://user:pw@example.com/x", "credentials"),
        ("https://example.com/x#frag", "fragment"),
        ("ftp://example.com/x", "only https"),
        ("https://10.0.0.1/x", "non-public"),
        ("https://169.254.169.254/", "non-public"),
        ("https://100.64.0.1/", "non-public"),
        ("https://224.0.0.1/", "non-public"),
        ("https://0.0.0.0/", "non-public"),
        ("https://[::1]/", "non-public"),
        ("https://[::ffff:127.0.0.1]/", "non-public"),
        ("https://[::ffff:169.254.169.254]/", "non-public"),
        ("https://[64:ff9b::a9fe:a9fe]/", "non-public"),
        ("https://[64:ff9b::7f00:1]/", "non-public"),
        ("https://[2002:a00:1::1]/", "non-public"),
        ("https://[fc00::1]/", "non-public"),
        ("https://[fd12:3456::1]/", "non-public"),
        ("https://[fe80::1]/", "non-public"),
        ("https://[fec0::1]/", "non-public"),
        ("https://localhost./", "not allowed"),
        ("https://localhost/", "not allowed"),
        ("https://foo.localhost/", "not allowed"),
        ("https://metadata.google.internal/computeMetadata/v1/", "not allowed"),
        ("https://db.corp.internal/", "not allowed"),
        ("https://api.default.svc.cluster.local/", "not allowed"),
    ],
)
async def test_refused_before_any_connection(url: str, match: str, spy: Spy) -> None:
    await refused(url, match)
    assert spy.resolved == [] and spy.connected == []


async def test_loopback_behind_odd_spellings_never_reaches_server(http: Server, spy: Spy) -> None:
    for url in (
        f"https://[::ffff:127.0.0.1]:{http.port}/json",
        f"https://localhost.:{http.port}/json",
        f"https://foo.localhost:{http.port}/json",
        f"http://[::ffff:127.0.0.1]:{http.port}/json",
    ):
        with pytest.raises(FetchError):
            await fetch_json(url, policy=FetchPolicy())
    assert http.requests == [] and spy.connected == []


async def test_redirect_not_followed(http: Server) -> None:
    await refused(f"http://127.0.0.1:{http.port}/redirect", "redirects are not followed", LOOPBACK)
    assert [p for p, _ in http.requests] == ["/redirect"]


async def test_non_200_refused(http: Server) -> None:
    await refused(f"http://127.0.0.1:{http.port}/missing", "unexpected HTTP status 404", LOOPBACK)


async def test_oversize_body_refused(http: Server) -> None:
    await refused(f"http://127.0.0.1:{http.port}/huge", "larger than 65536 bytes", LOOPBACK)
    await refused(f"http://127.0.0.1:{http.port}/json", "larger than 5 bytes", LOOPBACK, max_bytes=5)


async def test_oversize_body_without_length_stops_reading(http: Server) -> None:
    await refused(f"http://127.0.0.1:{http.port}/endless", "larger than 65536 bytes", LOOPBACK)


@pytest.mark.parametrize(
    ("path", "match"),
    [("/html", "not JSON"), ("/array", "not a JSON object"), ("/broken", "not valid JSON"), ("/gzip", "compressed")],
)
async def test_bad_bodies_refused(http: Server, path: str, match: str) -> None:
    with pytest.raises(FetchError, match=match) as e:
        await fetch_json(f"http://127.0.0.1:{http.port}{path}", policy=LOOPBACK)
    assert "html" not in str(e.value) and "not json" not in str(e.value)  # no body in the message


async def test_timeout(http: Server) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    await refused(f"http://127.0.0.1:{http.port}/slow", "timed out", LOOPBACK, timeout_s=0.3)
    assert loop.time() - start < 2


async def test_unresolvable_host() -> None:
    await refused("https://no-such-host.invalid/x", "could not resolve")


# TLS: a private CA and a leaf certificate for "localhost", served on 127.0.0.1.


def _cert(name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer, ca: bool, sans=()) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer)
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
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    return b.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = _cert("test CA", ca_key, ca_name, ca_key, ca=True)
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for label, san in (("good", "localhost"), ("wrong", "other.example")):
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _cert(san, key, ca_name, ca_key, ca=False, sans=[san])
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (d / f"{label}.pem").write_bytes(pem + leaf.public_bytes(serialization.Encoding.PEM))
    return {"ca": d / "ca.pem", "good": d / "good.pem", "wrong": d / "wrong.pem"}


async def _tls_server(certfile: Path) -> AsyncIterator[Server]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certfile)
    async for s in _serve(ctx):
        yield s


async def test_https_pinned_to_ip_verifies_the_real_hostname(pki: dict[str, Path], spy: Spy) -> None:
    policy = FetchPolicy(allow_private=True, extra_ca_file=str(pki["ca"]))
    async for srv in _tls_server(pki["good"]):
        assert await fetch_json(f"https://localhost:{srv.port}/json", policy=policy) == {"ok": True}
        assert all(ipaddress.ip_address(h) for h in spy.connected)  # connected to the IP...
        assert srv.requests == [("/json", f"localhost:{srv.port}")]  # ...and TLS + Host said "localhost"
        # Without the private CA the same server is not trusted.
        await refused(
            f"https://localhost:{srv.port}/json", "certificate verification failed", FetchPolicy(allow_private=True)
        )


async def test_https_wrong_hostname_certificate_refused(pki: dict[str, Path]) -> None:
    policy = FetchPolicy(allow_private=True, extra_ca_file=str(pki["ca"]))
    async for srv in _tls_server(pki["wrong"]):
        await refused(f"https://localhost:{srv.port}/json", "certificate verification failed", policy)
        assert srv.requests == []
