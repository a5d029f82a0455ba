"""The lean tools/call client against a raw loopback server: size caps, SSE framing, garbage, a dropped connection,
keep-alive reuse, and that it sends exactly the upstream's headers."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from hub.adapters import mcp_direct
from hub.adapters.http_limits import ResponseTooLarge
from hub.adapters.lean_http import HttpStatusError, LeanClient, split_lines
from hub.adapters.mcp_session import describe
from mcp.shared.exceptions import MCPError

LIMIT = 64 * 1024


def _result(request_id: int, text: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request_id,
                       "result": {"content": [{"type": "text", "text": text}]}}, ensure_ascii=False).encode()


@dataclass
class Upstream:
    """Answers each POST with whatever `answer(request_id)` returns (raw bytes after the status line)."""

    answer: Callable[[int], bytes]
    drop_after_first: bool = False  # close the first connection after its first answer
    port: int = 0
    connections: int = 0
    heads: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                self.heads.append(head)
                length = next(int(line.split(":", 1)[1]) for line in head.split("\r\n")
                              if line.lower().startswith("content-length:"))
                request = json.loads(await reader.readexactly(length))
                writer.write(self.answer(request["id"]))
                await writer.drain()
                if self.drop_after_first and self.connections == 1:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def upstream(answer: Callable[[int], bytes], drop_after_first: bool = False,
                   ) -> AsyncIterator[tuple[Upstream, LeanClient, list[bool]]]:
    state = Upstream(answer, drop_after_first)
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    overflowed: list[bool] = []
    client = LeanClient(headers={"Authorization": "Bearer upstream-secret"}, connect_timeout_s=2,
                        max_connections=4, max_response_bytes=LIMIT, on_overflow=lambda: overflowed.append(True))
    try:
        yield state, client, overflowed
    finally:
        await client.aclose()
        server.close()


def json_answer(body: bytes, extra: str = "") -> bytes:
    return (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            .encode() + body)


def chunked_answer(ctype: str, chunks: list[bytes]) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
    return f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n\r\n".encode() + body


async def call(client: LeanClient, port: int, relay=None):
    return await mcp_direct.call_tool(client, f"http://127.0.0.1:{port}/mcp", "2026-07-28", "echo", {"text": "x"},
                                      relay=relay, meta=None, caller_meta=None, input_responses=None,
                                      request_state=None)


async def test_a_json_answer_and_keep_alive_reuse():
    async with upstream(lambda i: json_answer(_result(i, "hello"))) as (state, client, _):
        for _ in range(5):
            result = await call(client, state.port)
            assert result.content[0].text == "hello"
        assert state.connections == 1  # one pooled connection served every call
        head = state.heads[0].lower()
        assert "authorization: bearer upstream-secret" in head  # the upstream's own credential
        assert "mcp-method: tools/call" in head and "mcp-name: echo" in head


async def test_sse_answers_relay_progress_whatever_the_line_endings_and_chunking():
    class Relay:
        capabilities = frozenset()
        drives_input = False

        def __init__(self) -> None:
            self.progress_seen: list[float] = []

        async def progress(self, progress, total, message):
            self.progress_seen.append(progress)

        async def log(self, params):
            return None

    def answer(request_id: int) -> bytes:
        progress = json.dumps({"jsonrpc": "2.0", "method": "notifications/progress",
                               "params": {"progressToken": "p", "progress": 1, "total": 2}}).encode()
        stream = (b"event: message\r\ndata: " + progress + b"\r\n\r\n"
                  b"event: message\rdata: " + _result(request_id, "déjà") + b"\r\r")
        cuts = sorted(random.sample(range(1, len(stream)), 12))
        return chunked_answer("text/event-stream", [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)],
                                                                                 strict=True)])

    async with upstream(answer) as (state, client, _):
        for _ in range(10):  # a different chunking each time
            relay = Relay()
            result = await call(client, state.port, relay)
            assert result.content[0].text == "déjà"
            assert relay.progress_seen == [1]


async def test_answers_over_the_cap_are_refused_declared_or_not():
    big = _result(1, "x" * (2 * LIMIT))
    async with upstream(lambda i: json_answer(big)) as (state, client, overflowed):
        with pytest.raises(ResponseTooLarge):
            await call(client, state.port)
        assert overflowed
    async with upstream(lambda i: chunked_answer("application/json", [big[:LIMIT // 2]] * 8)) as (
            state, client, overflowed):
        with pytest.raises(ResponseTooLarge):
            await call(client, state.port)
        assert overflowed
    sse = b"data: " + b"y" * (2 * LIMIT) + b"\n\n"
    async with upstream(lambda i: chunked_answer("text/event-stream", [sse[:LIMIT // 2]] * 8)) as (
            state, client, overflowed):
        with pytest.raises(ResponseTooLarge):
            await call(client, state.port)
        assert overflowed


async def test_garbage_and_wrong_answers_are_clear_errors():
    not_an_answer = "not a JSON-RPC answer to this call"
    async with upstream(lambda i: json_answer(b"<html>not json</html>")) as (state, client, _):
        with pytest.raises(MCPError, match=not_an_answer):
            await call(client, state.port)
    async with upstream(lambda i: json_answer(b'{"jsonrpc": "2.0", "id": %d}' % i)) as (state, client, _):
        with pytest.raises(MCPError, match=not_an_answer):
            await call(client, state.port)
    # Another request's answer is not this one's, whatever it holds.
    async with upstream(lambda i: json_answer(_result(i + 1, "someone else's"))) as (state, client, _):
        with pytest.raises(MCPError, match=not_an_answer):
            await call(client, state.port)
    malformed = [{"code": "-32602", "message": "a string code"}, "just text", {"message": "no code"}]
    for error in malformed:
        async with upstream(lambda i, error=error: json_answer(
                json.dumps({"jsonrpc": "2.0", "id": i, "error": error}).encode())) as (state, client, _):
            with pytest.raises(MCPError, match=not_an_answer):
                await call(client, state.port)
    async with upstream(lambda i: json_answer(json.dumps(
            {"jsonrpc": "2.0", "id": i, "error": {"code": -32602, "message": "bad arguments"}}).encode())) as (
            state, client, _):
        with pytest.raises(MCPError, match="bad arguments"):
            await call(client, state.port)
    async with upstream(lambda i: chunked_answer("text/event-stream", [b": only a comment\n\n"])) as (
            state, client, _):
        with pytest.raises(MCPError, match="closed the stream before answering"):
            await call(client, state.port)


def status_answer(status: str, ctype: str, body: bytes) -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


async def test_http_error_statuses_are_named_and_json_rpc_errors_pass_through_whatever_the_status():
    refusals = [("401 Unauthorized", "application/json", b'{"error": "invalid_token"}',
                 "HTTP 401: the upstream refused the hub's credentials"),
                ("403 Forbidden", "text/plain", b"forbidden", "HTTP 403: the upstream refused the hub's credentials"),
                ("502 Bad Gateway", "text/html", b"<html>bad gateway</html>", "HTTP 502"),
                ("500 Internal Server Error", "application/json", b'{"jsonrpc": "2.0", "id": 999999, "result": {}}',
                 "HTTP 500")]
    for status, ctype, body, named in refusals:
        async with upstream(lambda i, s=status, c=ctype, b=body: status_answer(s, c, b)) as (state, client, _):
            with pytest.raises(HttpStatusError) as refused:
                await call(client, state.port)
            assert str(refused.value) == named
            assert describe(refused.value) == named  # what the caller and /readyz are told

    # A JSON-RPC error is the upstream's answer whatever the status (the 2026-07-28 era maps errors to statuses),
    # with our id or, when the upstream could not read it, a null one.
    for request_id in ("ours", None):
        def answer(i: int, request_id: str | None = request_id) -> bytes:
            error = {"jsonrpc": "2.0", "id": i if request_id else None,
                     "error": {"code": -32602, "message": "Unknown tool: echo"}}
            return status_answer("404 Not Found", "application/json", json.dumps(error).encode())

        async with upstream(answer) as (state, client, _):
            with pytest.raises(MCPError, match="Unknown tool: echo"):
                await call(client, state.port)


async def test_a_connection_dropped_mid_answer_fails_and_the_next_call_reconnects():
    answers = iter([b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"jso"])

    def answer(request_id: int) -> bytes:
        return next(answers, None) or json_answer(_result(request_id, "fine"))

    async with upstream(answer, drop_after_first=True) as (state, client, overflowed):
        with pytest.raises(Exception) as failure:
            await call(client, state.port)
        assert not isinstance(failure.value, ResponseTooLarge) and not overflowed
        result = await call(client, state.port)
        assert result.content[0].text == "fine"
        assert state.connections == 2


async def test_split_lines_handles_every_line_ending_at_every_boundary():
    text = "data: a\r\n\r\nevent: x\rdata: é€\n\ndata: last"
    want = ["data: a", "", "event: x", "data: é€", "", "data: last"]
    raw = text.encode()

    async def chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    for cut in range(1, len(raw)):
        for second in range(cut + 1, len(raw)):
            parts = [raw[:cut], raw[cut:second], raw[second:]]
            assert [line async for line in split_lines(chunks(parts))] == want, parts
