"""Token-bucket rate limits: the Rate syntax, the in-memory limiter, and the Redis limiter shared by replicas.

The Redis tests use a real server (HUB_TEST_REDIS_URL, default redis://127.0.0.1:6379), each under its own key
prefix; the outage tests start and kill their own `redis-server`. Time-dependent assertions only bound from the
safe side (a loaded machine makes things slower, which they tolerate).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.backoff import NoBackoff
from redis.retry import Retry

from hub.gateway.ratelimit import (
    Decision,
    Limiter,
    MemoryLimiter,
    Rate,
    RateLimitUnavailable,
    RateSetting,
    RedisLimiter,
    limiter_from_url,
)

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379")
ROOT = Path(__file__).resolve().parents[2]


def _unavailable(what: str) -> None:
    if os.environ.get("CI"):  # CI has Redis: a missing one is a failure, never a silent skip
        pytest.fail(what)
    pytest.skip(what)


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3, retry=Retry(NoBackoff(), 0))
    try:
        client.ping()
    except (redis.exceptions.RedisError, OSError) as e:
        _unavailable(f"no Redis server at {REDIS_URL}: {e}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted after it (they would expire anyway)."""
    p = f"hub:test:rl:{uuid.uuid4().hex}:"
    yield p
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=p + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
async def redis_limiter(redis_url: str, prefix: str) -> AsyncIterator[RedisLimiter]:
    lim = RedisLimiter(redis_url, prefix=prefix, timeout_s=5)  # generous: a loaded CI box must not look like an outage
    yield lim
    await lim.close()


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Limiter]:
    """Either limiter, for the behaviour both must share. Rates here are slow enough that no refill lands mid-test."""
    if request.param == "memory":
        lim: Limiter = MemoryLimiter()
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("prefix")
        lim = RedisLimiter(url, prefix=prefix, timeout_s=5)
    yield lim
    await lim.close()


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# --- Rate syntax ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "per_s", "burst"),
    [
        ("10/s", 10.0, 10),
        ("600/m", 10.0, 600),
        ("100/min", 100 / 60, 100),
        ("3600/h", 1.0, 3600),
        ("2/day", 2 / 86400, 2),
        ("600/m burst 50", 10.0, 50),
        ("  5 / Seconds   BURST 2 ", 5.0, 2),
        ("1/hr burst 10", 1 / 3600, 10),
    ],
)
def test_parse(text: str, per_s: float, burst: int) -> None:
    r = Rate.parse(text)
    assert r.per_s == pytest.approx(per_s)
    assert r.burst == burst
    assert Rate.parse(str(r)) == r  # the string form round-trips


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "expected COUNT/UNIT"),
        ("10", "expected COUNT/UNIT"),
        ("10/", "expected COUNT/UNIT"),
        ("/s", "expected COUNT/UNIT"),
        ("-1/s", "expected COUNT/UNIT"),
        ("1.5/s", "expected COUNT/UNIT"),
        ("10 per s", "expected COUNT/UNIT"),
        ("10/s:5", "expected COUNT/UNIT"),
        ("10/s burst", "expected COUNT/UNIT"),
        ("10/s burst -1", "expected COUNT/UNIT"),
        ("10/fortnight", "unknown unit 'fortnight'"),
        ("0/s", "count must be at least 1"),
        ("10/s burst 0", "burst must be at least 1"),
    ],
)
def test_parse_errors(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as e:
        Rate.parse(text)
    assert repr(text) in str(e.value)  # the message quotes what was wrong


@pytest.mark.parametrize(
    ("per_s", "burst"), [(0, 1), (-1.0, 1), (math.inf, 1), (math.nan, 1), (1.0, 0), (1.0, 1.5), ("1", 1), (True, 1)]
)
def test_rate_constructor_validates(per_s: object, burst: object) -> None:
    with pytest.raises(ValueError):
        Rate(per_s=per_s, burst=burst)  # type: ignore[arg-type]


def test_rate_str() -> None:
    assert str(Rate.parse("600/m")) == "600/m"
    assert str(Rate.parse("600/m burst 50")) == "10/s burst 50"
    assert str(Rate(per_s=1.0, burst=3600)) == "3600/h"


def test_rate_as_pydantic_field() -> None:
    class Limits(BaseModel):
        default: Rate
        optional: Rate | None = None
        per_tool: dict[str, Rate] = {}

    m = Limits(
        default="600/m", optional=Rate(2.0, 4), per_tool={"clock.now": "5/s burst 1", "x": {"per_s": 1, "burst": 2}}
    )
    assert m.default == Rate(10.0, 600)
    assert m.per_tool["clock.now"] == Rate(5.0, 1)
    assert m.per_tool["x"] == Rate(1, 2)
    dumped = m.model_dump(mode="json")
    assert dumped["default"] == "600/m"
    assert Limits.model_validate_json(json.dumps(dumped)) == m
    assert Limits.model_json_schema()["properties"]["default"]["type"] == "string"
    with pytest.raises(ValidationError, match="unknown unit"):
        Limits(default="5/x")
    with pytest.raises(ValidationError, match="per_s and burst"):
        Limits(default={"per_s": 1})
    with pytest.raises(ValidationError):
        Limits(default=5)


def test_rate_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="HUB_TEST_RL_")
        rate_limit: RateSetting = Rate(10.0, 10)
        tool_rate_limit: Rate | None = None
        tool_rate_limits: dict[str, Rate] = {}

    assert Settings().rate_limit == Rate(10.0, 10)
    monkeypatch.setenv("HUB_TEST_RL_RATE_LIMIT", "600/m")
    monkeypatch.setenv("HUB_TEST_RL_TOOL_RATE_LIMIT", "6/m burst 2")
    monkeypatch.setenv("HUB_TEST_RL_TOOL_RATE_LIMITS", '{"clock.now": "1/s"}')
    s = Settings()
    assert s.rate_limit == Rate(10.0, 600)
    assert s.tool_rate_limit == Rate(0.1, 2)
    assert s.tool_rate_limits == {"clock.now": Rate(1.0, 1)}
    monkeypatch.setenv("HUB_TEST_RL_RATE_LIMIT", "lots")
    with pytest.raises(ValidationError, match="invalid rate 'lots'"):
        Settings()


