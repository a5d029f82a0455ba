"""SSRF-guarded outbound JSON fetch.

The authorization server fetches Client ID Metadata Documents (the client_id is an https URL chosen by whoever
registers), and the resource server fetches the JWKS of trusted issuers. Both are requests the hub makes to a URL it
was handed, so they must not reach internal services: only https, no userinfo or fragment, every resolved address
globally routable, the connection pinned to the address that was checked (no DNS rebinding between check and
connect), no redirects, a size cap, a total timeout, and a JSON content type. Failures raise `FetchError` with a short
message safe to show a client; response bodies never go into it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import ssl
from dataclasses import dataclass

import certifi
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
INTERNAL_SUFFIXES = (".internal", ".svc.cluster.local")


class FetchError(Exception):
    """A fetch refused or failed; the message is safe to return to a client."""


@dataclass(frozen=True)
class FetchPolicy:
    allow_http_loopback: bool = False  # http:// to loopback only, and loopback addresses at all (tests, local dev)
    allow_private: bool = False  # private and loopback addresses over https
    extra_ca_file: str | None = None  # trusted in addition to the certifi bundle


def is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public(ip.ipv4_mapped)
        if ip in _NAT64:
            return is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None and not is_public(ip.sixtofour):
            return False
        if ip.is_site_local:
            return False
    bad = ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    return ip.is_global and not bad and ip not in _CGNAT


def is_loopback(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def is_link_local(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_link_local


def address_allowed(ip: IPAddress, policy: FetchPolicy) -> bool:
    # Link-local stays out even on a trusted private network: it is where cloud metadata services live.
    if is_link_local(ip):
        return False
    return is_public(ip) or policy.allow_private or (policy.allow_http_loopback and is_loopback(ip))


def host_refusal(host: str, policy: FetchPolicy) -> str | None:
    """Why a host name (lower-cased, no trailing dot) is refused before any lookup, or None."""
    loopback_ok = policy.allow_private or policy.allow_http_loopback
    if (host == "localhost" or host.endswith(".localhost")) and not loopback_ok:
        return f"host {host!r} is not allowed"
    if (host.endswith(INTERNAL_SUFFIXES) or host == "metadata.google.internal") and not policy.allow_private:
        return f"host {host!r} is not allowed"
    return None


def ssl_context(policy: FetchPolicy) -> ssl.SSLContext:
    """The certifi bundle plus the policy's extra CA; hostname checking on."""
    ctx = ssl.create_default_context(cafile=certifi.where())
    if policy.extra_ca_file:
        ctx.load_verify_locations(cafile=policy.extra_ca_file)
    return ctx


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The host's addresses (an IP literal as it is); `FetchError` when it does not resolve."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise FetchError(f"could not resolve host {host!r}") from None
    ips = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    if not ips:
        raise FetchError(f"could not resolve host {host!r}")
    return ips


async def fetch_json(url: str, *, policy: FetchPolicy, max_bytes: int = 64 * 1024, timeout_s: float = 5.0) -> dict:
    """GET `url` and return its body, which must be a JSON object; raise `FetchError` on any refusal or failure."""
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise FetchError("invalid URL") from None
    if u.scheme not in ("https", "http") or (u.scheme == "http" and not policy.allow_http_loopback):
        raise FetchError("only https URLs are allowed")
    if u.userinfo:
        raise FetchError("URL must not contain credentials")
    if u.fragment or "#" in url:
        raise FetchError("URL must not contain a fragment")
    host = u.raw_host.decode("ascii").lower().rstrip(".")
    if not host:
        raise FetchError("URL has no host")
    if (refused := host_refusal(host, policy)) is not None:
        raise FetchError(refused)
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        async with asyncio.timeout(timeout_s):
            ips = await resolve(host, port)
            if u.scheme == "http" and not all(is_loopback(ip) for ip in ips):
                raise FetchError("http is only allowed to loopback hosts; use https")
            if not all(address_allowed(ip, policy) for ip in ips):
                raise FetchError(f"host {host!r} resolves to a non-public address")
            return await _get(u, host, ips, policy, max_bytes, timeout_s)
    except TimeoutError:
        raise FetchError(f"timed out after {timeout_s:g}s") from None


async def _get(
    u: httpx.URL, host: str, ips: list[IPAddress], policy: FetchPolicy, max_bytes: int, timeout_s: float
) -> dict:
    ctx = ssl_context(policy)
    # Pinning: the request goes to the checked IP, never back through DNS. httpcore passes the `sni_hostname`
    # extension to `SSLContext.wrap_bio(server_hostname=...)`, which both sends SNI and (check_hostname is on)
    # verifies the certificate against that name, so TLS is still checked against the real hostname.
    # trust_env=False: an environment proxy would re-resolve the name and defeat the pin.
    ext = {} if _is_ip(host) else {"sni_hostname": host}
    headers = {"Host": u.netloc.decode("ascii"), "Accept": "application/json", "Accept-Encoding": "identity"}
    last: BaseException | None = None
    async with httpx.AsyncClient(verify=ctx, trust_env=False, follow_redirects=False, timeout=timeout_s) as client:
        for ip in ips:
            req = client.build_request("GET", u.copy_with(host=str(ip)), headers=headers, extensions=ext)
            try:
                resp = await client.send(req, stream=True)
            except httpx.ConnectError as e:  # try the next checked address
                last = e
                continue
            except httpx.TimeoutException:
                raise FetchError(f"timed out after {timeout_s:g}s") from None
            except httpx.HTTPError as e:
                raise FetchError(f"request failed ({type(e).__name__})") from None
            try:
                return await read_json_object(resp, max_bytes)
            finally:
                await resp.aclose()
    while last is not None:  # httpx.ConnectError <- httpcore.ConnectError <- ssl error
        if isinstance(last, ssl.SSLCertVerificationError):
            raise FetchError("TLS certificate verification failed")
        last = last.__cause__ or last.__context__
    raise FetchError("could not connect")


async def read_json_object(resp: httpx.Response, max_bytes: int) -> dict:
    """A streamed 200 response's body as a JSON object: JSON content type, uncompressed, at most `max_bytes`."""
    if resp.is_redirect or 300 <= resp.status_code < 400:
        raise FetchError("redirects are not followed")
    if resp.status_code != 200:
        raise FetchError(f"unexpected HTTP status {resp.status_code}")
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise FetchError("response is not JSON (content type)")
    if resp.headers.get("content-encoding", "identity").strip().lower() != "identity":
        raise FetchError("compressed responses are not accepted")  # raw bytes are counted; no decompression bombs
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"response larger than {max_bytes} bytes")
    body = bytearray()
    try:
        async for chunk in resp.aiter_raw():
            body += chunk
            if len(body) > max_bytes:
                raise FetchError(f"response larger than {max_bytes} bytes")
    except httpx.TimeoutException:
        raise FetchError("timed out reading the response") from None
    except httpx.HTTPError as e:
        raise FetchError(f"reading the response failed ({type(e).__name__})") from None
    try:
        doc = json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError):
        raise FetchError("response is not valid JSON") from None
    if not isinstance(doc, dict):
        raise FetchError("response is not a JSON object")
    return doc


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
