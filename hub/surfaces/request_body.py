"""A request body read whole, ahead of an app that would read it itself, and handed on (`replay`)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """(what was read, whether that is the whole body); reading stops once past `limit`, so a caller must
    still check the size (a body within one message can be past it). Not whole and within `limit`: the client
    went before sending it all."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False


def replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """`receive` for an app downstream: the bytes already read, then the rest of the stream."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replayed


def declared_over(scope: Scope, limit: int) -> bool:
    """Whether the request's Content-Length is past `limit`, or is no length at all (the SDK answers 413)."""
    for key, value in scope.get("headers") or []:
        if key == b"content-length":
            return not value.isdigit() or int(value) > limit
    return False


class WholeBody:
    """POST bodies read whole before `app` sees them. A client that goes mid-body (it hung up, or ran past the
    read deadline) ends here, quietly: there is no one to answer. The SDK's session transport would log that as
    an error and try to answer it. A body past `limit`, declared or read, goes on for the app's own 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or declared_over(scope, self.limit):
            await self.app(scope, receive, send)
            return
        body, complete = await read_body(receive, self.limit)
        if not complete and len(body) <= self.limit:
            return  # the client is gone
        await self.app(scope, replay(body, complete, receive), send)
