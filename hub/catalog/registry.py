"""The A2A agent registry: register by card URL or card JSON, verify, pin, re-fetch, quarantine on change.

Cards are fetched through the SSRF guard (no private, loopback or link-local targets unless the operator
allows them; every redirect re-checked; size and time bounded), validated as A2A 1.0, and their signatures
verified against keys the operator pinned (a card's own `jku` is fetched only when allowlisted). An agent
is `pending` until an admin approves its card; a re-fetched card that differs from the approved one (or
whose signature no longer verifies) quarantines the agent, like a changed tool definition.

Every replica keeps the registry in memory and re-reads it when the table changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.adapters.a2a import AgentConnection, AgentError
from hub.adapters.guarded_http import fetch_document
from hub.catalog.agents import AgentRecord, AgentSettings, AgentStore, check_agent_id
from hub.catalog.cards import MAX_CARD_BYTES, CardError, card_dict, card_hash, parse_card, signature_jkus, verify_card
from hub.catalog.entities import ToolState
from hub.catalog.models import utcnow
from hub.catalog.store import Conflict, StaleDefinition
from hub.identity.fetch import FetchError, FetchPolicy
from hub.identity.principal import Principal

log = logging.getLogger("hub.agents")


class RegistrationError(Exception):
    """A registration refused; the message is safe to show the registrant."""


class AgentRegistration(BaseModel):
    """`POST /api/v1/agents`: a card by URL or inline, the agent's identity metadata and how to reach it."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None  # default: derived from the card's name
    card_url: str | None = Field(default=None, max_length=2048)
    card: dict[str, Any] | None = None
    owner: str | None = Field(default=None, min_length=1, max_length=200)  # default: the registrant
    purpose: str | None = Field(default=None, min_length=1, max_length=2000)  # default: the card's description
    environment: Literal["dev", "prod"] | None = None  # default: the hub's; another is refused
    settings: AgentSettings | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        return None if v is None else check_agent_id(v)

    @model_validator(mode="after")
    def _one_source(self) -> AgentRegistration:
        if (self.card_url is None) == (self.card is None):
            raise ValueError("give exactly one of card_url and card")
        return self


@dataclass(frozen=True)
class RegistrySettings:
    environment: str = "dev"
    policy: FetchPolicy = field(default_factory=FetchPolicy)
    pinned_keys: dict[str, Any] = field(default_factory=lambda: {"keys": []})  # JWKS the operator pinned
    jku_allowlist: tuple[str, ...] = ()  # URL prefixes a card's `jku` may name
    require_signature: bool = False
    refresh_s: float = 300.0
    watch_s: float = 1.0
    timeout_s: float = 10.0


def slug(name: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip().lower()).strip("-_")[:64]
    return text or "agent"


