"""A 2026-07-28 MCP upstream in the test's own process whose answers a test can script (tests/surfaces)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import mcp.types as types
import uvicorn
from mcp.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.routing import Route

from hub.surfaces.request_body import read_body

WAIT_S = 30  # generous: only a broken server ever waits this long


NESTED_HEADER_SCHEMA = {"type": "object", "properties": {"where": {"type": "object", "properties": {
    "region": {"type": "string", "x-mcp-header": "Region"}}}}}


ID_TOKEN = "<the request id>"  # in a scripted answer, stands for the id of the request it answers
THE_ID = json.dumps(ID_TOKEN).encode()


class ScriptedUpstream:
    """A 2026-07-28 MCP server in this process (the SDK's low-level Server), whose next answer for a tool can be
    replaced by raw bytes (`answer_once`), and whose `hang` tool waits until released and says if it was cancelled.

    Tools: `echo` (answers its arguments as JSON text), `route` (the same, with an argument nested in an object
    mirrored into the `Mcp-Param-Region` header), `hang`."""

    def __init__(self) -> None:
        self.once: dict[str, bytes] = {}
        self.hanging = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = asyncio.Event()
        tools = [types.Tool(name="echo", description="Echo the arguments.", input_schema={"type": "object"}),
                 types.Tool(name="route", description="Echo the arguments, routed by region.",
                            input_schema=NESTED_HEADER_SCHEMA),
                 types.Tool(name="hang", description="Wait until released.", input_schema={"type": "object"})]

        async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
            return types.ListToolsResult(tools=tools)

        async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            if params.name == "hang":
                self.hanging.set()
                try:
                    await self.release.wait()
                except asyncio.CancelledError:
                    self.cancelled.set()
                    raise
            text = json.dumps(params.arguments or {}, sort_keys=True)
            return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

        self.server = Server("scripted", version="1.0.0", on_list_tools=list_tools, on_call_tool=call_tool)

    def answer_once(self, tool: str, raw: bytes) -> None:
        """The next call of `tool` is answered with `raw`, where THE_ID stands for the request's id."""
        self.once[tool] = raw

    def app(self) -> Any:
        manager = StreamableHTTPSessionManager(app=self.server)

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            async with manager.run():
                yield

        inner = Starlette(routes=[Route("/mcp", endpoint=StreamableHTTPASGIApp(manager))], lifespan=lifespan)

        async def scripted(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["method"] == "POST":
                tool = dict(scope["headers"]).get(b"mcp-name", b"").decode()
                raw = self.once.pop(tool, None)
                if raw is not None:
                    body, _ = await read_body(receive, 1 << 20)
                    raw = raw.replace(THE_ID, json.dumps(json.loads(body)["id"]).encode())
                    await send({"type": "http.response.start", "status": 200,
                                "headers": [(b"content-type", b"application/json")]})
                    await send({"type": "http.response.body", "body": raw})
                    return
            await inner(scope, receive, send)

        return scripted


@contextlib.asynccontextmanager
async def scripted_upstream() -> AsyncIterator[tuple[ScriptedUpstream, str]]:
    upstream = ScriptedUpstream()
    server = uvicorn.Server(uvicorn.Config(upstream.app(), host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield upstream, f"http://127.0.0.1:{port}/mcp"
    finally:
        upstream.release.set()
        server.should_exit = True
        await asyncio.wait_for(task, WAIT_S)
