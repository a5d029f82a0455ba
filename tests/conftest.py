"""Shared fixtures: a throwaway PostgreSQL database per test session, and a catalog Store on each backend."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.catalog.store import Store

# The embedding model must never reach for the network: any attempt fails the test instead.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

# The server holding the throwaway databases (trust auth); override with HUB_TEST_POSTGRES_DSN.
POSTGRES_DSN = os.environ.get("HUB_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql+asyncpg://`` URL of a database created for this session and dropped after it."""
    name = f"hub_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError) as e:
        if os.environ.get("CI"):  # CI has the server: a missing one is a failure, never a silent skip
            pytest.fail(f"no PostgreSQL server at {POSTGRES_DSN}: {e}")
        pytest.skip(f"no PostgreSQL server at {POSTGRES_DSN}: {e}")
    base = POSTGRES_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    yield f"postgresql+asyncpg://{base}/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'hub.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """An empty catalog on each backend (the PostgreSQL database is shared, so it's emptied first)."""
    s = await Store.open(store_url)
    async with s.engine.begin() as conn:
        await conn.execute(text("DELETE FROM tools"))
        await conn.execute(text("DELETE FROM upstreams"))
    yield s
    await s.close()
