"""Small real upstream MCP servers for the hub's tests, runnable over stdio or Streamable HTTP.

    python -m tests.upstreams stdio
    python -m tests.upstreams http PORT
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations

# Tools a test can change at run time (via the `grow` tool) to exercise list_changed.
server = MCPServer("test-upstream", version="1.0.0")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await asyncio.sleep(seconds)
    return "done"


@server.tool()
def big(megabytes: int) -> str:
    """Answer with a very large text."""
    return "x" * (megabytes * 1024 * 1024)


@server.tool()
def crash() -> str:
    """Kill the server process mid-call."""
    os._exit(3)


@server.tool()
async def progress(steps: int, ctx: Context) -> str:
    """Report progress in steps, then answer."""
    for i in range(steps):
        await ctx.report_progress(i + 1, steps, f"step {i + 1}")
    return f"{steps} steps"


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Add a tool at run time and announce the change."""
    server.add_tool(lambda text: text[::-1], name=name, description=f"reverse text ({name})")
    await ctx.notify_tools_changed()
    with contextlib.suppress(Exception):
        await ctx.session.send_tool_list_changed()
    return f"added {name}"


SEEN = {"authorization": "none"}


@server.tool()
def whoami() -> str:
    """Report the credential the upstream saw: the Authorization header (HTTP) or UPSTREAM_SECRET (stdio)."""
    return SEEN["authorization"] if SEEN["authorization"] != "none" else os.environ.get("UPSTREAM_SECRET", "none")


def _recording(app):
    """ASGI wrapper remembering the Authorization header of the latest request (for credential tests)."""

    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            SEEN["authorization"] = headers.get(b"authorization", b"none").decode()
        await app(scope, receive, send)

    return wrapped


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        import uvicorn

        app = server.streamable_http_app()
        uvicorn.run(_recording(app), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", lifespan="on")
    else:
        server.run()
