"""Token-bucket rate limits: Redis outages. The limiter fails closed, quickly, and recovers.

The outage tests start and kill their own `redis-server`, or stand in a silent server for a hung one.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hub.gateway.ratelimit import Rate, RateLimitUnavailable, RedisLimiter
from tests.gateway.ratelimit_helpers import SLOW, _unavailable

# --- Redis outages: fail closed, quickly, and recover -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_redis(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable("no redis-server binary on PATH")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return proc
            except redis.exceptions.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError(f"redis-server on port {port} did not start") from None
                time.sleep(0.05)
    finally:
        client.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


async def test_redis_down_fails_closed_and_recovers() -> None:
    port = _free_port()
    server = _start_redis(port)
    lim = RedisLimiter(f"redis://127.0.0.1:{port}/0", timeout_s=0.5)
    rate = Rate(per_s=0.01, burst=100)
    try:
        assert (await lim.take([("p:alice", rate)])).allowed
        _stop(server)
        for _ in range(3):  # fails every time, never admits while Redis is gone
            t0 = time.monotonic()
            with pytest.raises(RateLimitUnavailable, match="rate limiter unavailable") as e:
                await lim.take([("p:alice", rate)])
            assert time.monotonic() - t0 < 3.0  # immediate in practice (connection refused); never a hang
            assert str(port) not in str(e.value) and "127.0.0.1" not in str(e.value)  # safe to show a client
        server = _start_redis(port)  # back on the same address: the same limiter reconnects by itself
        assert (await lim.take([("p:alice", rate)])).allowed  # and re-loads its script into the fresh server
        assert (await lim.take([("p:alice", rate)])).allowed
    finally:
        await lim.close()
        _stop(server)


async def test_redis_never_reachable() -> None:
    lim = RedisLimiter(f"redis://127.0.0.1:{_free_port()}/0")
    try:
        t0 = time.monotonic()
        with pytest.raises(RateLimitUnavailable):
            await lim.take([("p:alice", SLOW)])
        assert time.monotonic() - t0 < 3.0
    finally:
        await lim.close()


async def test_redis_that_never_answers_times_out() -> None:
    """A server that accepts and then says nothing (a hung Redis, a black-holed route): an error, not a hang."""
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lim = RedisLimiter(f"redis://127.0.0.1:{port}/0", timeout_s=0.5)
    try:
        t0 = time.monotonic()
        with pytest.raises(RateLimitUnavailable):
            await lim.take([("p:alice", SLOW)])
        assert time.monotonic() - t0 < 5.0  # the socket timeout, retried once, under an overall 4 x timeout cap
    finally:
        await lim.close()
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()
