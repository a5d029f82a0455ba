"""Access requests: a principal asks for scopes with a reason; an admin approves or denies it, once.

Approval writes the grants in the same transaction that closes the request, guarded by
`UPDATE ... WHERE state = 'pending'`: of two admins deciding at once exactly one wins, the other gets
`AlreadyDecided` (409). Grants bump the principal's `updated_at`, so every replica's directory picks
the new scopes up within its refresh interval, without a new token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from hub.catalog.models import utcnow
from hub.catalog.store import Conflict, NotFound, Store
from hub.gateway.models import AccessRequestRow
from hub.identity.store import grant_in

MAX_REASON = 2000
MAX_OPEN_PER_PRINCIPAL = 20  # a principal can't flood the admins' queue


class AlreadyDecided(Conflict):
    """Someone decided this request first."""


class TooMany(Conflict):
    """The principal has too many open requests."""


@dataclass(frozen=True)
class AccessRequest:
    id: str
    principal_id: str
    scopes: list[str]
    reason: str
    state: str  # pending | approved | denied
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id, "principal_id": self.principal_id, "scopes": self.scopes, "reason": self.reason,
            "state": self.state, "created_at": self.created_at.isoformat(), "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decision_reason": self.decision_reason,
        }


def _request(row: AccessRequestRow) -> AccessRequest:
    return AccessRequest(id=row.id, principal_id=row.principal_id, scopes=list(row.scopes), reason=row.reason,
                         state=row.state, created_at=row.created_at, decided_by=row.decided_by,
                         decided_at=row.decided_at, decision_reason=row.decision_reason)


class AccessRequests:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, principal_id: str, scopes: list[str], reason: str) -> AccessRequest:
        now = utcnow()
        async with self.store.writing() as s, s.begin():
            open_count = await s.scalar(select(func.count()).select_from(AccessRequestRow).where(
                AccessRequestRow.principal_id == principal_id, AccessRequestRow.state == "pending"))
            if (open_count or 0) >= MAX_OPEN_PER_PRINCIPAL:
                raise TooMany(f"{MAX_OPEN_PER_PRINCIPAL} requests are already waiting for a decision")
            row = AccessRequestRow(id=f"ar_{secrets.token_hex(12)}", principal_id=principal_id, scopes=scopes,
                                   reason=reason[:MAX_REASON], state="pending", created_at=now)
            s.add(row)
        return _request(row)

    async def get(self, request_id: str) -> AccessRequest:
        async with self.store.reading() as s:
            row = await s.get(AccessRequestRow, request_id)
            if row is None:
                raise NotFound(f"no access request {request_id!r}")
            return _request(row)

    async def list(self, *, state: str | None = None, principal_id: str | None = None, after: str | None = None,
                   limit: int = 100) -> list[AccessRequest]:
        """Oldest first (the queue's order), keyset-paginated on (created_at, id) via the last id seen."""
        query = select(AccessRequestRow).order_by(AccessRequestRow.created_at, AccessRequestRow.id).limit(limit)
        if state is not None:
            query = query.where(AccessRequestRow.state == state)
        if principal_id is not None:
            query = query.where(AccessRequestRow.principal_id == principal_id)
        async with self.store.reading() as s:
            if after is not None:
                last = await s.get(AccessRequestRow, after)
                if last is not None:
                    query = query.where(
                        (AccessRequestRow.created_at > last.created_at)
                        | ((AccessRequestRow.created_at == last.created_at) & (AccessRequestRow.id > last.id)))
            return [_request(r) for r in await s.scalars(query)]

    async def decide(self, request_id: str, approve: bool, decided_by: str, reason: str | None = None
                     ) -> AccessRequest:
        """Approve (granting the scopes) or deny; AlreadyDecided when another decision came first."""
        now = utcnow()
        async with self.store.writing() as s, s.begin():
            claimed = await s.execute(
                update(AccessRequestRow)
                .where(AccessRequestRow.id == request_id, AccessRequestRow.state == "pending")
                .values(state="approved" if approve else "denied", decided_by=decided_by, decided_at=now,
                        decision_reason=(reason or "")[:MAX_REASON] or None)
            )
            row = await s.get(AccessRequestRow, request_id, populate_existing=True)
            if row is None:
                raise NotFound(f"no access request {request_id!r}")
            if not getattr(claimed, "rowcount", 0):
                raise AlreadyDecided(f"access request {request_id} was already {row.state} by {row.decided_by}")
            if approve:
                await grant_in(s, row.principal_id, list(row.scopes), decided_by,
                               reason=f"access request {request_id}: {row.reason}"[:MAX_REASON])
            return _request(row)
