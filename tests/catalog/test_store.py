"""The catalog store on SQLite and PostgreSQL (the ``store`` fixture runs each test on both)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from hub.catalog.entities import STORED, ToolPolicy, ToolRecord, ToolState, Transport, UpstreamSpec
from hub.catalog.store import MIGRATIONS_DIR, Conflict, NameCollision, NotFound, StaleDefinition, Store


def spec(name: str, **kw: Any) -> UpstreamSpec:
    return UpstreamSpec(name=name, transport=Transport.http, url=f"https://{name}.example.test/mcp", **kw)


def tool(up: UpstreamSpec, name: str, **kw: Any) -> ToolRecord:
    return ToolRecord(
        name=up.qualify(name),
        upstream=up.name,
        upstream_tool=name,
        description=kw.pop("description", f"{name} does things"),
        input_schema=kw.pop("input_schema", {"type": "object", "properties": {"x": {"type": "string"}}}),
        state=kw.pop("state", ToolState.approved),  # as an auto-approving upstream's import would be
        **kw,
    )


async def schema_of(store: Store) -> dict[str, Any]:
    def read(conn: Connection) -> dict[str, Any]:
        insp = inspect(conn)
        return {
            "tables": set(insp.get_table_names()),
            "indexes": {ix["name"] for ix in insp.get_indexes("tools")},
            "fks": insp.get_foreign_keys("tools"),
            "version": conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all(),
        }

    async with store.engine.connect() as conn:
        return await conn.run_sync(read)


# -- schema -------------------------------------------------------------------------------------------


async def test_migrations_create_schema_and_reopen_is_noop(store: Store, store_url: str) -> None:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    schema = await schema_of(store)
    assert {"upstreams", "tools", "alembic_version"} <= schema["tables"]
    assert "ix_tools_upstream" in schema["indexes"]
    [fk] = schema["fks"]
    assert fk["referred_table"] == "upstreams"
    assert fk["options"].get("ondelete") == "CASCADE"
    assert schema["version"] == [head]

    up = spec("alpha")
    await store.add_upstream(up)
    await store.sync_tools("alpha", [tool(up, "one")])

    again = await Store.open(store_url)  # migrations already at head: nothing to do, nothing lost
    try:
        assert (await schema_of(again))["version"] == [head]
        assert await again.get_upstream("alpha") == up
        assert await again.tool_names() == {"alpha.one"}
    finally:
        await again.close()


async def test_sqlite_connection_settings(sqlite_url: str, tmp_path: Path) -> None:
    assert not (tmp_path / "data").exists()
    store = await Store.open(sqlite_url)
    try:
        assert (tmp_path / "data" / "hub.db").is_file()  # parent directory created
        async with store.engine.connect() as conn:
            pragmas = {
                p: (await conn.exec_driver_sql(f"PRAGMA {p}")).scalar()
                for p in ("journal_mode", "busy_timeout", "synchronous", "foreign_keys")
            }
        assert pragmas == {"journal_mode": "wal", "busy_timeout": 30000, "synchronous": 1, "foreign_keys": 1}
    finally:
        await store.close()


# -- upstreams ----------------------------------------------------------------------------------------


async def test_upstream_crud(store: Store) -> None:
    b, a = spec("beta", headers={"X-Key": "secret"}), spec("alpha", prefix="")
    await store.add_upstream(b)
    await store.add_upstream(a)
    assert await store.get_upstream("beta") == b
    assert await store.get_upstream("missing") is None
    assert await store.list_upstreams() == [a, b]

    with pytest.raises(Conflict, match="beta"):
        await store.add_upstream(spec("beta"))
    assert await store.get_upstream("beta") == b  # the failed add changed nothing

    b2 = b.model_copy(update={"enabled": False, "timeout_s": 5.0})
    await store.update_upstream(b2)
    assert await store.get_upstream("beta") == b2
    with pytest.raises(NotFound):
        await store.update_upstream(spec("gamma"))

    await store.sync_tools("beta", [tool(b, "t1"), tool(b, "t2")])
    await store.sync_tools("alpha", [tool(a, "t3")])
    assert await store.delete_upstream("beta") is True
    assert await store.delete_upstream("beta") is False
    assert await store.list_upstreams() == [a]
    assert await store.tool_names() == {"t3"}  # beta's tools went with it


async def test_a_stored_upstream_loads_even_if_a_later_rule_would_refuse_it(store: Store) -> None:
    """Header rules apply to what callers send; a row accepted by an earlier version still loads (the hub
    must start), while the same headers sent today are refused."""
    with pytest.raises(ValueError, match="X-Key"):
        spec("old", headers={"X-Key": "caf\u00e9"})
    old = UpstreamSpec.model_validate({**spec("old").model_dump(), "headers": {"X-Key": "caf\u00e9"}}, context=STORED)
    await store.add_upstream(old)
    assert await store.get_upstream("old") == old
    assert await store.list_upstreams() == [old]


# -- tools --------------------------------------------------------------------------------------------


async def test_sync_tools_diff(store: Store) -> None:
    up = spec("srv")
    await store.add_upstream(up)

    first = await store.sync_tools("srv", [tool(up, "a"), tool(up, "b"), tool(up, "c")])
    assert (first.added, first.changed, first.removed, first.unchanged) == (["srv.a", "srv.b", "srv.c"], [], [], 0)
    assert first.any
    before = await store.get_tool("srv.b")
    assert before is not None and before.created_at is not None and before.updated_at is not None
    assert before.created_at.utcoffset() == timedelta(0)  # timezone-aware UTC on both backends
    await store.set_tool_state("srv.b", ToolState.quarantined)

    second = await store.sync_tools(
        "srv",
        [
            tool(up, "a"),
            tool(up, "b", description="b now does other things"),
            tool(up, "d", state=ToolState.pending),
        ],
    )
    assert (second.added, second.changed, second.removed, second.unchanged) == (["srv.d"], ["srv.b"], ["srv.c"], 1)

    after = await store.get_tool("srv.b")
    assert after is not None and after.updated_at is not None
    assert after.description == "b now does other things"
    assert after.definition_hash == tool(up, "b", description="b now does other things").definition_hash
    assert after.created_at == before.created_at
    assert after.updated_at > before.updated_at
    assert after.state == ToolState.quarantined  # still quarantined: the pin is the first definition
    assert (await store.get_tool("srv.d")).state == ToolState.pending  # type: ignore[union-attr]
    assert await store.get_tool("srv.c") is None
    assert await store.tool_names() == {"srv.a", "srv.b", "srv.d"}
    assert await store.count_tools() == 3

    # Only _meta differs: not a definition change, but the stored _meta follows the upstream.
    third = await store.sync_tools(
        "srv",
        [
            tool(up, "a", meta={"ui": 1}),
            tool(up, "b", description="b now does other things"),
            tool(up, "d"),
        ],
    )
    assert not third.any and third.unchanged == 3
    assert (await store.get_tool("srv.a")).meta == {"ui": 1}  # type: ignore[union-attr]

    empty = await store.sync_tools("srv", [])
    assert empty.removed == ["srv.a", "srv.b", "srv.d"]
    assert await store.count_tools() == 0


async def test_tool_round_trip(store: Store) -> None:
    up = spec("rt")
    await store.add_upstream(up)
    full = tool(
        up,
        "full",
        title="Full",
        output_schema={"type": "object", "properties": {"y": {"type": "integer"}}},
        annotations={"readOnlyHint": True},
        meta={"vendor": {"k": [1, 2]}},
    )
    bare = tool(up, "bare")
    await store.sync_tools("rt", [full, bare])
    got = await store.get_tool("rt.full")
    assert got is not None
    expected = {**full.model_dump(exclude={"created_at", "updated_at"}), "approved_hash": full.definition_hash}
    assert got.model_dump(exclude={"created_at", "updated_at"}) == expected
    got_bare = await store.get_tool("rt.bare")
    assert got_bare is not None
    assert (got_bare.output_schema, got_bare.annotations, got_bare.meta) == (None, None, None)


async def test_sync_tools_rejects_bad_input(store: Store) -> None:
    up, other = spec("u1"), spec("u2")
    await store.add_upstream(up)
    with pytest.raises(NotFound):
        await store.sync_tools("u2", [tool(other, "x")])
    with pytest.raises(ValueError, match="duplicate"):
        await store.sync_tools("u1", [tool(up, "x"), tool(up, "x")])
    with pytest.raises(ValueError, match="other upstreams"):
        await store.sync_tools("u1", [tool(other, "x")])
    assert await store.count_tools() == 0


async def test_name_collision_changes_nothing(store: Store) -> None:
    one, two = spec("one", prefix="p"), spec("two", prefix="p")
    await store.add_upstream(one)
    await store.add_upstream(two)
    await store.sync_tools("one", [tool(one, "x"), tool(one, "y")])
    await store.sync_tools("two", [tool(two, "z")])
    before = await store.list_tools()

    with pytest.raises(NameCollision) as err:
        await store.sync_tools("two", [tool(two, "new"), tool(two, "y", description="changed")])
    assert isinstance(err.value, Conflict)
    message = str(err.value)
    assert "p.y" in message and "'one'" in message and "'two'" in message

    assert await store.list_tools() == before  # p.z kept, p.new not added


async def test_keyset_pagination_and_filters(store: Store) -> None:
    # Mixed case and punctuation: the order must be code-point order on every backend and locale.
    a, b = spec("a", prefix=""), spec("b", prefix="")
    raw = ["Zeta", "alpha", "Alpha", "a-b", "a.b", "a_b", "a0", "A9", "_x", "-y", "beta", "b.c", "z", "Z", "m"]
    await store.add_upstream(a)
    await store.add_upstream(b)
    await store.sync_tools("a", [tool(a, n) for n in raw[::2]])
    await store.sync_tools("b", [tool(b, n, state=ToolState.pending) for n in raw[1::2]])

    async def walk(page: int, **filters: Any) -> list[str]:
        names: list[str] = []
        after: str | None = None
        while batch := await store.list_tools(after=after, limit=page, **filters):
            assert len(batch) <= page
            names += [t.name for t in batch]
            after = batch[-1].name
        return names

    assert await walk(4) == sorted(raw)
    assert await walk(1) == await walk(100) == sorted(raw)
    assert await walk(3, upstream="b") == sorted(raw[1::2])
    assert await walk(2, states={ToolState.pending}) == sorted(raw[1::2])
    assert await walk(2, states={ToolState.approved, ToolState.pending}) == sorted(raw)
    assert await store.list_tools(states=set()) == []
    assert [t.name for t in await store.list_tools(after="a", limit=2)] == ["a-b", "a.b"]


async def test_set_tool_state(store: Store) -> None:
    up = spec("s")
    await store.add_upstream(up)
    await store.sync_tools("s", [tool(up, "t")])
    updated = await store.set_tool_state("s.t", ToolState.disabled)
    assert updated is not None and updated.state == ToolState.disabled
    assert (await store.get_tool("s.t")).state == ToolState.disabled  # type: ignore[union-attr]
    assert await store.set_tool_state("s.missing", ToolState.approved) is None


# -- concurrency and multiple stores ------------------------------------------------------------------


async def _writer(store: Store, i: int) -> None:
    up = spec(f"w{i:02d}")
    await store.add_upstream(up)
    result = await store.sync_tools(up.name, [tool(up, f"t{j}") for j in range(3)])
    assert len(result.added) == 3


async def test_fifty_concurrent_writers(store: Store) -> None:
    # On SQLite this fails with "database is locked" unless writers take the lock with BEGIN IMMEDIATE.
    await asyncio.gather(*(_writer(store, i) for i in range(50)))
    assert len(await store.list_upstreams()) == 50
    assert await store.count_tools() == 150
    assert await store.tool_names() == {f"w{i:02d}.t{j}" for i in range(50) for j in range(3)}


async def test_second_sqlite_store_shares_the_file(sqlite_url: str) -> None:
    first, second = await Store.open(sqlite_url), await Store.open(sqlite_url)
    try:
        up = spec("shared")
        await first.add_upstream(up)
        await first.sync_tools("shared", [tool(up, "t")])
        assert await second.get_upstream("shared") == up
        assert await second.tool_names() == {"shared.t"}

        await second.delete_upstream("shared")
        assert await first.get_upstream("shared") is None

        # Two engines (two pools) writing at once still queue on the file lock instead of failing.
        await asyncio.gather(*(_writer(first if i % 2 else second, i) for i in range(50)))
        assert await first.count_tools() == await second.count_tools() == 150
    finally:
        await first.close()
        await second.close()


async def test_changed_definitions_are_quarantined_against_the_pin(store: Store) -> None:
    up = UpstreamSpec(name="pin", transport="http", url="http://127.0.0.1:1/mcp")
    await store.add_upstream(up)
    await store.sync_tools("pin", [tool(up, "ok"), tool(up, "new", state=ToolState.pending),
                                   tool(up, "off"), tool(up, "flagged", flags=["important-block:description"])])
    ok = await store.get_tool("pin.ok")
    assert ok is not None and ok.state == ToolState.approved and ok.approved_hash == ok.definition_hash
    flagged = await store.get_tool("pin.flagged")  # the scan overrides the upstream's auto-approval
    assert flagged is not None and flagged.state == ToolState.pending and flagged.approved_hash is None
    await store.set_tool_state("pin.off", ToolState.disabled, "killed")

    changed = [tool(up, n, description="changed") for n in ("ok", "new", "off", "flagged")]
    result = await store.sync_tools("pin", changed)
    assert result.quarantined == ["pin.ok"] and sorted(result.changed) == ["pin.flagged", "pin.new", "pin.off",
                                                                         "pin.ok"]
    ok_now = await store.get_tool("pin.ok")
    assert ok_now is not None and ok_now.state == ToolState.quarantined
    assert ok_now.approved_hash == ok.definition_hash != ok_now.definition_hash
    assert "definition changed" in (ok_now.state_reason or "")
    assert (await store.get_tool("pin.off")).state == ToolState.disabled  # type: ignore[union-attr]
    # new was pending and the incoming record is auto-approved and clean: the upstream's policy applies.
    assert (await store.get_tool("pin.new")).state == ToolState.approved  # type: ignore[union-attr]
    assert (await store.get_tool("pin.flagged")).state == ToolState.approved  # type: ignore[union-attr]

    # Approval names the reviewed hash; a stale one is refused.
    with pytest.raises(StaleDefinition):
        await store.approve_tool("pin.ok", ok.definition_hash)
    approved = await store.approve_tool("pin.ok", ok_now.definition_hash)
    assert approved is not None and approved.state == ToolState.approved
    assert approved.approved_hash == ok_now.definition_hash
    assert await store.approve_tool("pin.missing", "x") is None

    # Back to the pinned definition after a change: served again without an admin.
    await store.sync_tools("pin", [tool(up, "ok", description="sneaky"), *changed[1:]])
    assert (await store.get_tool("pin.ok")).state == ToolState.quarantined  # type: ignore[union-attr]
    await store.sync_tools("pin", changed)
    assert (await store.get_tool("pin.ok")).state == ToolState.approved  # type: ignore[union-attr]

    before = await store.catalog_mark()
    await store.set_tool_policy("pin.ok", ToolPolicy(risk="high", rate_limit="5/m"))
    assert await store.catalog_mark() != before
    assert (await store.get_tool("pin.ok")).policy.risk == "high"  # type: ignore[union-attr]
