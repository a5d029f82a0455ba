"""Reading the audit chain: verifying it end to end, and querying or exporting its records (the API, the CLI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from hub.catalog.store import Store
from hub.gateway.audit import GENESIS, HEAD_ID, PAGE_SIZE, chain_hash, content, record_json
from hub.gateway.models import AuditHeadRow, AuditRow

# -- verification ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int  # records checked
    head_seq: int | None  # anchor (head_seq, head_hash) elsewhere to detect a truncated tail later
    head_hash: str | None
    first_broken_seq: int | None = None
    message: str = "the chain is intact"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def _head(store: Store) -> tuple[int, str] | None:
    async with store.reading() as s:
        row = (await s.execute(select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == HEAD_ID))).first()
        return None if row is None else (row.seq, row.hash)


async def verify(store: Store, *, page_size: int = PAGE_SIZE) -> VerifyResult:
    """Walk the chain from seq 1 to the head, recomputing every hash, in pages (constant memory).

    Checks contiguous seqs, each prev_hash link, each content hash, that the last row is the head, and that
    no row lies past the head. Entries appended while this runs (past the head read at the start) are left
    for the next run. A deleted tail with a rewound head is only detectable against an anchored head.
    """
    head = await _head(store)
    if head is None:
        return VerifyResult(False, 0, None, None, None, "the audit_head row is missing")
    head_seq, head_hash = head
    count, expected, prev = 0, 1, GENESIS

    def broken(seq: int, message: str) -> VerifyResult:
        return VerifyResult(False, count, head_seq, head_hash, seq, message)

    table = AuditRow.__table__
    while expected <= head_seq:
        query = (select(*table.c).where(table.c.seq >= expected, table.c.seq <= head_seq)
                 .order_by(table.c.seq).limit(page_size))
        async with store.reading() as s:
            rows = (await s.execute(query)).mappings().all()
        if not rows:
            return broken(expected, f"records {expected}..{head_seq} are missing (the head is at {head_seq})")
        for row in rows:
            seq = row["seq"]
            if seq != expected:
                return broken(expected, f"record {expected} is missing (the next one is {seq})")
            if row["prev_hash"] != prev:
                return broken(seq, f"record {seq} does not link to record {seq - 1} (prev_hash differs)")
            if chain_hash(prev, content(seq, row)) != row["hash"]:
                return broken(seq, f"record {seq} was altered (its content no longer matches its hash)")
            prev, expected, count = row["hash"], seq + 1, count + 1
    if prev != head_hash:
        return broken(head_seq, f"the head's hash does not match record {head_seq}")
    async with store.reading() as s:  # one snapshot: a concurrent append moves both together
        now_head = await s.scalar(select(AuditHeadRow.seq).where(AuditHeadRow.id == HEAD_ID))
        first, last = (await s.execute(select(func.min(AuditRow.seq), func.max(AuditRow.seq)))).one()
    if first is not None and first < 1:
        return broken(first, f"record {first} lies before the start of the chain (seq 1)")
    if last is not None and (now_head is None or last > now_head):
        return broken((now_head or 0) + 1, f"record {last} lies past the head ({now_head}): it was not appended")
    return VerifyResult(True, count, head_seq, head_hash)


# -- queries -----------------------------------------------------------------------------------------------


def _filtered(
    *,
    principal: str | None,
    action: str | None,
    target: str | None,
    decision: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Any]:
    table = AuditRow.__table__
    stmt = select(*table.c).order_by(table.c.seq)
    for name, value in (("principal", principal), ("action", action), ("target", target), ("decision", decision)):
        if value is not None:
            stmt = stmt.where(table.c[name] == value)
    for bound in (since, until):
        if bound is not None and bound.tzinfo is None:
            raise ValueError("since and until must be timezone-aware")
    if since is not None:
        stmt = stmt.where(table.c.at >= since)
    if until is not None:
        stmt = stmt.where(table.c.at < until)
    return stmt


async def query(
    store: Store,
    *,
    principal: str | None = None,
    action: str | None = None,
    target: str | None = None,
    decision: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """One page of matching records in seq order (``since`` inclusive, ``until`` exclusive); pass the last
    seq seen as ``after_seq`` for the next page."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    stmt = _filtered(principal=principal, action=action, target=target, decision=decision, since=since, until=until)
    if after_seq is not None:
        stmt = stmt.where(AuditRow.__table__.c.seq > after_seq)
    async with store.reading() as s:
        return [record_json(row) for row in (await s.execute(stmt.limit(limit))).mappings()]


async def iter_records(
    store: Store,
    *,
    after_seq: int | None = None,
    limit: int | None = None,
    page_size: int = PAGE_SIZE,
    **filters: Any,
) -> AsyncIterator[dict[str, Any]]:
    """Every record matching ``filters`` (those of `query`), up to ``limit``, read a page at a time: exports of
    any size in constant memory."""
    left = limit
    while left is None or left > 0:
        size = page_size if left is None else min(page_size, left)
        page = await query(store, **filters, after_seq=after_seq, limit=size)
        for record in page:
            yield record
        if len(page) < size:
            return
        after_seq = page[-1]["seq"]
        if left is not None:
            left -= len(page)
