"""The request path's view of the catalog follows the store incrementally (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from hub.adapters.mcp import Limits
from sqlalchemy import text, update

from hub.catalog.agents import AgentRecord, AgentStore
from hub.catalog.entities import ToolState
from hub.catalog.models import ToolRow, utcnow
from hub.catalog.registry import AgentRegistry, RegistrySettings
from hub.catalog.store import Store
from hub.catalog.sync import Federation
from hub.events import EventBus
from tests.catalog.test_store import spec, tool


@pytest.fixture
async def catalog(store: Store) -> Store:
    async with store.engine.begin() as conn:  # the PostgreSQL database is shared by the whole session
        await conn.execute(text("DELETE FROM tools"))
        await conn.execute(text("DELETE FROM upstreams"))
    return store


class Counted:
    """Counts the full reads of the catalog (list_tools pages) a federation makes."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full_reads = 0
        original = store.list_tools

        async def list_tools(**kw: Any) -> Any:
            self.full_reads += 1
            return await original(**kw)

        monkeypatch.setattr(store, "list_tools", list_tools)


async def restamp(store: Store, name: str, age: timedelta, **values: str) -> None:
    """Change a row behind the federation's back, stamped `age` in the past (a lagging replica's clock)."""
    async with store.engine.begin() as conn:
        await conn.execute(update(ToolRow).where(ToolRow.name == name).values(**values, updated_at=utcnow() - age))


