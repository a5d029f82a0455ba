"""Fixtures the surface tests share with the gateway's: a PostgreSQL database of a test's own."""

from tests.gateway.processes import fresh_postgres

__all__ = ["fresh_postgres"]