def test_retry_after_header() -> None:
    assert Decision(allowed=False, retry_after_s=0.2, remaining=0.8, key="k").retry_after_header == "1"
    assert Decision(allowed=False, retry_after_s=1.01, remaining=0.0, key="k").retry_after_header == "2"
    assert Decision(allowed=True, retry_after_s=0.0, remaining=3.0, key="k").retry_after_header == "0"


# --- behaviour shared by both limiters -----------------------------------------------------------------------------

SLOW = Rate(per_s=0.5, burst=3)  # 2 s per token: nothing refills between consecutive calls, even on a loaded box


async def test_burst_then_refused(limiter: Limiter) -> None:
    remaining = []
    for _ in range(3):
        d = await limiter.take([("p:alice", SLOW)])
        assert d.allowed and d.retry_after_s == 0 and d.key == "p:alice"
        remaining.append(d.remaining)
    assert remaining[0] > remaining[1] > remaining[2] >= 0
    assert remaining[0] == pytest.approx(2, abs=0.1)
    d = await limiter.take([("p:alice", SLOW)])
    assert not d.allowed
    assert d.key == "p:alice"
    assert 0 < d.retry_after_s <= 2.0  # one token at 0.5/s, less whatever refilled meanwhile
    assert d.remaining < 1


async def test_other_principals_unaffected(limiter: Limiter) -> None:
    for _ in range(3):
        assert (await limiter.take([("p:alice", SLOW)])).allowed
    assert not (await limiter.take([("p:alice", SLOW)])).allowed
    for _ in range(3):
        assert (await limiter.take([("p:bob", SLOW)])).allowed
    assert not (await limiter.take([("p:alice", SLOW)])).allowed


async def test_all_or_nothing(limiter: Limiter) -> None:
    principal, tool = ("p:alice", SLOW), ("t:alice:clock.now", Rate(per_s=0.5, burst=1))
    d = await limiter.take([principal, tool])
    assert d.allowed
    assert d.key == "t:alice:clock.now"  # the tightest bucket after the debit
    refused = await limiter.take([principal, tool])
    assert not refused.allowed and refused.key == "t:alice:clock.now"
    # The refused call debited nothing: the principal still has its 2 remaining tokens.
    assert (await limiter.take([principal])).allowed
    assert (await limiter.take([principal])).allowed
    assert not (await limiter.take([principal])).allowed