async def test_reloads_read_only_what_changed_and_still_see_everything(catalog: Store,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    store = catalog
    up, other = spec("up"), spec("other")
    await store.add_upstream(up)
    await store.add_upstream(other)
    await store.sync_tools("up", [tool(up, "a"), tool(up, "b"), tool(up, "c")])
    await store.sync_tools("other", [tool(other, "x")])
    federation = Federation(store, EventBus(), Limits())
    reads = Counted(store, monkeypatch)
    await federation.refresh()
    assert set(federation.tools) == {"up.a", "up.b", "up.c", "other.x"} and reads.full_reads > 0

    reads.full_reads = 0
    await store.sync_tools("up", [tool(up, "a", description="a does other things now"), tool(up, "d")])  # b, c go
    await store.set_tool_state("other.x", ToolState.disabled)
    await federation.refresh()
    assert reads.full_reads == 0  # incremental
    assert set(federation.tools) == set(federation.tool_defs) == {"up.a", "up.d", "other.x"}
    assert federation.tool_defs["up.a"].description == "a does other things now"
    assert federation.tools["other.x"].state == ToolState.disabled

    # A change committed late, or stamped by a replica whose clock lags, within the window: still seen.
    await restamp(store, "up.d", timedelta(seconds=20), description="d, as another replica wrote it")
    await federation.refresh()
    assert reads.full_reads == 0 and federation.tool_defs["up.d"].description == "d, as another replica wrote it"

    await store.delete_upstream("other")  # its tools go with it
    await federation.refresh()
    assert set(federation.tools) == set(federation.tool_defs) == {"up.a", "up.d"} and reads.full_reads == 0

    # A tool stamped far in the past is outside the window: the counts disagree, so everything is re-read.
    await store.sync_tools("up", [tool(up, "a", description="a does other things now"), tool(up, "d"),
                                  tool(up, "e")])
    await restamp(store, "up.e", timedelta(hours=2))
    await store.set_tool_state("up.a", ToolState.disabled)
    await federation.refresh()
    assert reads.full_reads > 0 and set(federation.tools) == {"up.a", "up.d", "up.e"}
    assert federation.tools["up.a"].state == ToolState.disabled


async def test_a_full_reload_keeps_unchanged_tools_as_they_were(catalog: Store,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """What is derived per tool (its MCP definition, its search texts) is rebuilt only for tools that changed."""
    from hub.catalog import sync

    store = catalog
    up = spec("up")
    await store.add_upstream(up)
    await store.sync_tools("up", [tool(up, "a"), tool(up, "b")])
    federation = Federation(store, EventBus(), Limits())
    await federation.refresh()
    records, defs = dict(federation.tools), dict(federation.tool_defs)

    monkeypatch.setattr(sync, "FULL_RELOAD_S", 0.0)  # every reload re-reads the whole catalog
    reads = Counted(store, monkeypatch)
    await store.sync_tools("up", [tool(up, "a"), tool(up, "b", description="b does other things now")])
    await federation.refresh()
    assert reads.full_reads > 0
    assert federation.tools["up.a"] is records["up.a"] and federation.tool_defs["up.a"] is defs["up.a"]
    assert federation.tools["up.b"] is not records["up.b"]
    assert federation.tool_defs["up.b"].description == "b does other things now"


async def test_an_incremental_reload_reads_in_full_only_rows_with_new_stamps(catalog: Store,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store = catalog
    up = spec("up")
    await store.add_upstream(up)
    await store.sync_tools("up", [tool(up, "a"), tool(up, "b"), tool(up, "c")])
    federation = Federation(store, EventBus(), Limits())
    await federation.refresh()
    read: list[str] = []
    original = store.tools_named

    async def tools_named(names: list[str]) -> Any:
        read.extend(names)
        return await original(names)

    monkeypatch.setattr(store, "tools_named", tools_named)
    await store.set_tool_state("up.b", ToolState.disabled)  # all three rows are inside the change window
    await federation.refresh()
    assert read == ["up.b"] and federation.tools["up.b"].state == ToolState.disabled
    assert federation.tools["up.a"].state == federation.tools["up.c"].state == ToolState.approved


@pytest.mark.parametrize("step", ["list_upstreams", "list_tools"])
async def test_a_removal_during_a_reload_never_leaves_tools_of_a_released_upstream(
        catalog: Store, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    """Another replica removes an upstream while this one reloads: whichever read it lands before, the tools
    this replica lists never outlive its view of the upstream (it lets go of the connection on that view)."""
    store = catalog
    up, other = spec("up"), spec("other")
    for s in (up, other):
        await store.add_upstream(s)
    await store.sync_tools("up", [tool(up, "a")])
    await store.sync_tools("other", [tool(other, "x")])
    federation = Federation(store, EventBus(), Limits())
    await federation.refresh()
    monkeypatch.setattr("hub.catalog.sync.FULL_RELOAD_S", 0.0)  # the full read, so `list_tools` is on the path
    original = getattr(store, step)

    async def removed_first(**kw: Any) -> Any:
        monkeypatch.setattr(store, step, original)
        await store.delete_upstream("other")  # committed by "another replica" just before this read
        return await original(**kw)

    monkeypatch.setattr(store, step, removed_first)
    specs = await federation._reload_index()
    assert ("other" in specs) == (step == "list_tools")  # the removal landed before / after the upstreams read
    assert "other.x" not in federation.tools
    await federation.refresh()  # the next watch settles it either way
    assert set(federation.tools) == {"up.a"}


class HeldReads:
    """Delivers the next read of `what` only when released (a slow database under a watch tick's reload)."""

    def __init__(self, owner: Any, what: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reading, self.release = asyncio.Event(), asyncio.Event()
        original = getattr(owner, what)

        async def held(*args: Any, **kw: Any) -> Any:
            result = await original(*args, **kw)
            if not self.reading.is_set():
                self.reading.set()
                await self.release.wait()
            return result

        monkeypatch.setattr(owner, what, held)


async def test_a_change_is_served_once_its_own_reload_returns_even_with_a_watch_reload_reading(
        catalog: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change made through this replica reloads the view before it answers. A watch tick's reload that saw the
    change's mark first, and is still reading, must not let that reload return early with the old view."""
    async with catalog.engine.begin() as conn:
        await conn.execute(text("DELETE FROM agents"))
    agents = AgentStore(catalog)
    registry = AgentRegistry(agents, RegistrySettings(watch_s=3600))
    await registry.reload()
    await agents.add(AgentRecord(id="echo", card={"name": "Echo"}, card_hash="sha256:0", owner="o", purpose="p",
                                 environment="dev", registered_by="p"))
    held = HeldReads(agents, "all", monkeypatch)
    watch = asyncio.create_task(registry.reload())  # the watch tick: sees the new mark, then reads slowly
    await held.reading.wait()
    own = asyncio.create_task(registry.reload())  # the registration's own reload
    await asyncio.sleep(0.05)
    held.release.set()
    await own
    assert "echo" in registry.agents
    await watch


async def test_a_reload_finishing_late_never_puts_back_what_a_newer_one_removed(
        catalog: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    up = spec("up")
    await catalog.add_upstream(up)
    await catalog.sync_tools("up", [tool(up, "a")])
    federation = Federation(catalog, EventBus(), Limits())
    await federation.refresh()
    assert set(federation.tools) == {"up.a"}
    monkeypatch.setattr("hub.catalog.sync.FULL_RELOAD_S", 0.0)  # the full read, so `list_tools` is on the path
    held = HeldReads(catalog, "list_tools", monkeypatch)
    older = asyncio.create_task(federation.refresh())  # reads the tools before the removal, slowly
    await held.reading.wait()
    await catalog.delete_upstream("up")
    newer = asyncio.create_task(federation.refresh())
    await asyncio.sleep(0.05)
    held.release.set()
    await asyncio.gather(older, newer)
    assert federation.tools == {}
