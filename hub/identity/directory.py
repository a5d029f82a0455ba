"""Who is active and what each principal is granted, kept fresh in memory from the database.

Every replica re-reads what changed (principals and their grants, revocations) every
`identity_refresh_s`, so an admin's grant, suspension or revocation takes effect on every replica
within about that interval, without a new token. When the database cannot be read for a while the
directory goes stale and verification fails closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from hub.catalog.store import NotFound
from hub.identity.entities import PrincipalRecord
from hub.identity.keys import KeyRing
from hub.identity.principal import Principal
from hub.identity.scopes import is_permission
from hub.identity.store import IdentityStore
from hub.identity.tokens import InvalidToken, TokenClaims

log = logging.getLogger("hub.identity")
_OVERLAP = timedelta(seconds=2)  # re-read a little behind the watermark: commits land out of order


class Unavailable(Exception):
    """The directory is too stale to decide; the caller should retry shortly."""


class Directory:
    def __init__(self, store: IdentityStore, environment: str, interval_s: float,
                 keys: KeyRing | None = None) -> None:
        self.store, self.environment, self.interval_s, self.keys = store, environment, interval_s, keys
        self.principals: dict[str, PrincipalRecord] = {}
        self.revoked: set[str] = set()
        self._principals_mark: datetime | None = None
        self._revoked_mark: datetime | None = None
        self._last_ok = 0.0
        self._task: asyncio.Task[None] | None = None
        # Called when what some principal may use changed (grants, status): MCP sends list_changed.
        self.on_change: Callable[[], Awaitable[None]] | None = None
        self._notify: asyncio.Future[None] | None = None
        # Principals changed here (put) while a refresh was reading: what it read of them may predate the change.
        self._put_meanwhile: set[str] | None = None

    async def refresh(self) -> None:
        self._put_meanwhile = set()
        try:
            changed = await self.store.changed_since(self._since(self._principals_mark))
            put_meanwhile = self._put_meanwhile
        finally:
            self._put_meanwhile = None
        effective = False
        for rec in changed:
            if rec.id in put_meanwhile:  # read before a change made here landed: the next refresh re-reads it
                continue
            before = self.principals.get(rec.id)
            if before is None or before.scopes != rec.scopes or before.status != rec.status:
                effective = True
            self.principals[rec.id] = rec
            if self._principals_mark is None or rec.updated_at > self._principals_mark:
                self._principals_mark = rec.updated_at
        for key, revoked_at in await self.store.revocations_since(self._since(self._revoked_mark)):
            self.revoked.add(key)
            if self._revoked_mark is None or revoked_at > self._revoked_mark:
                self._revoked_mark = revoked_at
        first = self._last_ok == 0.0
        self._last_ok = time.monotonic()
        if effective and not first and self.on_change is not None:
            await self.on_change()

    @staticmethod
    def _since(mark: datetime | None) -> datetime | None:
        return None if mark is None else mark - _OVERLAP

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="identity-directory")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        pruned = time.monotonic()
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.refresh()
                if self.keys is not None:
                    await self.keys.reload_if_older_than(60.0)  # pick up a rotation made elsewhere
                if time.monotonic() - pruned > 600:
                    pruned = time.monotonic()
                    await self.store.prune()
            except Exception as exc:  # keep polling; staleness makes verification fail closed
                log.warning("identity directory refresh failed: %s", type(exc).__name__)

    def put(self, record: PrincipalRecord) -> None:
        """A change made on this replica takes effect here at once."""
        before = self.principals.get(record.id)
        self.principals[record.id] = record
        if self._put_meanwhile is not None:
            self._put_meanwhile.add(record.id)
        if before is not None and (before.scopes != record.scopes or before.status != record.status) \
                and self.on_change is not None:
            self._notify = asyncio.ensure_future(self.on_change())

    def revoke_local(self, keys: list[str]) -> None:
        self.revoked.update(keys)

    @property
    def fresh(self) -> bool:
        return time.monotonic() - self._last_ok < max(5.0, 5 * self.interval_s)

    async def resolve(self, claims: TokenClaims) -> Principal:
        """The principal a verified token speaks for, with the scopes it may use now."""
        if not self.fresh:
            raise Unavailable("identity data is stale; retry shortly")
        if claims.jti and f"jti:{claims.jti}" in self.revoked:
            raise InvalidToken("token revoked")
        if claims.family and f"family:{claims.family}" in self.revoked:
            raise InvalidToken("token revoked")
        record = self.principals.get(claims.subject)
        if record is None:
            # Created on another replica since the last refresh? Only signed tokens get here, so the
            # lookup can't be driven by arbitrary input.
            with contextlib.suppress(NotFound):
                record = await self.store.get_principal(claims.subject)
                self.principals.setdefault(record.id, record)
        if record is None:
            raise InvalidToken("the token's principal is not registered on this hub")
        if record.status != "active":
            raise InvalidToken("principal suspended")
        if record.environment != self.environment:
            raise InvalidToken(f"principal belongs to {record.environment}; this hub is {self.environment}")
        scopes = set(record.scopes)
        if claims.trusted is not None:
            allowed = set(claims.trusted.allowed_scopes)
            scopes |= {s for s in claims.scopes if s in allowed}
            via = f"issuer:{claims.issuer}"
        else:
            via = "oauth"
            if claims.bound:
                scopes &= {s for s in claims.scopes if is_permission(s)}
        return Principal(id=record.id, name=record.name, kind=record.kind, environment=record.environment,
                         scopes=frozenset(scopes), via=via, client_id=claims.client_id or None)
