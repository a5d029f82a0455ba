"""Fixtures shared by the gateway tests: real processes (hubs, Redis, PostgreSQL) and the rate-limit tests' Redis."""

from tests.gateway.processes import fresh_postgres, procs, shared_redis
from tests.gateway.ratelimit_helpers import limiter, prefix, redis_limiter, redis_url

__all__ = ["fresh_postgres", "limiter", "prefix", "procs", "redis_limiter", "redis_url", "shared_redis"]
