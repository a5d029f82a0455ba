"""The hash-chained audit log: every decision and call, appended durably, verifiable end to end.

Each row's `hash` is sha256(previous row's hash + canonical JSON of its content), and the one-row
`audit_head` holds the last seq and hash. Appends lock the head (``SELECT … FOR UPDATE`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite), so any number of hub processes sharing a database extend one chain, and
an edited, inserted or deleted row breaks it where `audit_read.verify` will find it.

`AuditLog.record` returns only once the row is committed: a caller that awaits it before acknowledging a
call never acknowledges a call the log lacks, even if the process is killed right after. To keep that
cheap, one background writer group-commits everything queued while the previous transaction ran; on
SQLite it runs the whole transaction in one hop to a thread of its own, on a plain sqlite3 connection
(through the async driver each statement is a thread round trip: 2.8 ms per record against 0.2 ms). When
the log is idle, a record is committed at once on the event loop instead (see `_SqliteAppender.append_now`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import sqlite3
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import insert, select, update

from hub.catalog.models import utcnow
from hub.catalog.store import Store
from hub.gateway.models import AuditHeadRow, AuditRow

log = logging.getLogger("hub.gateway.audit")

GENESIS: Final = "0" * 64  # the prev_hash of seq 1 (the head's hash before any append)
HEAD_ID: Final = 1
MAX_DETAIL_BYTES: Final = 16 * 1024
PAGE_SIZE: Final = 1000  # rows per read when verifying or exporting: memory stays constant

# Column lengths of audit_log (PostgreSQL enforces them; one over-long value must not fail a whole batch).
_LIMITS: Final = {"principal": 200, "action": 64, "target": 300, "decision": 32, "outcome": 32,
                  "definition_hash": 80, "argument_digest": 80, "trace_id": 64}
_CONTENT: Final = ("seq", "at", "principal", "action", "target", "decision", "outcome", "latency_ms",
                   "definition_hash", "argument_digest", "trace_id", "detail")
COLUMNS: Final = (*_CONTENT, "prev_hash", "hash")


class AuditError(Exception):
    """The audit log can't take or keep this record (not running, or its head row is gone): fail closed."""


def canonical_json(value: Any, *, allow_nan: bool = False) -> str:
    """One spelling per value (sorted keys, no spaces, raw UTF-8), so hashes are reproducible anywhere."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan)


def argument_digest(arguments: Any) -> str:
    """A digest that ties a record to the exact arguments without storing them (they may hold secrets)."""
    text = canonical_json(arguments, allow_nan=True)
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _clean(value: str | None, limit: int) -> str | None:
    """A string every backend stores verbatim: no NUL (PostgreSQL refuses it), valid UTF-8, within the column."""
    if value is None:
        return None
    value = str(value).replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return value if len(value) <= limit else value[: limit - 1] + "…"


@dataclass(frozen=True)
class AuditEntry:
    """What happened, as the log keeps it: identifiers, decision, outcome and digests, never raw arguments.

    Values are normalised on construction (UTC time, float latency, JSON-clean detail, bounded strings) so
    that what is hashed is exactly what every backend reads back, and a bad value fails its own caller here
    rather than the whole group commit it would have joined.
    """

    principal: str
    action: str  # "tools/call", "access_request.approve", ...
    target: str | None  # the tool, agent or request acted on
    decision: str  # "allow", "deny", "rate_limited", "invalid", "approve", ...
    outcome: str | None = None  # "ok", "error", "timeout", ...
    latency_ms: float | None = None
    definition_hash: str | None = None
    argument_digest: str | None = None
    trace_id: str | None = None
    detail: dict[str, Any] | None = None  # small; never raw arguments or secrets
    at: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        for name, limit in _LIMITS.items():
            object.__setattr__(self, name, _clean(getattr(self, name), limit))
        if not self.principal or not self.action or not self.decision:
            raise ValueError("an audit entry needs a principal, an action and a decision")
        if self.at.tzinfo is None:
            raise ValueError("AuditEntry.at must be timezone-aware")
        object.__setattr__(self, "at", self.at.astimezone(UTC))
        if self.latency_ms is not None:
            latency = float(self.latency_ms)
            # SQLite turns NaN into NULL, which would no longer match the hash; round for readable exports.
            object.__setattr__(self, "latency_ms", round(latency, 3) if math.isfinite(latency) else None)
        if self.detail is not None:
            if not isinstance(self.detail, dict):
                raise TypeError("AuditEntry.detail must be a dict")
            text = canonical_json(self.detail)  # TypeError/ValueError for what JSON can't carry (NaN, objects)
            if len(text.encode("utf-8")) > MAX_DETAIL_BYTES:  # UnicodeEncodeError (a ValueError) on surrogates
                raise ValueError(f"AuditEntry.detail is over {MAX_DETAIL_BYTES} bytes")
            object.__setattr__(self, "detail", json.loads(text))  # tuples → lists, keys → str: as read back


def content(seq: int, values: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed fields of a record as JSON values: the same whether built from an entry or a stored row."""
    out = {name: values[name] for name in _CONTENT if name != "seq"}
    out["seq"] = seq
    out["at"] = out["at"].astimezone(UTC).isoformat(timespec="microseconds")
    return out


