"""Shared pieces of the rate-limit tests: the Redis fixtures (re-exported by conftest.py), and a slow Rate.

The Redis fixtures use a real server (HUB_TEST_REDIS_URL, default redis://127.0.0.1:6379), each test under its own
key prefix.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hub.gateway.ratelimit import Limiter, MemoryLimiter, Rate, RedisLimiter

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379")

SLOW = Rate(per_s=0.5, burst=3)  # 2 s per token: nothing refills between consecutive calls, even on a loaded box


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
