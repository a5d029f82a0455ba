"""The deadline on reading a request (hub.http_protocol): a request must arrive whole within
`request_read_timeout_s` of its first byte, a new connection must start one within that time, and the
deadline never reaches past the end of the request (long calls and answers are not cut)."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from tests.harness import ADMIN_TOKEN, RunningHub, http_upstream, running_hub
from tests.surfaces.test_lean_adversarial import (
    LEAN,
    call,
    connection,
    jsonrpc_answer,
    lean_headers,
    read_response,
    register,
    request_bytes,
)

DEADLINE_S = 1.0
WAIT_S = 30  # generous: only a broken hub ever waits this long
SESSION = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "slow", "version": "0"}}}


@pytest.fixture
async def hub(tmp_path):
    with http_upstream() as url:
        async with running_hub(tmp_path, request_read_timeout_s=DEADLINE_S) as hub:
            await register(hub, "up", url)
            yield hub


def no_app_errors(caplog: pytest.LogCaptureFixture) -> None:
    """A timed-out request ends like a client that hung up: no error from the server or the app."""
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


async def closed_after(reader: asyncio.StreamReader) -> bytes:
    """Everything the hub sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), WAIT_S)


async def healthy(hub: RunningHub) -> None:
    async with hub.http() as http:
        assert (await http.get("/healthz")).status_code == 200


async def test_a_head_that_never_ends_gets_408_and_the_connection_closes(hub, caplog) -> None:
    caplog.set_level(logging.WARNING)
    async with connection(hub) as (reader, writer):
        writer.write(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n")
        started = time.monotonic()
        await healthy(hub)  # the hub serves others meanwhile
        answer = await closed_after(reader)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ") and b"connection: close" in answer
    assert DEADLINE_S * 0.8 <= waited < WAIT_S
    no_app_errors(caplog)


@pytest.mark.parametrize("shape", ["lean", "session", "rest"])
async def test_an_unfinished_body_gets_408_on_every_path(hub, caplog, shape) -> None:
    """An authenticated caller (the credential passes on its headers) that stops sending its body."""
    caplog.set_level(logging.WARNING)
    if shape == "lean":
        body, head = json.dumps(call("up.echo", {"text": "x"})).encode(), request_bytes(
            hub, b"", lean_headers("up.echo"), declared=0)
    elif shape == "session":
        body, head = json.dumps(INITIALIZE).encode(), request_bytes(hub, b"", SESSION, declared=0)
    else:
        body, head = b'{"name": "late", "transport": "http", "url": "http://127.0.0.1:9/mcp"}', b""
    if shape == "rest":
        head = (f"POST /api/v1/upstreams HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_TOKEN}"
                f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    else:
        head = head.replace(b"Content-Length: 0", b"Content-Length: %d" % len(body))
    async with connection(hub) as (reader, writer):
        writer.write(head + body[: len(body) // 2])
        answer = await closed_after(reader)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1  # the app's own answer to its cut-short body is dropped
    no_app_errors(caplog)
    await healthy(hub)
    if shape == "rest":  # and nothing half-written
        async with hub.http() as http:
            assert (await http.get("/api/v1/upstreams/late")).status_code == 404


async def test_a_connection_that_never_starts_a_request_is_closed_silently(hub) -> None:
    async with connection(hub) as (reader, _writer):
        started = time.monotonic()
        assert await closed_after(reader) == b""
        assert time.monotonic() - started >= DEADLINE_S * 0.8


async def test_a_caller_that_keeps_sending_after_its_answer_is_cut_off(hub) -> None:
    """A refused request (401 on its headers) whose client dribbles an endless body."""
    async with connection(hub) as (reader, writer):
        writer.write(request_bytes(hub, b"{", lean_headers("up.echo"), token=None, declared=1_000_000))
        status, _, _ = await asyncio.wait_for(read_response(reader), WAIT_S)
        assert status == 401

        async def dribble() -> None:
            while not writer.is_closing():
                writer.write(b" ")
                await asyncio.sleep(0.1)

        dribbling = asyncio.create_task(dribble())
        try:
            assert await closed_after(reader) == b""  # no second answer, just the end of the connection
        finally:
            dribbling.cancel()


async def test_a_slow_request_within_the_deadline_is_served(hub) -> None:
    body = json.dumps(call("up.echo", {"text": "slow but in time"})).encode()
    async with connection(hub) as (reader, writer):
        writer.write(request_bytes(hub, b"", lean_headers("up.echo"), declared=len(body)))
        for i in range(0, len(body), len(body) // 4 + 1):
            writer.write(body[i: i + len(body) // 4 + 1])
            await asyncio.sleep(DEADLINE_S / 8)
        status, headers, answer = await asyncio.wait_for(read_response(reader), WAIT_S)
    assert status == 200
    assert "slow but in time" in json.dumps(jsonrpc_answer(headers, answer))


@pytest.mark.parametrize("meta", [{}, {"progressToken": "p1"}], ids=["lean", "streamed"])
async def test_the_deadline_ends_with_the_request_not_the_answer(hub, meta) -> None:
    """A call that runs longer than the deadline, answered as JSON (lean path) and as a stream (SDK path)."""
    envelope = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}, **meta}
    body = json.dumps(call("up.slow", {"seconds": DEADLINE_S * 2.5}, meta=envelope)).encode()
    async with connection(hub) as (reader, writer):
        writer.write(request_bytes(hub, body, {**LEAN, "Mcp-Name": "up.slow"}))
        status, headers, answer = await asyncio.wait_for(read_response(reader), WAIT_S)
        assert status == 200
        result = jsonrpc_answer(headers, answer)
        assert "error" not in result and result["result"].get("isError") is not True, result
        # The same connection carries the next request (keep-alive), under a fresh deadline.
        echo = json.dumps(call("up.echo", {"text": "again"})).encode()
        writer.write(request_bytes(hub, echo, lean_headers("up.echo")))
        status, headers, answer = await asyncio.wait_for(read_response(reader), WAIT_S)
    assert status == 200 and "again" in json.dumps(jsonrpc_answer(headers, answer))
