"""Token-bucket rate limits: the behaviour both limiters share, run against the in-memory one and the Redis one.

The Redis runs use a real server (HUB_TEST_REDIS_URL, default redis://127.0.0.1:6379), each under its own key prefix.
Time-dependent assertions only bound from the safe side (a loaded machine makes things slower, which they tolerate).
"""

from __future__ import annotations

import math

import pytest

from hub.gateway.ratelimit import Decision, Limiter, Rate
from tests.gateway.ratelimit_helpers import SLOW

# --- behaviour shared by both limiters -----------------------------------------------------------------------------


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
