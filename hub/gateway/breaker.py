"""A circuit breaker per upstream: fail fast while it is down, and probe it back one call at a time.

Why: a dead upstream otherwise costs every caller a full connect/read timeout, and a crowd of callers
hammering it as it restarts can knock it down again (cascading failure, OWASP ASI08).

States:

- ``closed``: calls flow. Consecutive failures are counted; a success resets the count. Reaching
  ``failure_threshold`` opens the breaker.
- ``open``: ``allow()`` answers False (fail fast) until the reset timeout has elapsed; the next
  ``allow()`` then moves to ``half_open``.
- ``half_open``: exactly one probe call is admitted at a time; everyone else is refused while it is
  in flight. The probe's success closes the breaker (and restores the base timeout); its failure
  re-opens it with the timeout doubled, capped at ``max_reset_timeout_s`` (default 60 s), so a
  flapping upstream is probed less and less often.

Callers pair every admitted call with exactly one of ``success()``, ``failure()`` or ``release()``
(the last for a call that ended without saying anything about the upstream, e.g. it was cancelled).
A probe whose caller never reports is presumed lost after ``probe_timeout_s``, and another probe is
admitted, so a leaked probe cannot wedge the breaker half-open forever.

Results that arrive while the breaker is open (calls admitted before it tripped) are ignored: they
neither extend nor shorten the wait. In ``half_open`` any report is taken as the probe's outcome.

Pure and synchronous: no locks, no tasks, no I/O. That is safe under asyncio because each method
runs to completion without awaiting; it is not meant to be shared across threads. Time comes from
the injected ``clock`` (monotonic seconds) so tests need no sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

State = Literal["closed", "open", "half_open"]

CLOSED: State = "closed"
OPEN: State = "open"
HALF_OPEN: State = "half_open"


class CircuitBreaker:
    """Consecutive-failure breaker with a single in-flight half-open probe and capped backoff."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_timeout_s: float = 10.0,
        max_reset_timeout_s: float = 60.0,
        probe_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout_s <= 0 or probe_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if max_reset_timeout_s < reset_timeout_s:
            raise ValueError("max_reset_timeout_s must be at least reset_timeout_s")
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = float(reset_timeout_s)
        self.max_reset_timeout_s = float(max_reset_timeout_s)
        self.probe_timeout_s = float(probe_timeout_s)
        self._clock = clock
        self._state: State = CLOSED
        self._failures = 0
        self._timeout = self.reset_timeout_s  # the current open period; doubles on each failed probe
        self._opened_at = 0.0
        self._probe_started: float | None = None  # set while a half-open probe is in flight

    @property
    def state(self) -> State:
        """The state as last decided. An elapsed ``open`` becomes ``half_open`` on the next ``allow()``."""
        return self._state

    @property
    def failures(self) -> int:
        """Consecutive failures counted while closed."""
        return self._failures

    @property
    def retry_after_s(self) -> float:
        """Seconds until a call may be admitted again: 0 when one would be now.

        While a probe is in flight this is an upper bound (the probe may finish sooner).
        """
        now = self._clock()
        if self._state == OPEN:
            return max(0.0, self._opened_at + self._timeout - now)
        if self._state == HALF_OPEN and self._probe_started is not None:
            lease_left = self._probe_started + self.probe_timeout_s - now
            return max(0.0, min(self.reset_timeout_s, lease_left))
        return 0.0

    def allow(self) -> bool:
        """Whether this call may go to the upstream now. True obliges the caller to report back."""
        if self._state == CLOSED:
            return True
        now = self._clock()
        if self._state == OPEN:
            if now < self._opened_at + self._timeout:
                return False
            self._state = HALF_OPEN
            self._probe_started = None
        # half_open: one probe at a time; a probe nobody reported on is presumed lost after its lease
        if self._probe_started is not None and now < self._probe_started + self.probe_timeout_s:
            return False
        self._probe_started = now
        return True

    def success(self) -> None:
        """The upstream answered: close (from half-open) or reset the failure count (closed)."""
        if self._state == OPEN:
            return  # a straggler admitted before the trip; the probe decides, not it
        self._state = CLOSED
        self._failures = 0
        self._timeout = self.reset_timeout_s
        self._probe_started = None

    def failure(self) -> None:
        """The upstream failed (unreachable, timed out, protocol error): count it, maybe trip."""
        if self._state == OPEN:
            return  # already failing fast; don't push the next probe further away
        if self._state == HALF_OPEN:
            self._timeout = min(self._timeout * 2, self.max_reset_timeout_s)
            self._trip()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._timeout = self.reset_timeout_s
            self._trip()

    def release(self) -> None:
        """An admitted call ended without a verdict (cancelled): free the probe slot, change nothing else."""
        if self._state == HALF_OPEN:
            self._probe_started = None

    def _trip(self) -> None:
        self._state = OPEN
        self._opened_at = self._clock()
        self._probe_started = None
        self._failures = 0

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self._state!r}, failures={self._failures}, timeout={self._timeout}s)"


class Breakers:
    """One breaker per upstream name, created on first use with shared settings."""

    def __init__(self, **settings: Any) -> None:
        """``settings`` are CircuitBreaker's keyword arguments, shared by every upstream's breaker."""
        self._settings = settings
        self._breakers: dict[str, CircuitBreaker] = {}
        CircuitBreaker(**settings)  # validate the settings now, not on first use

    def get(self, name: str) -> CircuitBreaker:
        """The breaker for upstream ``name``, creating a closed one if there is none yet."""
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = self._breakers[name] = CircuitBreaker(**self._settings)
        return breaker

    def discard(self, name: str) -> None:
        """Forget an upstream's breaker (it was removed or re-registered; stale state must not carry over)."""
        self._breakers.pop(name, None)

    def states(self) -> dict[str, State]:
        """Upstream name → state, for health and admin views."""
        return {name: b.state for name, b in sorted(self._breakers.items())}

    def __contains__(self, name: object) -> bool:
        return name in self._breakers

    def __len__(self) -> int:
        return len(self._breakers)
