"""Gateway tables: access requests, per-call approvals, the hash-chained audit log and its head.

They share the catalog's declarative Base (one schema, one migration history). The audit log is
append-only: rows are inserted, never updated or deleted, and each row's `hash` covers its content and
the previous row's hash, so any edit or gap breaks the chain (`hub audit verify`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.catalog.models import NAME, OPTIONAL_JSON, Base, UTCDateTime, utcnow


class AccessRequestRow(Base):
    """A principal asking for scopes, with a reason; an admin approves or denies it once."""

    __tablename__ = "access_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    principal_id: Mapped[str] = mapped_column(
        NAME, ForeignKey("principals.id", ondelete="CASCADE"), nullable=False, index=True
    )
    scopes: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, index=True)  # pending | approved | denied
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class CallApprovalRow(Base):
    """One risky call waiting for (or given) an admin's decision."""

    __tablename__ = "call_approvals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    principal_id: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    tool: Mapped[str] = mapped_column(NAME, nullable=False)
    definition_hash: Mapped[str] = mapped_column(String(80), nullable=False)
    argument_digest: Mapped[str] = mapped_column(String(80), nullable=False)
    arguments_preview: Mapped[str | None] = mapped_column(Text)  # bounded, secrets redacted: for the admin
    state: Mapped[str] = mapped_column(String(16), nullable=False, index=True)  # pending|approved|denied|expired
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AuditRow(Base):
    """One decision or call. Never updated, never deleted."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    principal: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    target: Mapped[str | None] = mapped_column(String(300), index=True)
    decision: Mapped[str] = mapped_column(String(32), nullable=False)
    outcome: Mapped[str | None] = mapped_column(String(32))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    definition_hash: Mapped[str | None] = mapped_column(String(80))
    argument_digest: Mapped[str | None] = mapped_column(String(80))
    trace_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(OPTIONAL_JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditHeadRow(Base):
    """The chain's head (one row): locked by each appending transaction so appends serialise."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