async def test_refusal_names_the_longest_wait(limiter: Limiter) -> None:
    quick, slow = ("quick", Rate(per_s=0.5, burst=1)), ("slow", Rate(per_s=0.01, burst=1))
    assert (await limiter.take([quick, slow])).allowed
    d = await limiter.take([quick, slow])
    assert not d.allowed and d.key == "slow"
    assert 50 < d.retry_after_s <= 100


async def test_cost(limiter: Limiter) -> None:
    assert (await limiter.take([("k", SLOW)], cost=2)).allowed
    d = await limiter.take([("k", SLOW)], cost=2)
    assert not d.allowed and d.retry_after_s > 1.0  # needs a second token: at least ~2 s less what refilled
    assert (await limiter.take([("k", SLOW)], cost=1)).allowed


async def test_caller_errors(limiter: Limiter) -> None:
    assert await limiter.take([]) == Decision(allowed=True, retry_after_s=0.0, remaining=math.inf, key=None)
    with pytest.raises(ValueError, match="could never pass"):
        await limiter.take([("k", SLOW)], cost=4)
    with pytest.raises(ValueError, match="listed twice"):
        await limiter.take([("k", SLOW), ("k", SLOW)])
    with pytest.raises(ValueError, match="cost"):
        await limiter.take([("k", SLOW)], cost=0)


# --- memory, with an injected clock ---------------------------------------------------------------------------------


async def test_memory_refill_is_exact() -> None:
    clock = FakeClock()
    lim = MemoryLimiter(clock=clock)
    rate = Rate(per_s=2.0, burst=3)
    for left in (2, 1, 0):
        assert await lim.take([("k", rate)]) == Decision(allowed=True, retry_after_s=0.0, remaining=left, key="k")
    d = await lim.take([("k", rate)])
    assert (d.allowed, d.retry_after_s, d.remaining) == (False, 0.5, 0.0)
    clock.t += 0.25
    d = await lim.take([("k", rate)])
    assert (d.allowed, d.retry_after_s, d.remaining) == (False, 0.25, 0.5)
    clock.t += 0.25
    assert (await lim.take([("k", rate)])).allowed
    assert not (await lim.take([("k", rate)])).allowed
    clock.t += 3600  # refill stops at the burst
    assert [(await lim.take([("k", rate)])).allowed for _ in range(4)] == [True, True, True, False]


async def test_memory_clock_going_backwards_refills_nothing() -> None:
    clock = FakeClock()
    lim = MemoryLimiter(clock=clock)
    rate = Rate(per_s=1.0, burst=1)
    assert (await lim.take([("k", rate)])).allowed
    clock.t -= 10
    assert not (await lim.take([("k", rate)])).allowed


async def test_memory_is_bounded() -> None:
    clock = FakeClock()
    lim = MemoryLimiter(max_keys=100, clock=clock)
    rate = Rate(per_s=1.0, burst=5)
    for i in range(10_000):  # a flood of distinct principals
        assert (await lim.take([(f"p:{i}", rate)])).allowed
        assert len(lim) <= 100
    # A busy key survives the flood: it keeps moving to the recently-used end.
    for _ in range(3):
        await lim.take([("hot", rate)])
    for i in range(99):
        await lim.take([(f"q:{i}", rate)])
    assert not [await lim.take([("hot", rate)]) for _ in range(3)][-1].allowed


async def test_memory_drops_buckets_once_full_again() -> None:
    """A bucket that has refilled to full is the same as none; idle ones go without waiting for the cap."""
    clock = FakeClock()
    lim = MemoryLimiter(clock=clock)
    rate = Rate(per_s=1.0, burst=2)
    for i in range(50):
        await lim.take([(f"p:{i}", rate)])
    assert len(lim) == 50
    clock.t += 0.5  # not yet full: nothing may go
    await lim.take([("busy", rate)])
    assert len(lim) == 51
    clock.t += 1.0  # every p:* is full again
    for _ in range(10):
        await lim.take([("busy", Rate(per_s=1.0, burst=100))])
    assert len(lim) == 1


# --- Redis -----------------------------------------------------------------------------------------------------------


