"""How gateway refusals read in MCP, shared by the SDK path and the lean path."""

from __future__ import annotations

from mcp.shared.exceptions import MCPError
from starlette.requests import Request

from hub.gateway.gateway import RateLimited

# Over a rate limit. Outside JSON-RPC's reserved range, as the 2026-07-28 error-code policy asks;
# `data.retryAfter` says when (seconds), like HTTP's Retry-After.
RATE_LIMITED = -31029


def rate_limited(exc: RateLimited) -> MCPError:
    return MCPError(RATE_LIMITED, str(exc), {"retryAfter": round(exc.decision.retry_after_s, 3)})


def trace_id(request: object) -> str | None:
    """The W3C trace id of the caller's traceparent header, for the audit trail."""
    if not isinstance(request, Request):
        return None
    parts = request.headers.get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None
