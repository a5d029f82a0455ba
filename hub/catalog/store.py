"""The catalog's storage: upstreams and their tools in SQLite (default) or PostgreSQL.

Every method runs in its own short transaction. Under SQLite, write transactions start with
``BEGIN IMMEDIATE`` so concurrent writers (tasks in this process or other processes on the same file)
queue on SQLite's busy timeout instead of failing with "database is locked" when a deferred
transaction tries to upgrade from reading to writing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, delete, event, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from hub.catalog.entities import STORED, SyncResult, ToolPolicy, ToolRecord, ToolState, UpstreamSpec
from hub.catalog.models import ToolRow, UpstreamRow, utcnow

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_SQLITE_PRAGMAS = (
    "PRAGMA busy_timeout = 30000",  # first, so the pragmas below also wait rather than fail
    "PRAGMA journal_mode = WAL",  # readers don't block the writer, nor it them
    "PRAGMA synchronous = NORMAL",  # durable enough under WAL, far fewer fsyncs
    "PRAGMA foreign_keys = ON",  # tools go with their upstream (ON DELETE CASCADE)
)
_WRITE = "hub_write"  # execution option marking the engine whose transactions write
_PG_MIGRATION_LOCK = 0x6875_6263_6174  # any constant: one migrator at a time per PostgreSQL database


class StoreError(Exception):
    """A catalog operation that can't be done as asked."""


class Conflict(StoreError):
    """The change clashes with what the catalog already holds."""


class NameCollision(Conflict):
    """A tool name already belongs to another upstream."""


class NotFound(StoreError):
    """The upstream named doesn't exist."""


class StaleDefinition(Conflict):
    """An approval named a definition hash that is no longer the tool's definition."""


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Hubs starting together would otherwise race to create the same tables.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
    config = Config()
    # ConfigParser interpolates "%"; the package path must come through verbatim.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision, in one transaction (a no-op when it's current)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


