"""Limits and helpers shared by every tool in the ``essentials`` pack."""

from __future__ import annotations

from typing import Annotated

from mcp.types import ToolAnnotations
from pydantic import Field

# --------------------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------------------

MAX_TEXT_CHARS = 1_000_000
MAX_SHORT_CHARS = 1_000
MAX_EXPRESSION_CHARS = 1_000
MAX_CALC_NODES = 500
MAX_INT_BITS = 10_000  # about 3,000 decimal digits
MAX_JSON_WEIGHT = 2_000_000  # approximate serialized size of any value json_query builds
MAX_JSON_VISITS = 2_000_000
JSON_QUERY_SECONDS = 2.0
REGEX_SECONDS = 1.0
MAX_REGEX_COST = 100_000  # nodes after unrolling counted repeats such as (ab){1000}
MAX_REGEX_MATCHES = 1_000
MAX_REGEX_OUTPUT_CHARS = 2_000_000
MAX_UUIDS = 100

Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


def _annotations(title: str, *, idempotent: bool = True) -> ToolAnnotations:
    return ToolAnnotations(
        title=title,
        read_only_hint=True,
        destructive_hint=False,
        idempotent_hint=idempotent,
        open_world_hint=False,
    )


class _LimitError(Exception):
    """A work, time or size budget was exceeded (used by json_query and regex_replace)."""
