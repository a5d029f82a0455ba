"""Token-bucket rate limits, per principal and per tool: in memory, or in Redis shared by every replica.

A caller passes every bucket a request must pay into (say the principal's and the principal's-on-this-tool) to
`Limiter.take`, which debits all of them or none: a request refused by its tool limit must not also use up the
principal's overall allowance. Buckets are named by the caller; limits never interact across names, so one principal
exhausting its buckets leaves every other principal untouched.

`MemoryLimiter` is the single-process default. `RedisLimiter` keeps the buckets in Redis and updates them in one Lua
script (atomic on the server, timed by the server's clock), so N replicas enforce one limit, not N. When Redis cannot
be reached it raises `RateLimitUnavailable` rather than admitting: a limit that silently lapses whenever its store
hiccups is no limit (fail closed).

Rate syntax (`Rate.parse`): ``COUNT/UNIT`` with an optional `` burst N``, e.g. ``10/s``, ``600/m``, ``100/min``,
``3600/h``, ``50000/d``, ``600/m burst 50``. COUNT and N are positive integers; UNIT is one of s, sec, second,
m, min, minute, h, hr, hour, d, day (case-insensitive, plural allowed). The bucket refills at COUNT per UNIT and
holds N tokens at most; N defaults to COUNT, so ``600/m`` admits 600 at once, then 10 a second.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema
from pydantic_settings import NoDecode

__all__ = [
    "Decision",
    "Limiter",
    "MemoryLimiter",
    "Rate",
    "RateLimitUnavailable",
    "RateSetting",
    "RedisLimiter",
    "limiter_from_url",
]

_UNITS: dict[str, int] = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}  # fmt: skip
_CANONICAL_UNITS: tuple[tuple[str, int], ...] = (("s", 1), ("m", 60), ("h", 3600), ("d", 86400))
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*([a-z]+)\s*(?:\bburst\s+(\d+)\s*)?$", re.IGNORECASE)
_SYNTAX = "expected COUNT/UNIT with an optional 'burst N', e.g. '10/s', '600/m' or '600/m burst 50'"


@dataclass(frozen=True)
class Rate:
    """A token bucket's shape: refills at `per_s` tokens a second and holds `burst` tokens at most.

    Usable directly as a pydantic field type: it validates from a `Rate`, a string in the module's syntax, or a
    mapping ``{"per_s": ..., "burst": ...}``, and serializes back to the string form. In a pydantic-settings
    `BaseSettings` use `RateSetting` (or ``Rate | None``) so the environment value isn't first decoded as JSON.
    """

    per_s: float
    burst: int

    def __post_init__(self) -> None:
        if isinstance(self.per_s, bool) or not isinstance(self.per_s, int | float):
            raise ValueError(f"rate per_s must be a number, got {self.per_s!r}")
        if not math.isfinite(self.per_s) or self.per_s <= 0:
            raise ValueError(f"rate per_s must be a positive finite number, got {self.per_s!r}")
        if isinstance(self.burst, bool) or not isinstance(self.burst, int) or self.burst < 1:
            raise ValueError(f"rate burst must be a positive integer, got {self.burst!r}")

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``"600/m"`` → ``Rate(per_s=10.0, burst=600)``; ``"600/m burst 50"`` → ``Rate(per_s=10.0, burst=50)``."""
        if not isinstance(text, str):
            raise ValueError(f"rate must be a string, got {type(text).__name__}")
        m = _RATE_RE.match(text)
        if not m:
            raise ValueError(f"invalid rate {text!r}: {_SYNTAX}")
        count, unit, burst = int(m[1]), m[2].lower(), m[3]
        if unit not in _UNITS:
            raise ValueError(f"invalid rate {text!r}: unknown unit {m[2]!r} (use s, m, h or d)")
        if count < 1:
            raise ValueError(f"invalid rate {text!r}: the count must be at least 1")
        b = count if burst is None else int(burst)
        if b < 1:
            raise ValueError(f"invalid rate {text!r}: the burst must be at least 1")
        return cls(per_s=count / _UNITS[unit], burst=b)

    @classmethod
    def coerce(cls, value: Any) -> Rate:
        """Accept a Rate, a string (`parse`) or a mapping with per_s and burst; the pydantic validator."""
        if isinstance(value, Rate):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, Mapping):
            if set(value) != {"per_s", "burst"}:
                raise ValueError(f"a rate mapping needs exactly the keys per_s and burst, got {sorted(value)}")
            return cls(per_s=value["per_s"], burst=value["burst"])
        raise ValueError(f"invalid rate {value!r}: {_SYNTAX}")

    def __str__(self) -> str:
        """The parseable form: the unit whose count equals the burst if any, else the first with a whole count."""
        whole = [(u, round(self.per_s * secs)) for u, secs in _CANONICAL_UNITS if _is_whole(self.per_s * secs)]
        for u, n in whole:
            if n == self.burst:
                return f"{n}/{u}"
        if whole:
            u, n = whole[0]
            return f"{n}/{u} burst {self.burst}"
        return f"{self.per_s!r}/s burst {self.burst}"  # not parseable back; only from a hand-built Rate

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.coerce, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "description": "COUNT/UNIT [burst N]",
            "examples": ["10/s", "600/m", "600/m burst 50"],
        }


