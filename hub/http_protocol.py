"""uvicorn's HTTP/1.1 protocol (httptools) with one send per response and a deadline on reading a request.

One send per response. uvicorn writes a response's head when the app sends `http.response.start` and its body on
`http.response.body`: two socket writes for every plain answer. On loopback each write also wakes the
reader; on a small virtual machine each one held the event loop for 170-200 µs (cProfile over 3,000
tools/calls; much of it the writer descheduled while the woken reader runs), so the second write cost
about a tenth of a proxied call. Here writes issued in one event-loop turn are joined and leave together at
the end of that turn: a head and a body sent back to back go out in one write, and nothing waits longer
than the turn it was written in.

A deadline on reading a request. uvicorn bounds only the idle time between requests: a client that opens
a connection and sends nothing, or sends a request's head or body a byte at a time, holds the connection,
the request's task and what it buffered for as long as it likes (any caller for the head; for the body,
one whose credential passed). Here a request must arrive whole (head and body) within
`request_read_timeout` of its first byte, and a new connection must start one within that time. A late
request gets a 408 and the connection closes; the app sees the client go (`http.disconnect`), as when a
client hangs up. The deadline ends where the request ends: a long call, or a stream the server keeps open,
is never cut by it. Everything else about the protocol is uvicorn's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

TIMEOUT_BODY = b"Request Timeout: the request did not arrive in time.\n"


class CorkedTransport:
    """A transport whose writes within one loop turn are sent as one (see the module docstring)."""

    __slots__ = ("_buffer", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._buffer: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._buffer:
            self._loop.call_soon(self.flush)
        self._buffer.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if not self._buffer:
            return
        data = self._buffer[0] if len(self._buffer) == 1 else b"".join(self._buffer)
        self._buffer.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(b) for b in self._buffer)

    def close(self) -> None:
        self.flush()  # what was written before close still goes out, as with a plain transport
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._buffer.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


class HubHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a `CorkedTransport`, with a deadline on reading each request."""

    request_read_timeout = 60.0  # seconds; `with_read_timeout` makes a class with another

    _read_deadline: asyncio.TimerHandle | None = None
    _in_head = False  # a request has begun and its head is not complete yet (self.cycle is an earlier one)

    @classmethod
    def with_read_timeout(cls, seconds: float) -> type[HubHttpProtocol]:
        return type(cls.__name__, (cls,), {"request_read_timeout": seconds})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, self.loop))  # type: ignore[arg-type]
        self._arm()  # a connection that never starts a request is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._arm()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._in_head = False

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def _arm(self) -> None:
        self._disarm()
        self._read_deadline = self.loop.call_later(self.request_read_timeout, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        if self.flow.read_paused:  # the hub holds the rest of the request (flow control), not the client
            self._arm()
            return
        cycle = self.cycle
        if self._in_head:  # self.cycle, if any, is an earlier request's: answer once it is done
            unanswered, cycle = cycle is None or cycle.response_complete, None
        else:
            unanswered = self.scope is not None and not cycle.response_started
        if unanswered:
            # A request has begun and nothing answered it yet. Its app (if started) now sees a disconnect
            # and whatever it sends is dropped: the 408 is the answer.
            if cycle is not None:
                cycle.disconnected = True
                cycle.message_event.set()
            self.transport.write(b"".join([
                STATUS_LINE[408], b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: %d\r\n" % len(TIMEOUT_BODY), b"connection: close\r\n\r\n", TIMEOUT_BODY,
            ]))
        self.transport.close()
