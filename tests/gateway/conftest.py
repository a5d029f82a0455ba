"""Fixtures of the gateway's process tests (real hubs, Redis, PostgreSQL), shared from one module."""

from tests.gateway.processes import fresh_postgres, procs, shared_redis

__all__ = ["fresh_postgres", "procs", "shared_redis"]