def _is_whole(x: float) -> bool:
    return abs(x - round(x)) < 1e-9 * max(1.0, abs(x)) and round(x) >= 1


# A Rate field for pydantic-settings: NoDecode keeps HUB_RATE_LIMIT=600/m from being parsed as JSON first
# (pydantic-settings treats dataclass-typed fields as complex values).
RateSetting = Annotated[Rate, NoDecode]


@dataclass(frozen=True)
class Decision:
    """The outcome of `Limiter.take`.

    When refused, `key` is the bucket that refused (the one needing the longest wait, if several did),
    `retry_after_s` that wait, and `remaining` its tokens. When allowed, `retry_after_s` is 0 and `key`/`remaining`
    describe the bucket with the fewest tokens left after the debit (what a RateLimit-Remaining header would show);
    `key` is None only when there was nothing to check.
    """

    allowed: bool
    retry_after_s: float
    remaining: float
    key: str | None

    @property
    def retry_after_header(self) -> str:
        """The HTTP Retry-After value: whole seconds, rounded up, at least 1 when refused."""
        return "0" if self.allowed else str(max(1, math.ceil(self.retry_after_s)))


class RateLimitUnavailable(Exception):
    """The shared limit store cannot be reached, so the request is refused (fail closed).

    The message is safe to show a client: it names no host, address or credential.
    """


class Limiter(Protocol):
    async def take(self, checks: list[tuple[str, Rate]], cost: float = 1.0) -> Decision:
        """Debit `cost` tokens from every bucket in `checks`, or from none if any lacks them."""
        ...

    async def close(self) -> None: ...


def _validate(checks: list[tuple[str, Rate]], cost: float) -> None:
    """Caller bugs, not rate decisions: a cost no bucket could ever hold would refuse forever."""
    if not (math.isfinite(cost) and cost > 0):
        raise ValueError(f"cost must be a positive finite number, got {cost!r}")
    seen: set[str] = set()
    for key, rate in checks:
        if key in seen:
            raise ValueError(f"bucket {key!r} is listed twice")
        seen.add(key)
        if cost > rate.burst:
            raise ValueError(f"cost {cost} exceeds the burst {rate.burst} of bucket {key!r}: it could never pass")


_NOTHING = Decision(allowed=True, retry_after_s=0.0, remaining=math.inf, key=None)


