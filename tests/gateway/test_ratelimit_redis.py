"""Token-bucket rate limits: the Redis limiter shared by replicas (refill, expiry, prefixes, replicas and processes).

The tests use a real server (HUB_TEST_REDIS_URL, default redis://127.0.0.1:6379), each under its own key prefix.
Time-dependent assertions only bound from the safe side (a loaded machine makes things slower, which they tolerate).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import redis

from hub.gateway.ratelimit import MemoryLimiter, Rate, RedisLimiter, limiter_from_url

ROOT = Path(__file__).resolve().parents[2]


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
