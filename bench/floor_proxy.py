"""The thinnest hop the hub's own stack allows: uvicorn (uvloop, the hub's httptools protocol) forwarding each
POST body to one upstream URL over a pooled aiohttp session, and its answer back. No authentication, policy,
validation or audit.

    python bench/floor_proxy.py PORT UPSTREAM_URL

`overhead.py --floor` measures it beside the hub: what it adds over calling the upstream directly is the floor
of any proxy built on these parts on this machine, and the hub's added latency is best read against it.
"""

from __future__ import annotations

import sys
from typing import Any

import aiohttp
import uvicorn

from hub.http_protocol import HubHttpProtocol

FORWARDED = (b"content-type", b"accept", b"mcp-protocol-version", b"mcp-method", b"mcp-name", b"mcp-session-id")


class FloorProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k.lower() in FORWARDED}
        assert self.session is not None
        async with self.session.post(self.upstream, data=body, headers=headers) as answer:
            content = await answer.read()
            raw = [(b"content-type", answer.headers.get("content-type", "application/json").encode()),
                   (b"content-length", str(len(content)).encode())]
            status = answer.status
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": content})

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.session = aiohttp.ClientSession()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[0].isdigit():
        print("usage: python bench/floor_proxy.py PORT UPSTREAM_URL", file=sys.stderr)
        return 2
    uvicorn.run(FloorProxy(argv[1]), host="127.0.0.1", port=int(argv[0]), log_level="warning", loop="uvloop",
                http=HubHttpProtocol, lifespan="on")  # the hub's own HTTP protocol (one write an answer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
