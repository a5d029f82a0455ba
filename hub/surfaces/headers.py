"""Header values as RFC 9110 section 5.5 defines them: without leading or trailing whitespace.

uvicorn's h11 parser trims that whitespace; its faster httptools parser (used when installed) keeps
trailing whitespace. This outermost layer trims, so every surface and check reads the same values
whichever parser runs (MCP's Mcp-Name must match the body's name with or without the padding).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

_OWS = (b" ", b"\t")


class TrimHeaderValues:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            if any(value[-1:] in _OWS or value[:1] in _OWS for _, value in headers):
                scope = {**scope, "headers": [(key, value.strip(b" \t")) for key, value in headers]}
        await self.app(scope, receive, send)


def has_nul(value: object) -> bool:
    """Whether a decoded JSON value holds a NUL character anywhere (PostgreSQL stores no NUL in text)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple):
            stack += item
    return False

