"""First-party tool packs.

A pack is an ordinary MCP server object that the hub connects to in memory
(``mcp.Client(server)``) and mounts under a prefix, exactly like an upstream server.
"""

from __future__ import annotations

from collections.abc import Callable

from mcp.server import MCPServer

from . import essentials

__all__ = ["PACKS", "build"]

PACKS: dict[str, Callable[[], MCPServer]] = {
    essentials.PACK_NAME: essentials.create_server,
}


def build(name: str) -> MCPServer:
    """Return a fresh server for the pack called ``name``.

    Raises:
        KeyError: ``name`` is not a known pack; the message lists the known ones.
    """
    try:
        factory = PACKS[name]
    except KeyError:
        known = ", ".join(sorted(PACKS)) or "none"
        raise KeyError(f"Unknown tool pack {name!r}; known packs: {known}") from None
    return factory()
