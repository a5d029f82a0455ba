"""The stdio transport to an upstream MCP server, with every message bounded in size.

The SDK's `stdio_client` keeps an unbounded line buffer and re-joins it for every chunk read, so a server
that writes one 50 MB message costs the hub quadratic time on its event loop (20 MB: 23 s) and memory
without limit. This transport is the SDK's, spawn and shutdown included (its own helpers: process group,
the spec's close-wait-kill sequence, draining), with one difference: lines are cut from bytes as they
arrive, and a message past `max_message_bytes` ends the session at once (`on_overflow` is told first, so
the caller's request fails as "too large" rather than waiting for its timeout; the next call starts the
server again). Its stderr, too, is bounded: copied through a pipe into the log, which never grows past
MAX_STDERR_BYTES (the SDK hands the child the log file itself, so a chatty server could fill the disk).
"""

from __future__ import annotations

import codecs
import contextlib
import subprocess
import sys
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from typing import TextIO

import anyio
import anyio.lowlevel
import mcp.types as types
from mcp.client._transport import TransportStreams
from mcp.client.stdio import (
    StdioServerParameters,
    _aclose_all,
    _create_platform_compatible_process,
    _drain_stdout,
    _get_executable_command,
    _stop_server_process,
    _terminate_process_tree,
    get_default_environment,
)
from mcp.shared.message import SessionMessage

WRITER_FLUSH_TIMEOUT_S = 0.5  # as the SDK's: time for accepted messages to reach the server's stdin
MAX_STDERR_BYTES = 8 * 1024 * 1024  # the server's stderr log is started afresh past this (it could fill the disk)


class Lines:
    """Newline-delimited messages out of a byte stream, each at most `limit` bytes (linear in what is read)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> list[bytes] | None:
        """The lines this chunk completes; None once the line being read is past the limit."""
        lines: list[bytes] = []
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            part = chunk[start:end]
            if self._size + len(part) > self.limit:
                return None
            lines.append(b"".join([*self._parts, part]) if self._parts else part)
            self._parts, self._size, start = [], 0, end + 1
        if start < len(chunk):
            self._parts.append(chunk[start:])
            self._size += len(chunk) - start
            if self._size > self.limit:
                return None
        return lines


def parse(line: bytes) -> SessionMessage | Exception:
    """One message, or the parse error as a value for the session to surface (as the SDK does)."""
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:
        return exc


@asynccontextmanager
async def bounded_stdio_client(server: StdioServerParameters, errlog: TextIO, *, max_message_bytes: int,
                               on_overflow: Callable[[], None]) -> AsyncGenerator[TransportStreams, None]:
    command = await _get_executable_command(server.command)
    process = await _create_platform_compatible_process(  # stderr through a pipe the hub copies, bounded
        command=command, args=server.args, env=get_default_environment() | (server.env or {}),
        errlog=subprocess.PIPE, cwd=server.cwd)  # type: ignore[arg-type]
    # No awaits from the spawn until the task group is entered: a cancellation there would leak the process.
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)
    writer_done = anyio.Event()

    async def stdout_reader() -> None:
        assert process.stdout is not None
        lines = Lines(max_message_bytes)
        try:
            async with read_writer:
                try:
                    async for chunk in process.stdout:
                        complete = lines.feed(chunk)
                        if complete is None:
                            on_overflow()
                            await read_writer.aclose()  # the session ends: its requests fail now, not at their
                            return  # timeout (the drain below keeps the pipe flowing until shutdown closes it)
                        for line in complete:
                            if line.strip():
                                try:
                                    await read_writer.send(parse(line))
                                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                                    return
                finally:
                    await _drain_stdout(process)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, ConnectionError):
            pass  # shutdown closed the pipe under the read, or the server went away: the session sees the end

    async def stdin_writer() -> None:
        assert process.stdin is not None
        try:
            async with write_reader:
                async for message in write_reader:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
                    await process.stdin.send(data)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await read_writer.aclose()  # the server may live on: end the session rather than hang a request
        finally:
            writer_done.set()

    async def stderr_copier() -> None:
        """The server's stderr into `errlog`, which never grows past MAX_STDERR_BYTES: past it, the log starts
        afresh (the newest lines are the ones worth keeping). Always drained, so the server never blocks on it."""
        assert process.stderr is not None
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async for chunk in process.stderr:
                with contextlib.suppress(OSError, ValueError):  # a full disk, a closed log: drained all the same
                    text = decoder.decode(chunk)
                    if errlog.tell() + len(text) > MAX_STDERR_BYTES:
                        errlog.seek(0)
                        errlog.truncate()
                        errlog.write(f"[stderr log restarted: it reached {MAX_STDERR_BYTES} bytes]\n")
                    errlog.write(text)

    async def shutdown() -> None:
        read_stream.close()  # unblocks the reader into its drain, so a server stuck writing can read its stdin
        write_stream.close()
        with anyio.move_on_after(WRITER_FLUSH_TIMEOUT_S):
            await writer_done.wait()
        await _stop_server_process(process)
        if sys.platform != "win32":
            # A server that exits on EOF is not waited for with a kill, but children it left in its process group
            # (a wrapper's real server, a forked helper holding the pipes) would outlive it: end the group too.
            await _terminate_process_tree(process)
        await _aclose_all(read_stream, write_stream, read_writer, write_reader)
        await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stdout_reader)
        tg.start_soon(stdin_writer)
        tg.start_soon(stderr_copier)
        try:
            yield read_stream, write_stream
        finally:
            with anyio.CancelScope(shield=True):  # every wait inside is bounded; the process must not leak
                await shutdown()
            tg.cancel_scope.cancel()
    await anyio.lowlevel.cancel_shielded_checkpoint()
