"""Shared helpers for the essentials pack tests: an in-memory MCP client exactly as the hub mounts it."""

from __future__ import annotations

from typing import Any

from hub.tools import build
from mcp import Client
from mcp.types import CallToolResult

SERVER = build("essentials")


async def _call(name: str, arguments: dict[str, Any]) -> CallToolResult:
    # A fresh in-memory session per call, the way the hub connects to a pack; listing first lets the
    # client validate structured output against each tool's outputSchema.
    async with Client(SERVER) as client:
        await client.list_tools()
        return await client.call_tool(name, arguments)


async def ok(name: str, **arguments: Any) -> Any:
    result = await _call(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def fails(name: str, **arguments: Any) -> str:
    result = await _call(name, arguments)
    assert result.is_error, result.structured_content
    text = result.content[0].text
    assert text.startswith(f"Error executing tool {name}: ")
    assert "Traceback" not in text
    return text
