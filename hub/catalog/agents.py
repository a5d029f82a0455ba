"""Registered A2A agents as plain values, and their storage (the `agents` and `agent_tasks` tables).

An agent is pinned like a tool: `card_hash` is the card as last fetched, `approved_hash` the card an admin
approved; a differing hash on an approved agent means the card changed, and the agent is quarantined
until an admin approves the new card.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from hub.catalog.entities import RESERVED_PREFIX, STORED, ToolState, check_headers, web_url_problem
from hub.catalog.models import AgentRow, AgentTaskRow, utcnow
from hub.catalog.store import Conflict, Store

# Agent ids name scopes (`agent:<id>`), URLs (`/agents/<id>/`) and MCP tool prefixes (`<id>.<skill>`).
AGENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

Signature = Literal["verified", "unsigned", "untrusted"]


class AgentAuth(BaseModel):
    """How the hub authenticates to an agent: its own credentials, never the caller's token."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["none", "headers", "oauth_client_credentials"] = "none"
    headers: dict[str, str] = Field(default_factory=dict)
    token_url: str | None = None  # oauth_client_credentials
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        return check_headers(v, info)

    @field_validator("token_url")
    @classmethod
    def _token_url(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None or info.context == STORED:
            return v
        if len(v) > 2048:
            raise ValueError("token_url is longer than 2048 characters")
        if problem := web_url_problem(v):
            raise ValueError(f"token_url {problem}")
        return v


class AgentSettings(BaseModel):
    """An admin's or registrant's settings for one agent."""

    model_config = ConfigDict(extra="forbid")

    auth: AgentAuth = Field(default_factory=AgentAuth)
    expose_tools: bool = True  # each skill as the MCP tool `<id>.<skill>`
    timeout_s: float = Field(default=60.0, gt=0, le=3600)


class AgentRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    card: dict[str, Any]
    extended_card: dict[str, Any] | None = None
    card_url: str | None = None
    card_hash: str
    approved_hash: str | None = None
    state: ToolState = ToolState.pending
    state_reason: str | None = None
    signature: Signature = "unsigned"
    signature_kid: str | None = None
    owner: str
    purpose: str
    environment: str
    registered_by: str
    settings: AgentSettings = Field(default_factory=AgentSettings)
    fetched_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def name(self) -> str:
        return str(self.card.get("name", self.id))

    @property
    def description(self) -> str:
        return str(self.card.get("description", ""))

    def summary(self) -> dict[str, Any]:
        """What callers who may see the agent are shown (no credentials, no agent URLs)."""
        return {"id": self.id, "name": self.name, "description": self.description, "state": self.state.value,
                "skills": [{k: s.get(k) for k in ("id", "name", "description", "tags", "examples") if s.get(k)}
                           for s in self.card.get("skills", [])],
                "signature": self.signature, "owner": self.owner, "environment": self.environment}

    def admin_view(self) -> dict[str, Any]:
        """Everything, with secret values masked, for admins and the registrant."""
        data = self.model_dump(mode="json")
        auth = data["settings"]["auth"]
        auth["headers"] = dict.fromkeys(auth["headers"], "***")
        if auth.get("client_secret"):
            auth["client_secret"] = "***"
        return data


def check_agent_id(value: str) -> str:
    if not AGENT_ID_RE.match(value):
        raise ValueError("agent id must be 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit")
    if value.lower() == RESERVED_PREFIX:
        raise ValueError(f"the id {RESERVED_PREFIX!r} is reserved for the hub itself")
    return value


def _record(row: AgentRow) -> AgentRecord:
    return AgentRecord(
        id=row.id, card=row.card, extended_card=row.extended_card, card_url=row.card_url, card_hash=row.card_hash,
        approved_hash=row.approved_hash, state=ToolState(row.state), state_reason=row.state_reason,
        signature=row.signature, signature_kid=row.signature_kid, owner=row.owner, purpose=row.purpose,  # type: ignore[arg-type]
        environment=row.environment, registered_by=row.registered_by,
        settings=AgentSettings.model_validate(row.settings, context=STORED), fetched_at=row.fetched_at,
        created_at=row.created_at, updated_at=row.updated_at)


_FIELDS = ("card", "extended_card", "card_url", "card_hash", "approved_hash", "state", "state_reason", "signature",
           "signature_kid", "owner", "purpose", "environment", "registered_by", "fetched_at")


class AgentStore:
    """Agents and task ownership, on the catalog's database (same engine, same write discipline)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, record: AgentRecord) -> AgentRecord:
        now = utcnow()
        row = AgentRow(id=record.id, settings=record.settings.model_dump(mode="json"), created_at=now, updated_at=now,
                       **{f: _value(getattr(record, f)) for f in _FIELDS})
        try:
            async with self.store.writing() as s, s.begin():
                s.add(row)
        except IntegrityError as e:
            raise Conflict(f"agent {record.id!r} already exists") from e
        return _record(row)

    async def save(self, record: AgentRecord) -> AgentRecord | None:
        """Write every field of an existing agent; None if it is gone."""
        async with self.store.writing() as s, s.begin():
            row = await s.get(AgentRow, record.id)
            if row is None:
                return None
            for f in _FIELDS:
                setattr(row, f, _value(getattr(record, f)))
            row.settings = record.settings.model_dump(mode="json")
            row.updated_at = utcnow()
            return _record(row)

    async def get(self, agent_id: str) -> AgentRecord | None:
        async with self.store.reading() as s:
            row = await s.get(AgentRow, agent_id)
            return None if row is None else _record(row)

    async def all(self) -> list[AgentRecord]:
        async with self.store.reading() as s:
            return [_record(r) for r in await s.scalars(select(AgentRow).order_by(AgentRow.id))]

    async def delete(self, agent_id: str) -> bool:
        async with self.store.writing() as s, s.begin():
            result = await s.execute(delete(AgentRow).where(AgentRow.id == agent_id))
            return bool(getattr(result, "rowcount", 0))

    async def mark(self) -> tuple[Any, ...]:
        """Differs whenever an agent was added, changed or removed (replicas poll it)."""
        async with self.store.reading() as s:
            return tuple((await s.execute(select(func.count(), func.max(AgentRow.updated_at)))).one())

    # -- task ownership ---------------------------------------------------------------------------

    async def claim_task(self, agent_id: str, task_id: str, principal_id: str) -> str:
        """Record `principal_id` as the task's creator unless it has one; return the creator."""
        try:
            async with self.store.writing() as s, s.begin():
                row = await s.get(AgentTaskRow, (agent_id, task_id))
                if row is not None:
                    return row.principal_id
                s.add(AgentTaskRow(agent_id=agent_id, task_id=task_id, principal_id=principal_id,
                                   created_at=utcnow()))
                return principal_id
        except IntegrityError:  # a concurrent claim won (PostgreSQL); read who
            owner = await self.task_owner(agent_id, task_id)
            return owner or ""

    async def task_owner(self, agent_id: str, task_id: str) -> str | None:
        async with self.store.reading() as s:
            row = await s.get(AgentTaskRow, (agent_id, task_id))
            return None if row is None else row.principal_id

    async def owners(self, agent_id: str, task_ids: list[str]) -> dict[str, str]:
        if not task_ids:
            return {}
        async with self.store.reading() as s:
            rows = await s.execute(select(AgentTaskRow.task_id, AgentTaskRow.principal_id).where(
                AgentTaskRow.agent_id == agent_id, AgentTaskRow.task_id.in_(task_ids[:1000])))
            return {task: owner for task, owner in rows.all()}


def _value(value: Any) -> Any:
    return value.value if isinstance(value, ToolState) else value
