"""Alembic environment.

The hub runs migrations in-process (``hub.catalog.store.migrate``), handing over an open connection in
``config.attributes["connection"]``. Without one (the alembic CLI, e.g. for ``revision``), the URL comes
from the ``sqlalchemy.url`` option or else from the hub's settings.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from hub.catalog.models import Base
from hub.gateway import models as _gateway_models  # noqa: F401  (registers the gateway tables)
from hub.identity import models as _identity_models  # noqa: F401  (registers the identity tables)

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from hub.config import Settings

    return Settings().sqlalchemy_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite can't ALTER most things in place; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url())
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    _run(connection)
else:
    asyncio.run(_run_async())