def chain_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode("utf-8")).hexdigest()


def record_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored record as the API and exports show it, hashes included so anyone can re-verify it."""
    out = {name: row[name] for name in COLUMNS}
    out["at"] = out["at"].astimezone(UTC).isoformat(timespec="microseconds")
    return out


_Waiter = asyncio.Future[int]
IDLE_S = 0.0002  # no record for this long: the log is idle, and a record may be committed at once
_STOP: Final = object()


class AuditLog:
    """Appends entries to the chain through one background writer that commits them in groups.

    ``await start()`` before recording and ``await close()`` at shutdown (it writes everything queued first).
    """

    def __init__(self, store: Store, *, max_batch: int = 256, max_pending: int = 100_000) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.store = store
        self.max_batch = max_batch
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=max_pending)
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._inflight: list[tuple[AuditEntry, _Waiter]] = []
        self._last_record_at = 0.0
        self._sqlite = _SqliteAppender.for_store(store)

    async def start(self) -> None:
        if self._closing:
            raise AuditError("the audit log was closed")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="hub-audit-writer")

    async def close(self) -> None:
        """Stop taking entries, commit every queued one, then stop the writer. Safe to call more than once."""
        first = not self._closing
        self._closing = True
        if self._task is None or self._task.done():
            return
        if first:
            await self._queue.put(_STOP)
        await asyncio.shield(self._task)  # closing must not be undone by a cancelled caller
        if self._sqlite is not None:
            self._sqlite.close()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done() and not self._closing

    async def record(self, entry: AuditEntry) -> int:
        """Append ``entry``; returns its seq once committed. Raises if it could not be (the caller fails closed).

        Cancelling the wait does not withdraw the entry: it is still written.
        """
        self._check()
        now = time.monotonic()
        idle, self._last_record_at = now - self._last_record_at >= IDLE_S, now
        if idle and self._sqlite is not None and not self._inflight and self._queue.empty():
            # An idle log: commit it here, with no queue and no thread round trip (a single small transaction;
            # at low load that round trip was most of a call's audit latency). Under load, records arrive
            # microseconds apart and group commits on the writer thread cost the event loop less.
            seq = self._sqlite.append_now([entry])
            if seq is not None:
                return seq
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        await self._queue.put((entry, waiter))
        if self._task is not None and self._task.done() and not waiter.done():  # closed while we waited to queue
            waiter.set_exception(AuditError("the audit log closed before this record was queued"))
        return await waiter

    def _check(self) -> None:
        if not self.running:
            raise AuditError("the audit log is not running")

    # -- the writer ------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            stop = False
            while not stop:
                item = await self._queue.get()
                if item is _STOP:
                    break
                batch = [item]
                while len(batch) < self.max_batch and not self._queue.empty():
                    item = self._queue.get_nowait()
                    if item is _STOP:
                        stop = True
                        break
                    batch.append(item)
                self._inflight = batch
                await self._write(batch)
                self._inflight = []
        finally:
            self._fail_leftovers()

    async def _write(self, batch: list[tuple[AuditEntry, _Waiter]]) -> None:
        try:
            first = await self.append([entry for entry, _ in batch])
        except Exception as exc:
            log.error("audit: %d record(s) could not be written: %s", len(batch), exc)
            for _, waiter in batch:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        for offset, (_, waiter) in enumerate(batch):
            if not waiter.done():
                waiter.set_result(first + offset)

    def _fail_leftovers(self) -> None:
        """The writer stopped (cancelled or crashed): nobody may wait forever for a commit that won't come."""
        leftovers = list(self._inflight)
        self._inflight = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not _STOP:
                leftovers.append(item)
        self._closing = True
        for _, waiter in leftovers:
            if not waiter.done():
                waiter.set_exception(AuditError("the audit writer stopped before this record was committed"))

    async def append(self, entries: list[AuditEntry]) -> int:
        """Append ``entries`` in one transaction, in order; returns the first one's seq."""
        if self._sqlite is not None:
            return await self._sqlite.append(entries)
        async with self.store.writing() as s, s.begin():
            locked = select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == HEAD_ID).with_for_update()
            head = (await s.execute(locked)).first()
            if head is None:
                raise AuditError("the audit_head row is missing: the chain can't be extended")
            seq, prev = head.seq, head.hash
            rows = []
            for entry in entries:
                seq += 1
                values = dict(entry.__dict__)  # shallow: detail is already JSON-clean
                digest = chain_hash(prev, content(seq, values))
                rows.append({**values, "seq": seq, "prev_hash": prev, "hash": digest})
                prev = digest
            await s.execute(insert(AuditRow), rows)
            await s.execute(update(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID).values(seq=seq, hash=prev))
        return head.seq + 1


