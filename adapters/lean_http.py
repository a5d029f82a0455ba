"""A pooled HTTP/1.1 client for the hub's plain request/response calls to an upstream (aiohttp).

The hub's hottest outbound call, a stateless tools/call, is one POST and one answer. Sequential POSTs to
a loopback upstream on this 2-core machine cost about 1.1 ms of client CPU each through httpx2 and about
0.35-0.45 ms through aiohttp (C parser; request head and body in one write). The SDK's sessions keep
httpx2, and so does this path for an upstream whose OAuth client credentials are an httpx2 auth flow
(`HttpxPost`).

Every answer is bounded: a declared Content-Length over the cap is refused before reading, and the body
(after decompression) is counted as it is read. Redirects are never followed.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import aiohttp
import httpx2
from hub.adapters.http_limits import ResponseTooLarge

KEEPALIVE_S = 4.0  # below uvicorn's default 5 s, so the hub drops an idle connection before the server does
CHUNK = 64 * 1024
_EOL = re.compile(r"\r\n|\r|\n")


class HttpStatusError(Exception):
    """The upstream answered with an HTTP error status and no JSON-RPC answer. The message is safe to show."""

    def __init__(self, status: int) -> None:
        why = ": the upstream refused the hub's credentials" if status in (401, 403) else ""
        super().__init__(f"HTTP {status}{why}")
        self.status = status


class Answer(Protocol):
    """An upstream's answer to one POST, read once: whole, or line by line (an SSE stream)."""

    status: int
    content_type: str

    async def read(self) -> bytes: ...

    def lines(self) -> AsyncIterator[str]: ...


class Poster(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> AbstractAsyncContextManager[Answer]: ...

    async def aclose(self) -> None: ...


def _too_large(limit: int, on_overflow: Callable[[], None]) -> ResponseTooLarge:
    on_overflow()
    return ResponseTooLarge(f"upstream response exceeded {limit} bytes")


class _Answer:
    def __init__(self, response: aiohttp.ClientResponse, limit: int, on_overflow: Callable[[], None]) -> None:
        self.status = response.status
        self.content_type = response.headers.get("Content-Type", "")
        self._response, self._limit, self._on_overflow = response, limit, on_overflow

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self._chunks()])

    def lines(self) -> AsyncIterator[str]:
        return split_lines(self._chunks())

    async def _chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (decompressed), counted against the cap."""
        seen = 0
        async for chunk in self._response.content.iter_chunked(CHUNK):
            seen += len(chunk)
            if seen > self._limit:
                raise _too_large(self._limit, self._on_overflow)
            yield chunk


async def split_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Lines as SSE defines them: ended by CRLF, LF or a lone CR, whichever chunk boundaries fall between."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pieces: list[str] = []  # the current line so far (a long line is joined once, not re-scanned per chunk)
    skip_lf = False  # the last chunk ended with CR: an LF that starts the next one is the same line end
    async for chunk in chunks:
        text = decoder.decode(chunk)
        if not text:
            continue
        if skip_lf and text[0] == "\n":
            text = text[1:]
        skip_lf = text.endswith("\r")
        parts = _EOL.split(text)
        if len(parts) > 1:
            pieces.append(parts[0])
            yield "".join(pieces)
            pieces = []
            for line in parts[1:-1]:
                yield line
        pieces.append(parts[-1])
    pieces.append(decoder.decode(b"", final=True))
    if last := "".join(pieces):
        yield last


class _HttpxAnswer:
    def __init__(self, response: httpx2.Response) -> None:
        self.status = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self._response = response

    async def read(self) -> bytes:
        return await self._response.aread()

    def lines(self) -> AsyncIterator[str]:
        return self._response.aiter_lines()


class HttpxPost:
    """The same POST through an httpx2 client (its transport caps answers: http_limits.CappedTransport)."""

    def __init__(self, http: httpx2.AsyncClient) -> None:
        self._http = http

    @asynccontextmanager
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> AsyncIterator[Answer]:
        async with self._http.stream("POST", url, content=body, headers=headers) as response:
            yield _HttpxAnswer(response)

    async def aclose(self) -> None:
        return None  # the client belongs to the upstream's SDK sessions


class LeanClient:
    """One upstream's pool of keep-alive connections for plain POSTs; made on first use (needs the loop)."""

    def __init__(self, *, headers: Mapping[str, str] | None, connect_timeout_s: float, max_connections: int,
                 max_response_bytes: int, on_overflow: Callable[[], None]) -> None:
        self._headers = dict(headers or {})
        self._connect_timeout_s = connect_timeout_s
        self._max_connections = max_connections
        self._limit = max_response_bytes
        self._on_overflow = on_overflow
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=KEEPALIVE_S)
        return aiohttp.ClientSession(
            connector=connector, headers=self._headers, trust_env=False,
            # The caller's deadline (anyio.fail_after around the whole call) bounds reading the answer.
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout_s),
        )

    @asynccontextmanager
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> AsyncIterator[Answer]:
        if self._session is None or self._session.closed:
            self._session = self._open()
        async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as response:
            if response.content_length is not None and response.content_length > self._limit:
                raise _too_large(self._limit, self._on_overflow)
            yield _Answer(response, self._limit, self._on_overflow)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
