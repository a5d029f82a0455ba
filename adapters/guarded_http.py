"""SSRF-guarded outbound HTTP for URLs that third parties chose.

A2A agent cards are registered by third parties, and the URLs in them (the card itself, interface endpoints,
push-notification targets) are where the hub then sends requests, streams included. `GuardedTransport` applies the
`hub.identity.fetch` policy to every connection an httpx client opens:

- per request: https (plain http only under `allow_private`, or `allow_http_loopback` to loopback addresses) and no
  userinfo;
- per connection, at connect time: the host-name rules (localhost, *.internal, ...), then the name is resolved once,
  every address must pass the policy, and the socket is opened to a checked address, so the name cannot be re-pointed
  (DNS rebinding) between check and connect. TLS is still started with the URL's host name, so SNI and certificate
  verification are against the name, not the IP.

Redirect hops are new requests through the same transport, so each is checked again.

Refusals raise `Refused`: a `FetchError` (short message, safe to show a client) that is also an `httpx.ConnectError`,
so code that only knows httpx (the a2a SDK) treats it as a failed request. Tell a refusal from a network failure with
`isinstance(e, Refused)`, or with `refusal(e)` once some layer has wrapped it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import Iterable

import httpcore
import httpx

from hub.identity.fetch import (
    FetchError,
    FetchPolicy,
    IPAddress,
    address_allowed,
    host_refusal,
    is_loopback,
    read_json_object,
    resolve,
    ssl_context,
)

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class Refused(FetchError, httpx.ConnectError):
    """The policy refused the URL or the addresses it resolves to; nothing was sent to it."""


def refusal(exc: BaseException | None) -> str | None:
    """The policy refusal behind `exc` (itself, its causes and contexts, exception-group members), or None."""
    stack, seen = [exc], set()
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, Refused):
            return str(e)
        stack += [e.__cause__, e.__context__]
        if isinstance(e, BaseExceptionGroup):
            stack += e.exceptions
    return None


def _url_refusal(url: httpx.URL, policy: FetchPolicy) -> str | None:
    if url.scheme == "http" and not (policy.allow_private or policy.allow_http_loopback):
        return "plain http is not allowed; use https"
    if url.scheme not in ("http", "https"):
        return f"URL scheme {url.scheme!r} is not allowed"
    if url.userinfo:
        return "URL must not contain credentials"
    if not url.raw_host:
        return "URL has no host"
    return None


async def _checked_addresses(host: str, port: int, policy: FetchPolicy, *, plain_http: bool) -> list[IPAddress]:
    """The host's addresses once the name and every address pass the policy; `Refused` otherwise."""
    name = host.lower().rstrip(".")
    if (why := host_refusal(name, policy)) is not None:
        raise Refused(why)
    ips = await resolve(host, port)
    if plain_http and not policy.allow_private:
        if not all(is_loopback(ip) for ip in ips):  # allow_http_loopback: plain http never leaves the machine
            if all(address_allowed(ip, policy) for ip in ips):
                raise Refused(f"plain http to {name!r} is not allowed (loopback only); use https")
            raise Refused(_address_refusal(name))
    elif not all(address_allowed(ip, policy) for ip in ips):
        raise Refused(_address_refusal(name))
    return ips