class _SqliteAppender:
    """The append transaction on SQLite, on its own sqlite3 connections: group commits run whole in one
    dedicated thread; a lone entry may be appended at once on the event loop (`append_now`), on a second
    connection that never waits for the lock and never checkpoints, so the loop cannot stall on either."""

    CHECKPOINT_TURN = 100  # every Nth lone entry goes through the thread, whose commits checkpoint the WAL

    def __init__(self, path: str, binders: dict[str, Any]) -> None:
        self.path = path
        self.binders = binders
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-audit")
        self._conn: sqlite3.Connection | None = None
        self._now: sqlite3.Connection | None = None
        self._turns = 0
        columns = ", ".join(COLUMNS)
        self._insert = f"INSERT INTO audit_log ({columns}) VALUES ({', '.join('?' for _ in COLUMNS)})"

    @classmethod
    def for_store(cls, store: Store) -> _SqliteAppender | None:
        engine = store.engine
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:" or engine.url.query.get("uri"):
            return None
        # The columns' own bind processing (UTC timestamps, JSON), so rows read back exactly as the ORM wrote them.
        dialect = engine.dialect
        binders = {c.name: c.type.dialect_impl(dialect).bind_processor(dialect) for c in AuditRow.__table__.columns}
        return cls(database, binders)

    async def append(self, entries: list[AuditEntry]) -> int:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._append, entries)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            for pragma in ("PRAGMA busy_timeout = 30000", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL"):
                conn.execute(pragma)
            self._conn = conn
        return self._conn

    def append_now(self, entries: list[AuditEntry]) -> int | None:
        """Append on the calling thread if the write lock is free now; None when it is not, or when it is the
        thread's turn (the caller then queues the entries for the writer thread)."""
        self._turns += 1
        if self._turns % self.CHECKPOINT_TURN == 0:
            return None
        if self._now is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=0, check_same_thread=False)
            for pragma in ("PRAGMA busy_timeout = 0", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL",
                           "PRAGMA wal_autocheckpoint = 0"):
                conn.execute(pragma)
            self._now = conn
        try:
            self._now.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # SQLITE_BUSY: another writer (a replica, the catalog) holds it
            if "locked" in str(exc) or "busy" in str(exc):
                return None
            raise
        return self._extend(self._now, entries)

    def _append(self, entries: list[AuditEntry]) -> int:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")  # the write lock first: appends from every process serialise here
        return self._extend(conn, entries)

    def _extend(self, conn: sqlite3.Connection, entries: list[AuditEntry]) -> int:
        """Inside a begun write transaction: link the entries to the head, insert them, commit."""
        try:
            head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = ?", (HEAD_ID,)).fetchone()
            if head is None:
                raise AuditError("the audit_head row is missing: the chain can't be extended")
            seq, prev = head
            params = []
            for entry in entries:
                seq += 1
                values = dict(entry.__dict__)  # shallow: detail is already JSON-clean
                digest = chain_hash(prev, content(seq, values))
                row = {**values, "seq": seq, "prev_hash": prev, "hash": digest}
                params.append(tuple(self._bind(name, row[name]) for name in COLUMNS))
                prev = digest
            conn.executemany(self._insert, params)
            conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = ?", (seq, prev, HEAD_ID))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(head[0]) + 1

    def _bind(self, name: str, value: Any) -> Any:
        binder = self.binders.get(name)
        return binder(value) if binder is not None else value

    def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._executor.submit(shut).result()
        if self._now is not None:
            self._now.close()
            self._now = None
        self._executor.shutdown(wait=True)
