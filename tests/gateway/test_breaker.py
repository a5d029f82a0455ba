"""Circuit breaker: trips on consecutive failures, fails fast, probes back one call at a time."""

from __future__ import annotations

import pytest

from hub.gateway.breaker import Breakers, CircuitBreaker


class FakeClock:
    """A mutable monotonic clock: tests move time instead of sleeping."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(clock: FakeClock, **kwargs: float) -> CircuitBreaker:
    settings: dict = {"failure_threshold": 3, "reset_timeout_s": 10.0, "max_reset_timeout_s": 60.0}
    settings.update(kwargs)
    return CircuitBreaker(clock=clock, **settings)


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.failure_threshold):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state == "open"


def test_closed_admits_everything_and_counts_consecutive_failures() -> None:
    clock = FakeClock()
    b = make(clock)
    assert b.state == "closed" and b.retry_after_s == 0.0
    b.failure()
    b.failure()
    assert b.failures == 2 and b.state == "closed" and b.allow()
    b.success()  # resets the run: failures must be consecutive
    assert b.failures == 0
    b.failure()
    b.failure()
    assert b.state == "closed"
    b.failure()
    assert b.state == "open"


def test_open_fails_fast_until_the_timeout() -> None:
    clock = FakeClock()
    b = make(clock)
    trip(b)
    assert not b.allow()
    assert b.retry_after_s == pytest.approx(10.0)
    clock.advance(9.5)
    assert not b.allow()
    assert b.retry_after_s == pytest.approx(0.5)
    assert b.state == "open"


def test_half_open_admits_exactly_one_probe_and_refuses_concurrent_callers() -> None:
    clock = FakeClock()
    b = make(clock)
    trip(b)
    clock.advance(10.0)
    assert b.retry_after_s == 0.0
    assert b.allow()  # the probe
    assert b.state == "half_open"
    assert not b.allow()  # a second caller while the probe is in flight
    assert not b.allow()
    assert b.retry_after_s > 0


def test_probe_success_closes() -> None:
    clock = FakeClock()
    b = make(clock)
    trip(b)
    clock.advance(10.0)
    assert b.allow()
    b.success()
    assert b.state == "closed" and b.failures == 0
    assert all(b.allow() for _ in range(5))


def test_probe_failure_reopens_with_doubled_capped_timeout() -> None:
    clock = FakeClock()
    b = make(clock, reset_timeout_s=10.0, max_reset_timeout_s=35.0)
    trip(b)
    expected = [20.0, 35.0, 35.0]  # 10 → 20 → 40 capped at 35 → stays capped
    for timeout in expected:
        clock.advance(b.retry_after_s)
        assert b.allow()
        b.failure()
        assert b.state == "open"
        assert b.retry_after_s == pytest.approx(timeout)
        clock.advance(timeout - 0.01)
        assert not b.allow()
        clock.advance(0.01)
    # recovery restores the base timeout for the next outage
    assert b.allow()
    b.success()
    trip(b)
    assert b.retry_after_s == pytest.approx(10.0)


def test_reports_from_stragglers_while_open_are_ignored() -> None:
    clock = FakeClock()
    b = make(clock)
    trip(b)
    clock.advance(4.0)
    b.success()  # a call admitted before the trip finishes late
    assert b.state == "open"
    b.failure()
    assert b.retry_after_s == pytest.approx(6.0)  # the wait is not extended either


def test_released_probe_frees_the_slot() -> None:
    clock = FakeClock()
    b = make(clock)
    trip(b)
    clock.advance(10.0)
    assert b.allow()
    b.release()  # the probe was cancelled: no verdict, but someone else may probe
    assert b.state == "half_open"
    assert b.allow()
    assert not b.allow()


def test_a_lost_probe_does_not_wedge_the_breaker() -> None:
    clock = FakeClock()
    b = make(clock, probe_timeout_s=5.0)
    trip(b)
    clock.advance(10.0)
    assert b.allow()  # this probe's caller never reports back
    clock.advance(4.9)
    assert not b.allow()
    clock.advance(0.1)
    assert b.allow()  # lease expired: a fresh probe
    assert not b.allow()


def test_threshold_of_one_trips_on_first_failure() -> None:
    clock = FakeClock()
    b = make(clock, failure_threshold=1)
    b.failure()
    assert b.state == "open" and not b.allow()


@pytest.mark.parametrize(
    "kwargs",
    [{"failure_threshold": 0}, {"reset_timeout_s": 0}, {"probe_timeout_s": -1}, {"max_reset_timeout_s": 5.0}],
)
def test_rejects_nonsense_settings(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        make(FakeClock(), **kwargs)


def test_breakers_are_per_upstream() -> None:
    clock = FakeClock()
    breakers = Breakers(failure_threshold=2, reset_timeout_s=1.0, clock=clock)
    a = breakers.get("a")
    assert breakers.get("a") is a
    a.failure()
    a.failure()
    assert breakers.get("a").state == "open"
    assert breakers.get("b").allow()  # one upstream's outage does not block another
    assert breakers.states() == {"a": "open", "b": "closed"}
    assert "a" in breakers and len(breakers) == 2
    breakers.discard("a")
    assert breakers.get("a").state == "closed"
    clock.advance(1.0)
    assert breakers.get("b").retry_after_s == 0.0


def test_breakers_validate_settings_up_front() -> None:
    with pytest.raises(ValueError):
        Breakers(failure_threshold=0)
