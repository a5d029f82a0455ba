"""Per-call approval of risky tools: the call waits until an admin approves or denies it, or time runs out.

An approval is a row (so any replica's admin API can decide it, and the replica holding the waiting call
sees the decision on its next poll). Deciding is `UPDATE ... WHERE state = 'pending'`: one decision wins.
A 2026-07-28 caller is handed the approval as `request_state`, sealed with the hub's secret and bound to
the caller, the tool and the arguments, so a retry can only resume its own approval.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from hub.catalog.models import utcnow
from hub.catalog.store import Conflict, NotFound, Store
from hub.gateway.models import CallApprovalRow

STATE_PREFIX = "hub-approval."
PREVIEW_BYTES = 2000
_SECRET_KEYS = ("password", "secret", "token", "key", "authorization", "credential", "cookie")


class AlreadyDecided(Conflict):
    """Someone decided this call first."""


@dataclass(frozen=True)
class CallApproval:
    id: str
    principal_id: str
    tool: str
    definition_hash: str
    argument_digest: str
    arguments_preview: str | None
    state: str  # pending | approved | denied | expired
    created_at: datetime
    expires_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None

    def json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("id", "principal_id", "tool", "definition_hash", "argument_digest",
                                            "arguments_preview", "state", "decided_by", "reason")}
        for k in ("created_at", "expires_at", "decided_at"):
            value = getattr(self, k)
            out[k] = value.isoformat() if value else None
        return out


def _approval(row: CallApprovalRow) -> CallApproval:
    return CallApproval(id=row.id, principal_id=row.principal_id, tool=row.tool,
                        definition_hash=row.definition_hash, argument_digest=row.argument_digest,
                        arguments_preview=row.arguments_preview, state=row.state, created_at=row.created_at,
                        expires_at=row.expires_at, decided_by=row.decided_by, decided_at=row.decided_at,
                        reason=row.reason)


def preview(arguments: dict[str, Any]) -> str:
    """What the admin sees of the arguments: bounded, with values under secret-looking keys hidden."""

    def redact(value: Any, depth: int = 0) -> Any:
        if depth > 8:
            return "…"
        if isinstance(value, dict):
            return {k: "***" if any(s in str(k).lower() for s in _SECRET_KEYS) else redact(v, depth + 1)
                    for k, v in list(value.items())[:50]}
        if isinstance(value, list):
            return [redact(v, depth + 1) for v in value[:50]]
        return value

    text = json.dumps(redact(arguments), ensure_ascii=False, default=str)
    return text if len(text) <= PREVIEW_BYTES else text[:PREVIEW_BYTES] + "…"


class CallApprovals:
    def __init__(self, store: Store, secret: bytes, *, timeout_s: float = 120.0, poll_s: float = 0.25) -> None:
        self.store = store
        self._secret = secret
        self.timeout_s = timeout_s
        self.poll_s = poll_s

    async def open(self, principal_id: str, tool: str, definition_hash: str, argument_digest: str,
                   arguments_preview: str | None) -> CallApproval:
        now = utcnow()
        row = CallApprovalRow(id=f"ca_{secrets.token_hex(12)}", principal_id=principal_id, tool=tool,
                              definition_hash=definition_hash, argument_digest=argument_digest,
                              arguments_preview=arguments_preview, state="pending", created_at=now,
                              expires_at=now + timedelta(seconds=self.timeout_s))
        async with self.store.writing() as s, s.begin():
            s.add(row)
        return _approval(row)

    async def get(self, approval_id: str) -> CallApproval:
        async with self.store.reading() as s:
            row = await s.get(CallApprovalRow, approval_id)
            if row is None:
                raise NotFound(f"no call approval {approval_id!r}")
            return _approval(row)

    async def list(self, *, state: str | None = None, limit: int = 100) -> list[CallApproval]:
        query = select(CallApprovalRow).order_by(CallApprovalRow.created_at, CallApprovalRow.id).limit(limit)
        if state is not None:
            query = query.where(CallApprovalRow.state == state)
        async with self.store.reading() as s:
            return [_approval(r) for r in await s.scalars(query)]

    async def decide(self, approval_id: str, approve: bool, decided_by: str, reason: str | None = None
                     ) -> CallApproval:
        return await self._close(approval_id, "approved" if approve else "denied", decided_by, reason)

    async def _close(self, approval_id: str, state: str, decided_by: str, reason: str | None) -> CallApproval:
        async with self.store.writing() as s, s.begin():
            claimed = await s.execute(
                update(CallApprovalRow)
                .where(CallApprovalRow.id == approval_id, CallApprovalRow.state == "pending")
                .values(state=state, decided_by=decided_by, decided_at=utcnow(), reason=(reason or "")[:2000] or None)
            )
            row = await s.get(CallApprovalRow, approval_id, populate_existing=True)
            if row is None:
                raise NotFound(f"no call approval {approval_id!r}")
            if not getattr(claimed, "rowcount", 0):
                raise AlreadyDecided(f"call approval {approval_id} was already {row.state}")
            return _approval(row)

    async def wait(self, approval_id: str) -> CallApproval:
        """The decision, once made; an approval still pending at its deadline is closed as expired."""
        while True:
            approval = await self.get(approval_id)
            if approval.state != "pending":
                return approval
            left = (approval.expires_at - utcnow()).total_seconds()
            if left <= 0:
                try:
                    return await self._close(approval_id, "expired", "hub", "no decision before the deadline")
                except AlreadyDecided:
                    continue  # decided at the last moment: read the decision
            await asyncio.sleep(min(self.poll_s, left))

    # -- request_state for 2026-07-28 retries -------------------------------------------------------

    def seal(self, approval: CallApproval) -> str:
        body = json.dumps([approval.id, approval.principal_id, approval.tool, approval.argument_digest,
                           int(time.time())], separators=(",", ":")).encode()
        mac = hmac.new(self._secret, body, hashlib.sha256).digest()
        return STATE_PREFIX + base64.urlsafe_b64encode(body + mac).decode().rstrip("=")

    def unseal(self, state: str, principal_id: str, tool: str, argument_digest: str) -> str | None:
        """The approval id a request_state carries, if it is ours and bound to exactly this call."""
        if not state.startswith(STATE_PREFIX):
            return None
        raw = state[len(STATE_PREFIX):]
        try:
            blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except ValueError:
            return None
        body, mac = blob[:-32], blob[-32:]
        if len(blob) <= 32 or not hmac.compare_digest(mac, hmac.new(self._secret, body, hashlib.sha256).digest()):
            return None
        try:
            approval_id, owner, sealed_tool, digest, _ = json.loads(body)
        except (ValueError, TypeError):
            return None
        if (owner, sealed_tool, digest) != (principal_id, tool, argument_digest):
            return None
        return str(approval_id)
