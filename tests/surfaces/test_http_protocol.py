"""The corked transport: a response's head and body leave in one write, and nothing written is held past its turn."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from hub.http_protocol import CorkedTransport, HubHttpProtocol


class Recording(asyncio.Transport):
    """The socket end of a transport: records each write it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0


async def test_writes_in_one_turn_leave_as_one() -> None:
    raw = Recording()
    corked = CorkedTransport(raw, asyncio.get_running_loop())
    corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
    corked.write(b"body")
    assert raw.writes == []  # held until the end of this turn
    assert corked.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nbody")
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    corked.write(b"next")
    await asyncio.sleep(0)
    assert raw.writes[-1] == b"next" and len(raw.writes) == 2


async def test_close_sends_what_was_written_and_abort_drops_it() -> None:
    raw = Recording()
    corked = CorkedTransport(raw, asyncio.get_running_loop())
    corked.write(b"last words")
    corked.close()
    assert raw.writes == [b"last words"] and raw.closed
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert raw.writes == [b"last words"]

    raw = Recording()
    corked = CorkedTransport(raw, asyncio.get_running_loop())
    corked.write(b"never")
    corked.abort()
    await asyncio.sleep(0)
    assert raw.writes == [] and raw.aborted


@pytest.fixture
async def server() -> str:
    async def plain(request: Request) -> JSONResponse:
        return JSONResponse({"echo": (await request.body()).decode()})

    async def stream(request: Request) -> StreamingResponse:
        async def chunks():  # type: ignore[no-untyped-def]
            for i in range(3):
                yield f"data: {i}\n\n"
                await asyncio.sleep(0.01)

        return StreamingResponse(chunks(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/plain", plain, methods=["POST"]), Route("/stream", stream)])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=HubHttpProtocol, log_level="warning",
                            lifespan="off")
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        await asyncio.sleep(0.01)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    await task


async def test_uvicorn_serves_through_it(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        for i in range(20):  # one keep-alive connection, many answers
            answer = await client.post("/plain", content=f"call {i}")
            assert answer.status_code == 200 and answer.json() == {"echo": f"call {i}"}
        async with client.stream("GET", "/stream") as answer:
            lines = [line async for line in answer.aiter_lines() if line]
        assert lines == ["data: 0", "data: 1", "data: 2"]
