"""The ``essentials`` pack: small, exact tools for things language models get wrong.

Everything here is pure computation: no network, no filesystem beyond the time-zone
database, no state between calls. Every input is bounded, and every anticipated
failure is raised as :class:`ToolError`, which the SDK turns into an ``isError``
result that carries our message (any other exception would reach the caller as a
generic "Error executing tool <name>" with no detail).

One module per concern: :mod:`.time` (time zones and date arithmetic),
:mod:`.calculate`, :mod:`.units`, :mod:`.data` (JSON query, hashing, base64, UUIDs)
and :mod:`.text` (text statistics and regular expressions); shared limits live in
:mod:`._common`. This module registers them all on one server.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from mcp.server import MCPServer

from ._common import _annotations
from .calculate import calculate
from .data import base64, hash_text, json_query, uuid
from .text import regex_find, regex_replace, text_stats
from .time import add_duration, convert_time, date_diff, now
from .units import convert_units

__all__ = ["create_server"]

PACK_NAME = "essentials"

_TOOLS: list[tuple[Callable[..., Any], str, bool]] = [
    (now, "Current time", False),
    (convert_time, "Convert time between zones", True),
    (date_diff, "Difference between dates", True),
    (add_duration, "Add a duration to a date", True),
    (calculate, "Calculator", True),
    (convert_units, "Convert units", True),
    (json_query, "Query JSON (JMESPath)", True),
    (text_stats, "Text statistics", True),
    (hash_text, "Hash text", True),
    (base64, "Base64 encode/decode", True),
    (uuid, "Generate UUIDs", False),
    (regex_find, "Find regex matches", True),
    (regex_replace, "Regex replace", True),
]


def create_server() -> MCPServer:
    """Build a fresh ``essentials`` MCP server (stateless; one per mount is fine)."""
    server = MCPServer(
        PACK_NAME,
        title="Essentials",
        version="1.0.0",
        instructions=(
            "Exact, offline helpers: current time and time-zone conversion, date arithmetic, a calculator, "
            "unit conversion, JSON querying (JMESPath), text statistics, hashing, base64, UUIDs and regular "
            "expressions. Prefer these over estimating such results yourself."
        ),
    )
    for fn, title, idempotent in _TOOLS:
        server.add_tool(
            fn,
            name=fn.__name__,
            title=title,
            description=_describe(fn),
            annotations=_annotations(title, idempotent=idempotent),
            structured_output=True,
        )
    return server


def _describe(fn: Callable[..., Any]) -> str:
    """The docstring, dedented, as the tool description."""
    return inspect.cleandoc(fn.__doc__ or "")
