"""Sign-in throttling: repeated wrong passwords for one account, or from one address, are refused for a
while before the password is even checked (password guessing through the consent page).

In memory, per replica: an attacker spreading guesses over N replicas gets N times the budget, still a
few guesses a minute.
"""

from __future__ import annotations

import time
from collections import deque


class SignInThrottle:
    def __init__(self, max_failures: int = 5, window_s: float = 300.0, max_keys: int = 10_000) -> None:
        self.max_failures, self.window_s, self.max_keys = max_failures, window_s, max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and now - failures[0] > self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        return any(len(self._recent(k, now)) >= self.max_failures for k in keys)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        if len(self._failures) >= self.max_keys:  # bounded memory: forget the stalest entry
            self._failures.pop(next(iter(self._failures)))
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)