class MemoryLimiter:
    """Buckets in this process's memory: exact, fast, and per replica (N replicas admit N times the limit).

    Bounded: idle buckets that have refilled to full are dropped (they equal a missing bucket), a few per call
    from the least recently used end; past `max_keys` the least recently used bucket is dropped even if not full,
    which can only hand that one idle key a fresh burst. So a flood of distinct principals can't grow memory
    without bound. Safe under asyncio (take never awaits); not thread-safe.
    """

    _SWEEP = 8  # idle full buckets examined per take: amortised O(1) cleanup

    def __init__(self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._max_keys = max_keys
        self._clock = clock
        # key -> [tokens, ts (clock), full_at (clock time at which the bucket is full again)]
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    async def take(self, checks: list[tuple[str, Rate]], cost: float = 1.0) -> Decision:
        return self.take_now(checks, cost)

    def take_now(self, checks: list[tuple[str, Rate]], cost: float = 1.0) -> Decision:
        """`take` without the coroutine, for synchronous callers and tests."""
        _validate(checks, cost)
        if not checks:
            return _NOTHING
        now = self._clock()
        levels: list[float] = []
        refuse: Decision | None = None
        for key, rate in checks:
            b = self._buckets.get(key)
            tokens = float(rate.burst) if b is None else min(rate.burst, b[0] + max(0.0, now - b[1]) * rate.per_s)
            levels.append(tokens)
            if tokens < cost:
                wait = (cost - tokens) / rate.per_s
                if refuse is None or wait > refuse.retry_after_s:
                    refuse = Decision(allowed=False, retry_after_s=wait, remaining=tokens, key=key)
        if refuse is not None:
            self._sweep(now)
            return refuse
        least: Decision = _NOTHING
        for (key, rate), tokens in zip(checks, levels, strict=True):
            left = tokens - cost
            self._buckets[key] = [left, now, now + (rate.burst - left) / rate.per_s]
            self._buckets.move_to_end(key)
            if least.key is None or left < least.remaining:
                least = Decision(allowed=True, retry_after_s=0.0, remaining=left, key=key)
        self._sweep(now)
        return least

    def _sweep(self, now: float) -> None:
        buckets = self._buckets
        for _ in range(self._SWEEP):
            if not buckets:
                break
            key, b = next(iter(buckets.items()))
            if b[2] > now:
                break
            del buckets[key]
        while len(buckets) > self._max_keys:
            buckets.popitem(last=False)

    async def close(self) -> None:
        self._buckets.clear()


# KEYS: the buckets. ARGV[1]: cost; then per bucket i: ARGV[2i] = per_s, ARGV[2i+1] = burst.
# Returns {allowed (0/1), retry_after_s, remaining, index (0-based) of the refusing / least-remaining bucket}.
# Numbers go back as strings: Redis truncates Lua numbers to integers on the way out.
_LUA = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost = tonumber(ARGV[1])
local levels = {}
local worst, worst_wait = 0, -1
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local b = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens, ts = tonumber(b[1]), tonumber(b[2])
  if tokens == nil or ts == nil then
    tokens = burst
  else
    local dt = now - ts
    if dt < 0 then dt = 0 end
    tokens = math.min(burst, tokens + dt * rate)
  end
  levels[i] = tokens
  if tokens < cost then
    local wait = (cost - tokens) / rate
    if wait > worst_wait then worst, worst_wait = i, wait end
  end
end
if worst > 0 then
  return {0, string.format('%.17g', worst_wait), string.format('%.17g', levels[worst]), worst - 1}
end
local least, least_i = nil, 1
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local left = levels[i] - cost
  redis.call('HSET', KEYS[i], 'tokens', string.format('%.17g', left), 'ts', string.format('%.6f', now))
  redis.call('PEXPIRE', KEYS[i], math.ceil((burst - left) / rate * 1000) + 1000)
  if least == nil or left < least then least, least_i = left, i end
end
return {1, '0', string.format('%.17g', least), least_i - 1}
"""


class RedisLimiter:
    """Buckets in Redis, one limit for all replicas.

    Each bucket is a hash {tokens, ts} under `prefix` + key, updated only by one Lua script, so the check-and-debit
    of all buckets is atomic across replicas, and timed by Redis's own clock (`TIME`), so replicas with skewed
    clocks agree. A bucket expires once it would have refilled to full, so idle keys vanish. Keys of one call must
    live on one server (no Redis Cluster slot spreading).

    Any connection failure, timeout or Redis error raises `RateLimitUnavailable`; nothing is ever admitted
    without Redis's say. Timeouts are short and there is one immediate retry (which transparently replaces a
    pooled connection made stale by a Redis restart), so a dead Redis is reported in about `timeout_s`, never a
    hang; the client reconnects by itself once Redis is back, and re-loads the script if Redis lost it.
    """

    def __init__(self, url: str, *, prefix: str = "hub:rl:", timeout_s: float = 0.5) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), retries=1),
            decode_responses=True,
        )
        self._script = self._client.register_script(_LUA)

    async def take(self, checks: list[tuple[str, Rate]], cost: float = 1.0) -> Decision:
        import redis.exceptions

        _validate(checks, cost)
        if not checks:
            return _NOTHING
        keys = [self._prefix + k for k, _ in checks]
        args: list[str | int] = [repr(float(cost))]
        for _, rate in checks:
            args += [repr(float(rate.per_s)), rate.burst]
        try:
            # An overall deadline on top of the socket timeouts: connect + read, retried once, and no more.
            async with asyncio.timeout(self._timeout_s * 4):
                allowed, wait, remaining, index = await self._script(keys=keys, args=args)
        except (redis.exceptions.RedisError, OSError, TimeoutError) as e:
            raise RateLimitUnavailable(
                f"rate limiter unavailable: the shared limit store failed ({type(e).__name__})"
            ) from e
        return Decision(
            allowed=bool(int(allowed)),
            retry_after_s=max(0.0, float(wait)),
            remaining=float(remaining),
            key=checks[int(index)][0],
        )

    async def close(self) -> None:
        await self._client.aclose()


def limiter_from_url(redis_url: str | None) -> Limiter:
    """Redis when a URL is configured (every replica shares the limits), else this process's memory."""
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()
