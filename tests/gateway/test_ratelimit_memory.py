"""Token-bucket rate limits: the in-memory limiter, with an injected clock (exact refills, a bounded key count)."""

from __future__ import annotations

from hub.gateway.ratelimit import Decision, MemoryLimiter, Rate


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


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