def _address_refusal(name: str) -> str:
    with contextlib.suppress(ValueError):
        return f"address {ipaddress.ip_address(name)} is not allowed"
    return f"host {name!r} resolves to an address that is not allowed"  # never say which: it is internal


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Checks the name, resolves it once, checks every address, and connects only to a checked address."""

    def __init__(self, policy: FetchPolicy, *, plain_http: bool) -> None:
        self._policy, self._plain_http = policy, plain_http
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                try:
                    ips = await _checked_addresses(host, port, self._policy, plain_http=self._plain_http)
                except Refused:
                    raise
                except FetchError as e:  # the name does not resolve: a failure to connect, not a refusal
                    raise httpcore.ConnectError(str(e)) from e
                for ip in ips[:-1]:  # in the resolver's order; the last address's error is the one raised
                    with contextlib.suppress(httpcore.ConnectError):
                        return await self._inner.connect_tcp(str(ip), port, timeout, local_address, socket_options)
                return await self._inner.connect_tcp(str(ips[-1]), port, timeout, local_address, socket_options)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"timed out connecting to {host!r}") from None

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise Refused("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _checked_transport(
    policy: FetchPolicy, ctx: ssl.SSLContext, limits: httpx.Limits, *, plain_http: bool
) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(verify=ctx, trust_env=False, limits=limits)
    # httpx has no public hook for the network backend, so its pool is replaced by an equivalent one that connects
    # through the check. Fail closed if httpx's internals change shape rather than run unchecked.
    if not isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
        raise RuntimeError("unsupported httpx version: cannot install the outbound connection check")
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ctx,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_CheckedBackend(policy, plain_http=plain_http),
    )
    return transport


class GuardedTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncHTTPTransport` whose every connection is checked against `policy` (module docstring).

    https and plain http use separate connection pools, because the addresses a connection may reach depend on the
    scheme and the network backend only sees host and port; `limits` applies to each pool.
    """

    def __init__(self, policy: FetchPolicy, *, limits: httpx.Limits | None = None) -> None:
        self._policy = policy
        ctx, limits = ssl_context(policy), limits or DEFAULT_LIMITS
        self._https = _checked_transport(policy, ctx, limits, plain_http=False)
        plain = policy.allow_private or policy.allow_http_loopback
        self._http = _checked_transport(policy, ctx, limits, plain_http=True) if plain else None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if (why := _url_refusal(request.url, self._policy)) is not None:
            raise Refused(why)
        inner = self._https if request.url.scheme == "https" else self._http
        assert inner is not None  # _url_refusal refuses plain http when the policy has no pool for it
        return await inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._https.aclose()
        if self._http is not None:
            await self._http.aclose()


async def check_url(url: str, policy: FetchPolicy, *, timeout_s: float = 5.0) -> None:
    """Refuse `url` unless a guarded client could connect to it now: for URLs the hub passes on rather than calls.

    Raises `Refused`, or `FetchError` when the name does not resolve in time. The answer holds only for this lookup.
    """
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise FetchError("invalid URL") from None
    if (why := _url_refusal(u, policy)) is not None:
        raise Refused(why)
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        async with asyncio.timeout(timeout_s):
            await _checked_addresses(u.raw_host.decode("ascii"), port, policy, plain_http=u.scheme == "http")
    except TimeoutError:
        raise FetchError(f"timed out resolving the host after {timeout_s:g}s") from None


def guarded_client(
    policy: FetchPolicy,
    *,
    timeout: httpx.Timeout | float,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = False,
    max_redirects: int = 3,
    limits: httpx.Limits | None = None,
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` over `GuardedTransport`; environment proxies and netrc are ignored.

    With `follow_redirects`, httpx reads each redirect response's body in full before the next hop; against servers
    that may be hostile, bound the call with a total timeout or follow redirects by hand (see `fetch_document`).
    """
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, limits=limits),
        timeout=timeout,
        headers=headers,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        trust_env=False,
    )


async def fetch_document(
    url: str, *, policy: FetchPolicy, max_bytes: int = 256 * 1024, timeout_s: float = 10.0, max_redirects: int = 3
) -> dict:
    """GET `url` as a JSON object, following up to `max_redirects` redirects, each hop checked like the first.

    Raises `FetchError` (`Refused` for a policy refusal) with a short message safe to show a client.
    """
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise FetchError("invalid URL") from None
    headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
    try:
        async with (
            asyncio.timeout(timeout_s),
            guarded_client(policy, timeout=timeout_s, headers=headers) as client,
        ):
            request = client.build_request("GET", url)
            for _ in range(max_redirects + 1):
                # Redirects by hand: a redirect's body is never read, so it cannot be used to exhaust memory.
                resp = await client.send(request, stream=True)
                try:
                    if resp.next_request is None:
                        if 300 <= resp.status_code < 400:
                            raise FetchError(f"unexpected HTTP status {resp.status_code}")
                        return await read_json_object(resp, max_bytes)
                    request = resp.next_request
                finally:
                    await resp.aclose()
            raise FetchError(f"more than {max_redirects} redirects")
    except FetchError:
        raise
    except (TimeoutError, httpx.TimeoutException):
        raise FetchError(f"timed out after {timeout_s:g}s") from None
    except httpx.ConnectError as e:
        raise FetchError(_connect_failure(e)) from None
    except httpx.HTTPError as e:
        raise FetchError(f"request failed ({type(e).__name__})") from None


def _connect_failure(exc: BaseException) -> str:
    e: BaseException | None = exc
    while e is not None:  # httpx.ConnectError <- httpcore.ConnectError <- ssl error, or the resolver's FetchError
        if isinstance(e, ssl.SSLCertVerificationError):
            return "TLS certificate verification failed"
        if isinstance(e, FetchError):
            return str(e)
        e = e.__cause__ or e.__context__
    return "could not connect"