def _sqlite_engine(url: URL) -> AsyncEngine:
    database = url.database or ""
    if database and database != ":memory:" and not url.query.get("uri"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the driver (it only ever emits a deferred one); _on_begin emits ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front (waiting up to busy_timeout for it); reads stay deferred.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


def _engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_async_engine(parsed, pool_pre_ping=True)


def _spec_json(spec: UpstreamSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json")


def _record(row: ToolRow) -> ToolRecord:
    return ToolRecord(
        name=row.name,
        upstream=row.upstream,
        upstream_tool=row.upstream_tool,
        title=row.title,
        description=row.description,
        input_schema=row.input_schema,
        output_schema=row.output_schema,
        annotations=row.annotations,
        meta=row.meta,
        definition_hash=row.definition_hash,
        state=ToolState(row.state),
        approved_hash=row.approved_hash,
        flags=list(row.flags or []),
        policy=ToolPolicy.model_validate(row.policy or {}),
        state_reason=row.state_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _set_definition(row: ToolRow, tool: ToolRecord) -> None:
    row.upstream_tool = tool.upstream_tool
    row.title = tool.title
    row.description = tool.description
    row.input_schema = tool.input_schema
    row.output_schema = tool.output_schema
    row.annotations = tool.annotations
    row.meta = tool.meta
    row.definition_hash = tool.definition_hash
    row.flags = list(tool.flags) or None


class Store:
    """The catalog's persistence. Create with ``await Store.open(url)``; ``await close()`` when done."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Same pool; the option tells the SQLite begin hook to take the write lock up front.
        self._write_engine = engine.execution_options(**{_WRITE: True})
        self._read = async_sessionmaker(engine, expire_on_commit=False)
        self._write = async_sessionmaker(self._write_engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect to ``url`` (``sqlite+aiosqlite:///...`` or ``postgresql+asyncpg://...``) and migrate."""
        engine = _engine(url)
        store = cls(engine)
        try:
            await migrate(store._write_engine)
        except BaseException:
            await engine.dispose()
            raise
        return store

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    def reading(self) -> AsyncSession:
        """A session for reads (other stores on the same database share the pool)."""
        return self._read()

    def writing(self) -> AsyncSession:
        """A session whose transactions take the write lock up front (BEGIN IMMEDIATE on SQLite)."""
        return self._write()

    async def close(self) -> None:
        await self._engine.dispose()

    # -- upstreams --------------------------------------------------------------------------------

    async def add_upstream(self, spec: UpstreamSpec) -> None:
        now = utcnow()
        try:
            async with self._write.begin() as s:
                s.add(UpstreamRow(name=spec.name, spec=_spec_json(spec), created_at=now, updated_at=now))
        except IntegrityError as e:  # insert-and-catch: no check-then-insert race on PostgreSQL
            raise Conflict(f"upstream {spec.name!r} already exists") from e

    async def get_upstream(self, name: str) -> UpstreamSpec | None:
        async with self._read() as s:
            row = await s.get(UpstreamRow, name)
            return None if row is None else UpstreamSpec.model_validate(row.spec, context=STORED)

    async def list_upstreams(self) -> list[UpstreamSpec]:
        async with self._read() as s:
            rows = await s.scalars(select(UpstreamRow).order_by(UpstreamRow.name))
            return [UpstreamSpec.model_validate(row.spec, context=STORED) for row in rows]

    async def update_upstream(self, spec: UpstreamSpec) -> None:
        """Replace the stored spec of ``spec.name``; raises NotFound if there is none."""
        async with self._write.begin() as s:
            row = await s.get(UpstreamRow, spec.name)
            if row is None:
                raise NotFound(f"no upstream named {spec.name!r}")
            row.spec = _spec_json(spec)
            row.updated_at = utcnow()

    async def delete_upstream(self, name: str) -> bool:
        """Remove the upstream and (by cascade) its tools; False if there was none."""
        async with self._write.begin() as s:
            result = await s.execute(delete(UpstreamRow).where(UpstreamRow.name == name))
            return bool(getattr(result, "rowcount", 0))

    # -- tools ------------------------------------------------------------------------------------

    async def sync_tools(self, upstream: str, tools: list[ToolRecord]) -> SyncResult:
        """Make ``tools`` the upstream's whole tool set, atomically.

        New names are inserted (with the record's state), rows whose definition hash changed are updated
        (created_at and state kept), names no longer listed are deleted. Raises NameCollision, changing
        nothing, if a name belongs to another upstream; NotFound if the upstream doesn't exist.
        """
        names = [t.name for t in tools]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate tool names in the sync of {upstream!r}")
        if strays := sorted({t.upstream for t in tools} - {upstream}):
            raise ValueError(f"sync of {upstream!r} given tools of other upstreams: {strays}")
        try:
            return await self._sync(upstream, tools)
        except IntegrityError:
            # PostgreSQL only (SQLite serialises writers): a concurrent transaction claimed one of these
            # names or removed the upstream between our checks and commit. A second pass sees that and
            # reports it as NameCollision / NotFound, or simply succeeds.
            try:
                return await self._sync(upstream, tools)
            except IntegrityError as e:
                raise Conflict(f"sync of {upstream!r} conflicted with concurrent changes") from e

    async def _sync(self, upstream: str, tools: list[ToolRecord]) -> SyncResult:
        incoming = {t.name: t for t in tools}
        async with self._write.begin() as s:
            # FOR UPDATE (PostgreSQL) serialises syncs of one upstream and holds off its deletion.
            locked = select(UpstreamRow.name).where(UpstreamRow.name == upstream).with_for_update()
            if await s.scalar(locked) is None:
                raise NotFound(f"no upstream named {upstream!r}")
            if incoming:
                clash = (
                    await s.execute(
                        select(ToolRow.name, ToolRow.upstream)
                        .where(ToolRow.name.in_(incoming), ToolRow.upstream != upstream)
                        .order_by(ToolRow.name)
                        .limit(1)
                    )
                ).first()
                if clash is not None:
                    raise NameCollision(
                        f"tool {clash.name!r} from upstream {upstream!r} is already provided by upstream "
                        f"{clash.upstream!r}"
                    )
            existing = {row.name: row for row in await s.scalars(select(ToolRow).where(ToolRow.upstream == upstream))}

            now = utcnow()
            result = SyncResult()
            for name in sorted(incoming):
                tool, row = incoming[name], existing.pop(name, None)
                if row is None:
                    s.add(_new_row(tool, now))
                    result.added.append(name)
                elif row.definition_hash != tool.definition_hash:
                    if _redefine(row, tool):
                        result.quarantined.append(name)
                    row.updated_at = now
                    result.changed.append(name)
                else:
                    # _meta isn't part of the definition: refresh it without calling the tool changed.
                    if row.meta != tool.meta:
                        row.meta = tool.meta
                    result.unchanged += 1
            if existing:
                result.removed = sorted(existing)
                await s.execute(
                    delete(ToolRow).where(ToolRow.name.in_(result.removed)).execution_options(synchronize_session=False)
                )
            return result

    async def list_tools(
        self,
        *,
        after: str | None = None,
        limit: int = 100,
        upstream: str | None = None,
        states: set[ToolState] | None = None,
    ) -> list[ToolRecord]:
        """One page of tools in ascending name order; pass the last name seen as ``after`` for the next."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if states is not None and not states:
            return []
        stmt = select(ToolRow).order_by(ToolRow.name).limit(limit)
        if after is not None:
            stmt = stmt.where(ToolRow.name > after)
        if upstream is not None:
            stmt = stmt.where(ToolRow.upstream == upstream)
        if states is not None:
            stmt = stmt.where(ToolRow.state.in_(sorted(ToolState(st).value for st in states)))
        async with self._read() as s:
            return [_record(row) for row in await s.scalars(stmt)]

    async def tool_stamps_since(self, since: datetime) -> dict[str, datetime]:
        """name -> updated_at of every tool added or changed at or after `since`, for an incremental reload (two
        columns: the reader fetches in full only the rows it does not hold at that stamp)."""
        async with self._read() as s:
            rows = await s.execute(select(ToolRow.name, ToolRow.updated_at).where(ToolRow.updated_at >= since))
            return {name: at for name, at in rows}

    async def tools_named(self, names: list[str]) -> list[ToolRecord]:
        """These tools in full (those that exist), read in chunks that stay within any database's parameter cap."""
        out: list[ToolRecord] = []
        async with self._read() as s:
            for start in range(0, len(names), 500):
                chunk = names[start:start + 500]
                out += [_record(row) for row in await s.scalars(select(ToolRow).where(ToolRow.name.in_(chunk)))]
        return out

    async def get_tool(self, name: str) -> ToolRecord | None:
        async with self._read() as s:
            row = await s.get(ToolRow, name)
            return None if row is None else _record(row)

    async def set_tool_state(self, name: str, state: ToolState, reason: str | None = None) -> ToolRecord | None:
        """Set one tool's state; returns the updated record, or None if there is no such tool."""
        async with self._write.begin() as s:
            row = await s.get(ToolRow, name)
            if row is None:
                return None
            row.state = ToolState(state).value
            if row.state == ToolState.approved:
                row.approved_hash = row.definition_hash
            row.state_reason = reason
            row.updated_at = utcnow()
            return _record(row)

    async def approve_tool(self, name: str, definition_hash: str, reason: str | None = None) -> ToolRecord | None:
        """Pin and serve the tool's current definition, which must be the one the admin reviewed.

        Raises StaleDefinition when the definition changed since (the admin must look again); None when
        there is no such tool.
        """
        async with self._write.begin() as s:
            row = await s.get(ToolRow, name, with_for_update=True)
            if row is None:
                return None
            if row.definition_hash != definition_hash:
                raise StaleDefinition(
                    f"tool {name!r} is now defined as {row.definition_hash}, not {definition_hash}: review it again"
                )
            row.state = ToolState.approved.value
            row.approved_hash = definition_hash
            row.state_reason = reason
            row.updated_at = utcnow()
            return _record(row)

    async def set_tool_policy(self, name: str, policy: ToolPolicy) -> ToolRecord | None:
        async with self._write.begin() as s:
            row = await s.get(ToolRow, name)
            if row is None:
                return None
            row.policy = policy.model_dump(mode="json", exclude_none=True) or None
            row.updated_at = utcnow()
            return _record(row)

    async def catalog_mark(self) -> tuple[Any, ...]:
        """A cheap fingerprint of the catalog: it differs whenever any tool or upstream was added, changed
        or removed (replicas poll it to pick up approvals, quarantines and kill switches made elsewhere)."""
        async with self._read() as s:
            tools = (await s.execute(select(func.count(), func.max(ToolRow.updated_at)))).one()
            upstreams = (await s.execute(select(func.count(), func.max(UpstreamRow.updated_at)))).one()
            return (*tools, *upstreams)

    async def tool_names(self) -> set[str]:
        async with self._read() as s:
            return set(await s.scalars(select(ToolRow.name)))

    async def count_tools(self) -> int:
        async with self._read() as s:
            return int(await s.scalar(select(func.count()).select_from(ToolRow)) or 0)


def _new_row(tool: ToolRecord, now: datetime) -> ToolRow:
    state = ToolState.pending if tool.flags and tool.state == ToolState.approved else tool.state
    row = ToolRow(name=tool.name, upstream=tool.upstream, state=state.value, created_at=now, updated_at=now,
                  approved_hash=tool.definition_hash if state == ToolState.approved else None,
                  state_reason=_flagged(tool) if tool.flags else None)
    _set_definition(row, tool)
    return row


def _flagged(tool: ToolRecord) -> str:
    return "the description scan flagged: " + ", ".join(tool.flags[:10])


def _redefine(row: ToolRow, tool: ToolRecord) -> bool:
    """Take the upstream's new definition; True when that quarantines an approved tool (a rug pull).

    The pin (approved_hash) never moves here: only an admin moves it. A definition that returns to the
    pinned one is served again; a disabled tool stays disabled whatever its definition.
    """
    old = row.definition_hash
    _set_definition(row, tool)
    state = ToolState(row.state)
    if state == ToolState.disabled:
        return False
    if row.approved_hash is not None and tool.definition_hash == row.approved_hash:
        row.state, row.state_reason = ToolState.approved.value, None
        return False
    if state == ToolState.approved:
        row.state = ToolState.quarantined.value
        row.state_reason = f"definition changed from {old} to {tool.definition_hash}; waiting for re-approval"
        return True
    if state == ToolState.pending and tool.state == ToolState.approved and not tool.flags and row.approved_hash is None:
        # A never-approved tool of an auto-approving upstream, now clean: the upstream's policy applies.
        row.state, row.state_reason, row.approved_hash = ToolState.approved.value, None, tool.definition_hash
        return False
    if tool.flags:
        row.state_reason = _flagged(tool)
    return False