async def test_redis_refills_over_time(redis_limiter: RedisLimiter) -> None:
    rate = Rate(per_s=5.0, burst=1)
    assert (await redis_limiter.take([("k", rate)])).allowed
    d = await redis_limiter.take([("k", rate)])
    if d.allowed:  # the box stalled for >200 ms between the two calls; the refill itself is still checked below
        d = await redis_limiter.take([("k", rate)])
    assert not d.allowed and 0 < d.retry_after_s <= 0.2
    await asyncio.sleep(d.retry_after_s + 0.1)
    assert (await redis_limiter.take([("k", rate)])).allowed


async def test_redis_buckets_expire_when_full_again(redis_limiter: RedisLimiter, redis_url: str, prefix: str) -> None:
    await redis_limiter.take([("k", Rate(per_s=0.5, burst=3))])  # 1 token short: full again in 2 s
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        ttl_ms = await client.pttl(prefix + "k")
        assert 0 < ttl_ms <= 2000 + 1000  # the refill time plus the script's 1 s margin
        assert set(await client.hgetall(prefix + "k")) == {b"tokens", b"ts"}
    finally:
        await client.aclose()


async def test_redis_prefix_separates_limiters(redis_url: str, prefix: str) -> None:
    a, b = RedisLimiter(redis_url, prefix=prefix + "a:"), RedisLimiter(redis_url, prefix=prefix + "b:")
    try:
        one = Rate(per_s=0.01, burst=1)
        assert (await a.take([("k", one)])).allowed
        assert (await b.take([("k", one)])).allowed
        assert not (await a.take([("k", one)])).allowed
    finally:
        await a.close()
        await b.close()


async def test_two_replicas_share_one_limit(redis_url: str, prefix: str) -> None:
    """Two limiters with their own connection pools (two hub replicas) hammer one bucket for about a second."""
    rate = Rate(per_s=100.0, burst=20)
    replicas = [RedisLimiter(redis_url, prefix=prefix, timeout_s=5) for _ in range(2)]
    admitted = [0, 0]

    async def worker(i: int, until: float) -> None:
        while time.monotonic() < until:
            if (await replicas[i].take([("p:shared", rate)])).allowed:
                admitted[i] += 1

    try:
        start = time.monotonic()
        await asyncio.gather(*(worker(i, start + 1.0) for i in (0, 1) for _ in range(16)))
        elapsed = time.monotonic() - start
    finally:
        for r in replicas:
            await r.close()
    total = sum(admitted)
    assert total <= (rate.burst + rate.per_s * elapsed) * 1.05, (admitted, elapsed)
    assert total >= rate.burst  # the limit, not an outage or a bug, is what stopped them
    assert all(admitted)


_HAMMER = """
import asyncio, json, sys, time
from hub.gateway.ratelimit import Rate, RedisLimiter

async def main(url, prefix, go):
    lim = RedisLimiter(url, prefix=prefix, timeout_s=5)
    rate, n = Rate(per_s=100.0, burst=20), 0
    await lim.take([("warm-up", rate)])  # connect before the clock starts
    while time.time() < go:
        await asyncio.sleep(0.005)
    start = time.time()
    async def worker():
        nonlocal n
        while time.time() < go + 1.0:
            ok = (await lim.take([("p:shared", rate)])).allowed  # awaited before n is read: no lost updates
            n += ok
    await asyncio.gather(*(worker() for _ in range(16)))
    print(json.dumps({"admitted": n, "start": start, "end": time.time()}))
    await lim.close()

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
"""


def test_two_processes_share_one_limit(redis_url: str, prefix: str) -> None:
    """The deployment shape: two separate hub processes, one Redis; together they admit at most the limit."""
    go = time.time() + 2.0  # both start together once imported and connected
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, redis_url, prefix, str(go)], stdout=subprocess.PIPE, cwd=ROOT, text=True
        )
        for _ in range(2)
    ]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        results.append(json.loads(out))
    elapsed = max(r["end"] for r in results) - min(r["start"] for r in results)
    total = sum(r["admitted"] for r in results)
    assert total <= (20 + 100.0 * elapsed) * 1.05, (results, elapsed)
    assert total >= 20


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


async def test_limiter_from_url(redis_url: str) -> None:
    mem = limiter_from_url(None)
    assert isinstance(mem, MemoryLimiter)
    assert isinstance(limiter_from_url(""), MemoryLimiter)
    red = limiter_from_url(redis_url)
    try:
        assert isinstance(red, RedisLimiter)
    finally:
        await red.close()
        await mem.close()