class AgentRegistry:
    def __init__(self, store: AgentStore, settings: RegistrySettings,
                 on_change: Callable[[], Awaitable[None]] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.on_change = on_change
        self.agents: dict[str, AgentRecord] = {}
        self.errors: dict[str, str] = {}  # the last failed re-fetch per agent, for operators
        self._connections: dict[str, tuple[Any, AgentConnection]] = {}
        self._mark: tuple[Any, ...] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._write = asyncio.Lock()
        self._reloading = asyncio.Lock()

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.reload()
        self._tasks = [asyncio.create_task(self._watch(), name="agents-watch"),
                       asyncio.create_task(self._refresh_loop(), name="agents-refresh")]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for _, connection in self._connections.values():
            await connection.close()
        self._connections.clear()

    async def reload(self) -> bool:
        """Re-read the registry if the table changed (another replica, or this one); True if it had."""
        # One at a time: a reload that found the mark current must not return while another is still
        # reading what that mark stands for (a change this replica just made would not be served yet).
        async with self._reloading:
            mark = await self.store.mark()
            if mark == self._mark:
                return False
            self.agents = {record.id: record for record in await self.store.all()}
            self._mark = mark
        for agent_id in set(self._connections) - set(self.agents):
            await self._connections.pop(agent_id)[1].close()
        return True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.watch_s)
            try:
                if await self.reload() and self.on_change is not None:
                    await self.on_change()
            except Exception as exc:  # the database is back soon; keep serving what we know
                log.warning("agent registry reload failed: %s", exc)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_s)
            for agent_id in [a.id for a in self.agents.values() if a.card_url and a.state != ToolState.disabled]:
                try:
                    await self.refresh(agent_id)
                except Exception as exc:
                    log.warning("re-fetching the card of agent %s failed: %s", agent_id, exc)

    async def _changed(self) -> None:
        await self.reload()
        if self.on_change is not None:
            await self.on_change()

    # -- connections ------------------------------------------------------------------------------

    def connection(self, agent_id: str) -> AgentConnection:
        """The pooled connection to an agent, rebuilt when its card or settings change."""
        record = self.agents[agent_id]
        version = (record.card_hash, record.settings.model_dump_json())
        cached = self._connections.get(agent_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        connection = AgentConnection(agent_id, record.card, record.settings, self.settings.policy)
        if cached is not None:
            old = cached[1]
            asyncio.get_running_loop().call_later(60, lambda: asyncio.ensure_future(old.close()))  # in-flight finish
        self._connections[agent_id] = (version, connection)
        return connection

    # -- cards ------------------------------------------------------------------------------------

    async def _fetch(self, url: str) -> dict[str, Any]:
        try:
            return await fetch_document(url, policy=self.settings.policy, max_bytes=MAX_CARD_BYTES,
                                        timeout_s=self.settings.timeout_s)
        except FetchError as exc:
            raise RegistrationError(f"could not fetch the card: {exc}") from None

    async def _verified(self, doc: Any) -> tuple[Any, str, str, str | None]:
        """(card, hash, signature status, kid) of a card document; raises RegistrationError."""
        try:
            card = parse_card(doc)
            keys = {"keys": list(self.settings.pinned_keys.get("keys", []))}
            for jku in signature_jkus(card):
                if any(jku.startswith(prefix) for prefix in self.settings.jku_allowlist):
                    try:
                        fetched = await fetch_document(jku, policy=self.settings.policy,
                                                       timeout_s=self.settings.timeout_s)
                    except FetchError as exc:
                        raise RegistrationError(f"could not fetch the allowlisted JWKS {jku}: {exc}") from None
                    keys["keys"] += [k for k in fetched.get("keys", []) if isinstance(k, dict)][:20]
            verification = verify_card(card, keys)
        except CardError as exc:
            raise RegistrationError(f"invalid agent card: {exc}") from None
        if self.settings.require_signature and verification.status != "verified":
            raise RegistrationError(f"this hub accepts only cards signed by a pinned key; the card is "
                                    f"{verification.status}")
        return card, card_hash(card), verification.status, verification.kid

    async def _extended(self, record: AgentRecord) -> dict[str, Any] | None:
        """The agent's authenticated extended card, fetched with the agent's credentials (None if none)."""
        if not record.card.get("capabilities", {}).get("extendedAgentCard"):
            return None
        connection = AgentConnection(record.id, record.card, record.settings, self.settings.policy)
        try:
            async for result in connection.call("GetExtendedAgentCard", {}):
                return card_dict(parse_card(result))
        except (AgentError, CardError) as exc:
            log.info("agent %s: extended card not available: %s", record.id, exc)
        finally:
            await connection.close()
        return None

    # -- registration and decisions ---------------------------------------------------------------

    async def register(self, request: AgentRegistration, principal: Principal) -> tuple[AgentRecord, bool]:
        """Register (or, for its registrant or an admin, re-register) an agent; (record, created)."""
        environment = request.environment or self.settings.environment
        if environment != self.settings.environment:
            raise RegistrationError(f"this hub serves the {self.settings.environment} environment; "
                                    f"a {environment} agent cannot join it")
        doc = await self._fetch(request.card_url) if request.card_url else request.card
        card, digest, signature, kid = await self._verified(doc)
        agent_id = request.id or slug(card.name)
        existing = await self.store.get(agent_id)
        if existing is not None and existing.registered_by != principal.id and not principal.is_admin:
            raise Conflict(f"agent {agent_id!r} is registered by someone else; choose another id")
        record = AgentRecord(
            id=agent_id, card=card_dict(card), card_url=request.card_url, card_hash=digest,
            signature=signature, signature_kid=kid,
            owner=request.owner or (existing.owner if existing else principal.id),
            purpose=request.purpose or (existing.purpose if existing else (card.description[:2000] or "-")),
            environment=environment, registered_by=existing.registered_by if existing else principal.id,
            settings=request.settings or (existing.settings if existing else AgentSettings()),
            fetched_at=utcnow() if request.card_url else None)
        record.extended_card = await self._extended(record)  # network I/O: before the write lock
        if existing is None:
            async with self._write:
                saved = await self.store.add(record)  # Conflict if a concurrent registration won
        else:
            saved = await self._modify(agent_id, partial(_replace_card, new=record)) or record
        await self._changed()
        return saved, existing is None

    async def refresh(self, agent_id: str) -> AgentRecord:
        """Re-fetch a URL-registered agent's card; a changed card quarantines an approved agent."""
        current = await self.store.get(agent_id)
        if current is None or not current.card_url:
            raise RegistrationError("only agents registered by card URL are re-fetched")
        try:
            doc = await self._fetch(current.card_url)
        except RegistrationError as exc:  # unreachable: keep serving the approved card, report the error
            self.errors[agent_id] = str(exc)
            raise
        fetched = current.model_copy(deep=True)
        fetched.fetched_at = utcnow()
        try:
            card, fetched.card_hash, fetched.signature, fetched.signature_kid = await self._verified(doc)
            fetched.card = card_dict(card)
            self.errors.pop(agent_id, None)
            if fetched.card_hash != current.card_hash:
                fetched.extended_card = await self._extended(fetched)
            change: Callable[[AgentRecord], None] = partial(_replace_card, new=fetched)
        except RegistrationError as exc:  # it now serves a card that fails validation or its signature check
            self.errors[agent_id] = str(exc)
            change = _invalid_card
        saved = await self._modify(agent_id, change)
        if saved is None:
            raise RegistrationError(f"agent {agent_id!r} is gone")
        if saved.state != current.state or saved.card_hash != current.card_hash:
            log.warning("agent %s: card changed (%s -> %s), state %s", agent_id, current.card_hash[:19],
                        saved.card_hash[:19], saved.state.value)
        await self._changed()
        return saved

    async def decide(self, agent_id: str, state: ToolState, *, card_hash: str | None = None,
                     reason: str | None = None) -> AgentRecord | None:
        """An admin's decision: approve (pinning the current card) or disable."""
        def change(record: AgentRecord) -> None:
            if state == ToolState.approved:
                if card_hash is not None and card_hash != record.card_hash:
                    raise StaleDefinition(f"agent {agent_id!r} now has card {record.card_hash}, not {card_hash}")
                record.approved_hash = record.card_hash
            record.state, record.state_reason = state, reason

        saved = await self._modify(agent_id, change)
        await self._changed()
        return saved

    async def update_settings(self, agent_id: str, settings: AgentSettings) -> AgentRecord | None:
        saved = await self._modify(agent_id, lambda record: setattr(record, "settings", settings))
        await self._changed()
        return saved

    async def _modify(self, agent_id: str, change: Callable[[AgentRecord], None]) -> AgentRecord | None:
        """Read, change and write one agent under the write lock (no network I/O in `change`)."""
        async with self._write:
            existing = await self.store.get(agent_id)
            if existing is None:
                return None
            record = existing.model_copy(deep=True)
            change(record)
            return await self.store.save(record)

    async def remove(self, agent_id: str) -> bool:
        async with self._write:
            removed = await self.store.delete(agent_id)
        await self._changed()
        return removed


def _replace_card(record: AgentRecord, new: AgentRecord) -> None:
    """`record` takes `new`'s card and registration; an approved agent whose card (or trust in it) changed
    waits for an admin again."""
    before = record.model_copy()
    for field_name in ("card", "extended_card", "card_url", "card_hash", "signature", "signature_kid", "owner",
                       "purpose", "environment", "settings", "fetched_at"):
        setattr(record, field_name, getattr(new, field_name))
    record.state, record.state_reason = _after_change(before, record)


def _invalid_card(record: AgentRecord) -> None:
    record.fetched_at = utcnow()
    if record.state == ToolState.approved:
        record.state, record.state_reason = ToolState.quarantined, "its card no longer validates"


def _after_change(existing: AgentRecord, record: AgentRecord) -> tuple[ToolState, str | None]:
    """The state after a new card arrived: an approved agent whose card (or trust in it) changed waits
    for an admin again."""
    if existing.state == ToolState.disabled:
        return existing.state, existing.state_reason
    lost_trust = existing.signature == "verified" and record.signature != "verified"
    if existing.state == ToolState.approved and (record.card_hash != existing.approved_hash or lost_trust):
        return ToolState.quarantined, ("its card's signature no longer verifies" if lost_trust
                                       else "its card changed since it was approved")
    if existing.state == ToolState.quarantined and record.card_hash == existing.approved_hash and not lost_trust:
        return ToolState.approved, None  # changed back to exactly what was approved
    return existing.state, existing.state_reason
