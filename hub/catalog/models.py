"""The catalog's tables (SQLAlchemy 2 declarative); the schema itself is created by the migrations.

Portable across SQLite and PostgreSQL: JSON columns use ``sqlalchemy.JSON``, timestamps are stored and
returned as timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, ForeignKey, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Names sort by code point on every backend ("C" collation on PostgreSQL; SQLite's default BINARY),
# so keyset pagination yields the same order whatever the server's locale.
NAME = String().with_variant(String(collation="C"), "postgresql")
# SQL NULL (not JSON 'null') for absent optional documents.
OPTIONAL_JSON = JSON(none_as_null=True)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out; SQLite keeps no offset, so naive values read back are UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC timestamp column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class UpstreamRow(Base):
    __tablename__ = "upstreams"

    name: Mapped[str] = mapped_column(NAME, primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)  # UpstreamSpec.model_dump(mode="json")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)


class ToolRow(Base):
    __tablename__ = "tools"

    name: Mapped[str] = mapped_column(NAME, primary_key=True)  # qualified name
    upstream: Mapped[str] = mapped_column(
        NAME, ForeignKey("upstreams.name", ondelete="CASCADE"), nullable=False, index=True
    )
    upstream_tool: Mapped[str] = mapped_column(String, nullable=False)
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    input_schema: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(OPTIONAL_JSON)
    annotations: Mapped[dict[str, Any] | None] = mapped_column(OPTIONAL_JSON)
    meta: Mapped[dict[str, Any] | None] = mapped_column(OPTIONAL_JSON)
    definition_hash: Mapped[str] = mapped_column(String(80), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    # The definition an admin approved (the pin); a differing definition_hash means the tool changed.
    approved_hash: Mapped[str | None] = mapped_column(String(80))
    flags: Mapped[list[str] | None] = mapped_column(OPTIONAL_JSON)  # poisoning-scan findings
    policy: Mapped[dict[str, Any] | None] = mapped_column(OPTIONAL_JSON)  # ToolPolicy, set by admins
    state_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)


class AgentRow(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(NAME, primary_key=True)
    card: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)  # as registered (ProtoJSON)
    extended_card: Mapped[dict[str, Any] | None] = mapped_column(OPTIONAL_JSON)
    card_url: Mapped[str | None] = mapped_column(Text)
    card_hash: Mapped[str] = mapped_column(String(80), nullable=False)
    approved_hash: Mapped[str | None] = mapped_column(String(80))  # the card an admin approved (the pin)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    state_reason: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(16), nullable=False)  # verified | unsigned | untrusted
    signature_kid: Mapped[str | None] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(200), nullable=False)
    purpose: Mapped[str] = mapped_column(Text, nullable=False)
    environment: Mapped[str] = mapped_column(String(16), nullable=False)
    registered_by: Mapped[str] = mapped_column(String(200), nullable=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)  # AgentSettings (credentials etc.)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)


class AgentTaskRow(Base):
    """Which principal created an A2A task through the hub: only they may read, cancel or follow it."""

    __tablename__ = "agent_tasks"

    agent_id: Mapped[str] = mapped_column(NAME, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    principal_id: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
