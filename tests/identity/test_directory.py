"""The identity directory (each replica's view of principals) and changes made on this replica."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.catalog.store import Store
from hub.identity.directory import Directory
from hub.identity.entities import PrincipalSpec
from hub.identity.store import IdentityStore


async def test_a_refresh_reading_during_a_suspension_here_does_not_undo_it(sqlite_url: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A suspension made on this replica takes effect at once. A periodic refresh that read the principal just
    before it landed must not put the active record back (for a refresh interval it would act again)."""
    store = await Store.open(sqlite_url)
    try:
        identities = IdentityStore(store)
        directory = Directory(identities, "dev", interval_s=3600)
        await identities.create_principal(PrincipalSpec(
            id="worker", name="worker", owner="ops", purpose="tests", environment="dev", kind="service"), "admin")
        await directory.refresh()
        assert directory.principals["worker"].status == "active"

        reading, release = asyncio.Event(), asyncio.Event()
        original = identities.changed_since

        async def held(*args: Any) -> Any:  # the periodic refresh reads, then its answer is slow to arrive
            rows = await original(*args)
            reading.set()
            await release.wait()
            return rows

        monkeypatch.setattr(identities, "changed_since", held)
        periodic = asyncio.create_task(directory.refresh())
        await reading.wait()
        directory.put(await identities.set_status("worker", "suspended"))  # what Identity.set_status does
        release.set()
        await periodic
        assert directory.principals["worker"].status == "suspended"

        monkeypatch.setattr(identities, "changed_since", original)
        await directory.refresh()  # and the next refresh reads the store's truth
        assert directory.principals["worker"].status == "suspended"
    finally:
        await store.close()
