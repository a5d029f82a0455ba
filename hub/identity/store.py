"""Identity storage on the catalog's database: principals, grants, clients, keys, revocations.

Every change to a principal or its grants bumps the principal's `updated_at`, so replicas pick the change
up with one incremental query (see `hub.identity.state`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.catalog.models import utcnow
from hub.catalog.store import Conflict, NotFound, Store
from hub.identity import passwords
from hub.identity.entities import PrincipalRecord, PrincipalSpec
from hub.identity.models import (
    AuthCodeRow,
    ClientRow,
    GrantRow,
    HubSecretRow,
    PrincipalRow,
    RefreshTokenRow,
    RevocationRow,
    SeenAssertionRow,
    SigningKeyRow,
)
from hub.identity.scopes import is_permission

T = TypeVar("T")
SECRET_PREFIX = "hubsec_"


def record(row: PrincipalRow, scopes: Iterable[str] = ()) -> PrincipalRecord:
    return PrincipalRecord(
        id=row.id, name=row.name, kind=row.kind, owner=row.owner, purpose=row.purpose,
        environment=row.environment, version=row.version, evaluation_plan=row.evaluation_plan,
        status=row.status, created_at=row.created_at, updated_at=row.updated_at, scopes=frozenset(scopes),
    )


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "principal"
    return f"{slug}-{secrets.token_hex(3)}"


def principal_client_metadata(spec: PrincipalSpec) -> dict[str, Any]:
    method = "private_key_jwt" if spec.jwks else "client_secret_basic"
    meta: dict[str, Any] = {
        "client_name": spec.name,
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
        "token_endpoint_auth_method": method,
    }
    if spec.jwks:
        meta["jwks"] = spec.jwks
    return meta


class IdentityStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- principals --------------------------------------------------------------------------------

    async def create_principal(self, spec: PrincipalSpec, created_by: str) -> tuple[PrincipalRecord, str | None]:
        """Create the principal (and, for agents and services, its client). Returns the secret once."""
        principal_id = spec.id or _slug(spec.name)
        secret: str | None = None
        now = utcnow()
        async with self.store.writing() as s, s.begin():
            row = PrincipalRow(
                id=principal_id, name=spec.name, kind=spec.kind, owner=spec.owner, purpose=spec.purpose,
                environment=spec.environment, version=spec.version, evaluation_plan=spec.evaluation_plan,
                status="active", created_by=created_by, created_at=now, updated_at=now,
                password_hash=passwords.hash_password(spec.password) if spec.password else None,
            )
            s.add(row)
            try:
                await s.flush()  # the principal first: clients and grants refer to it
            except IntegrityError as exc:
                raise Conflict(f"principal {principal_id!r} already exists") from exc
            if spec.kind != "user":
                if not spec.jwks:
                    secret = passwords.new_secret(SECRET_PREFIX)
                s.add(ClientRow(
                    client_id=principal_id, principal_id=principal_id, source="principal",
                    secret_hash=passwords.digest(secret) if secret else None,
                    metadata_=principal_client_metadata(spec), created_at=now,
                ))
            for scope in dict.fromkeys(x for x in spec.scopes if is_permission(x)):
                s.add(_approved(principal_id, scope, created_by, now))
        return record(row, [x for x in spec.scopes if is_permission(x)]), secret

    async def get_principal(self, principal_id: str) -> PrincipalRecord:
        async with self.store.reading() as s:
            row = await s.get(PrincipalRow, principal_id)
            if row is None:
                raise NotFound(f"no principal {principal_id!r}")
            return record(row, await _approved_scopes(s, principal_id))

    async def list_principals(self, limit: int = 100, after: str | None = None) -> list[PrincipalRecord]:
        async with self.store.reading() as s:
            query = select(PrincipalRow).order_by(PrincipalRow.id).limit(limit)
            if after:
                query = query.where(PrincipalRow.id > after)
            rows = list((await s.scalars(query)).all())
            grants = await _approved_scopes_of(s, [r.id for r in rows])
            return [record(r, grants.get(r.id, ())) for r in rows]

    async def set_status(self, principal_id: str, status: str) -> PrincipalRecord:
        async with self.store.writing() as s, s.begin():
            row = await _principal(s, principal_id)
            row.status = status
            row.updated_at = utcnow()
            scopes = await _approved_scopes(s, principal_id)
        return record(row, scopes)

    async def rotate_secret(self, principal_id: str) -> str:
        async with self.store.writing() as s, s.begin():
            client = await s.get(ClientRow, principal_id)
            if client is None or client.principal_id != principal_id:
                raise NotFound(f"principal {principal_id!r} has no client credentials")
            if client.metadata_.get("token_endpoint_auth_method") == "private_key_jwt":
                raise Conflict(f"principal {principal_id!r} authenticates with private_key_jwt: it has no secret")
            secret = passwords.new_secret(SECRET_PREFIX)
            client.secret_hash = passwords.digest(secret)
            client.secret_rotated_at = utcnow()
            await _touch(s, principal_id)
        return secret

    async def principal_row(self, principal_id: str) -> PrincipalRow | None:
        async with self.store.reading() as s:
            return await s.get(PrincipalRow, principal_id)

    async def add_client(self, client_id: str, metadata: dict[str, Any], secret_hash: str | None) -> None:
        """A client registered dynamically (RFC 7591): no principal of its own; users act through it."""
        async with self.store.writing() as s, s.begin():
            s.add(ClientRow(client_id=client_id, principal_id=None, source="dcr", metadata_=metadata,
                            secret_hash=secret_hash, created_at=utcnow()))

    # -- grants ------------------------------------------------------------------------------------

    async def grant(self, principal_id: str, scopes: list[str], decided_by: str) -> PrincipalRecord:
        """Approve `scopes` for the principal at once (admin decision)."""
        async with self.store.writing() as s, s.begin():
            return await grant_in(s, principal_id, scopes, decided_by)

    async def revoke_grant(self, principal_id: str, scopes: list[str], decided_by: str) -> PrincipalRecord:
        async with self.store.writing() as s, s.begin():
            row = await _principal(s, principal_id)
            now = utcnow()
            await s.execute(
                update(GrantRow)
                .where(GrantRow.principal_id == principal_id, GrantRow.scope.in_(scopes), GrantRow.state == "approved")
                .values(state="revoked", decided_by=decided_by, decided_at=now, updated_at=now)
            )
            row.updated_at = now
            await s.flush()
            return record(row, await _approved_scopes(s, principal_id))

    async def changed_since(self, since: datetime | None) -> list[PrincipalRecord]:
        """Principals (with their approved scopes) changed after `since`; all of them when None."""
        async with self.store.reading() as s:
            query = select(PrincipalRow)
            if since is not None:
                query = query.where(PrincipalRow.updated_at > since)
            rows = list((await s.scalars(query)).all())
            grants = await _approved_scopes_of(s, [r.id for r in rows])
            return [record(r, grants.get(r.id, ())) for r in rows]

    # -- revocations -------------------------------------------------------------------------------

    async def revocations_since(self, since: datetime | None) -> list[tuple[str, datetime]]:
        """(key, revoked_at) of the revocations still in force that were made after `since`."""
        now = utcnow()
        async with self.store.reading() as s:
            query = select(RevocationRow.key, RevocationRow.revoked_at).where(RevocationRow.expires_at > now)
            if since is not None:
                query = query.where(RevocationRow.revoked_at > since)
            return [(key, at) for key, at in (await s.execute(query)).all()]

    async def prune(self) -> None:
        """Drop revocations and one-time records that can no longer matter."""
        cutoff = utcnow() - timedelta(minutes=5)
        async with self.store.writing() as s, s.begin():
            await s.execute(delete(RevocationRow).where(RevocationRow.expires_at < cutoff))
            await s.execute(delete(SeenAssertionRow).where(SeenAssertionRow.expires_at < cutoff))
            await s.execute(delete(AuthCodeRow).where(AuthCodeRow.expires_at < cutoff - timedelta(hours=1)))
            await s.execute(delete(RefreshTokenRow).where(RefreshTokenRow.expires_at < cutoff))

    # -- keys and secrets --------------------------------------------------------------------------

    async def signing_keys(self) -> list[SigningKeyRow]:
        async with self.store.reading() as s:
            return list((await s.scalars(select(SigningKeyRow).order_by(SigningKeyRow.created_at))).all())

    async def add_signing_key(self, kid: str, alg: str, private_jwk: dict[str, Any], retire_others: bool) -> None:
        async with self.store.writing() as s, s.begin():
            now = utcnow()
            if retire_others:
                await s.execute(update(SigningKeyRow).where(SigningKeyRow.state == "active")
                                .values(state="retired", retired_at=now))
            s.add(SigningKeyRow(kid=kid, alg=alg, private_jwk=private_jwk, state="active", created_at=now))

    async def drop_signing_keys_retired_before(self, cutoff: datetime) -> None:
        async with self.store.writing() as s, s.begin():
            await s.execute(delete(SigningKeyRow).where(SigningKeyRow.state == "retired",
                                                        SigningKeyRow.retired_at < cutoff))

    async def hub_secret(self, name: str) -> str:
        """A named random secret shared by every replica; created on first use."""
        async with self.store.reading() as s:
            row = await s.get(HubSecretRow, name)
            if row is not None:
                return row.value
        try:
            async with self.store.writing() as s, s.begin():
                s.add(HubSecretRow(name=name, value=secrets.token_urlsafe(48), created_at=utcnow()))
        except IntegrityError:
            pass  # another replica created it first: use theirs
        async with self.store.reading() as s:
            row = await s.get(HubSecretRow, name)
            assert row is not None
            return row.value

    # -- the authorization server's synchronous callbacks run inside this --------------------------

    async def run_sync(self, fn: Callable[[Session], T]) -> T:
        """Run `fn(session)` in one write transaction; `fn` is synchronous code (authlib's grants)."""
        async with self.store.writing() as s, s.begin():
            return await s.run_sync(fn)


async def grant_in(s: Any, principal_id: str, scopes: list[str], decided_by: str,
                   reason: str | None = None) -> PrincipalRecord:
    """Approve `scopes` inside the caller's write transaction (an access request's approval uses it)."""
    row = await _principal(s, principal_id)
    have = set(await _approved_scopes(s, principal_id))
    now = utcnow()
    for scope in scopes:
        if scope not in have:
            s.add(_approved(principal_id, scope, decided_by, now, reason))
    row.updated_at = now
    await s.flush()
    return record(row, await _approved_scopes(s, principal_id))


def _approved(principal_id: str, scope: str, decided_by: str, now: datetime, reason: str | None = None) -> GrantRow:
    return GrantRow(
        id=secrets.token_hex(16), principal_id=principal_id, scope=scope, state="approved", reason=reason,
        decided_by=decided_by, decided_at=now, created_at=now, updated_at=now,
    )


async def _principal(s: Any, principal_id: str) -> PrincipalRow:
    row = await s.get(PrincipalRow, principal_id)
    if row is None:
        raise NotFound(f"no principal {principal_id!r}")
    return row


async def _touch(s: Any, principal_id: str) -> None:
    await s.execute(update(PrincipalRow).where(PrincipalRow.id == principal_id).values(updated_at=utcnow()))


async def _approved_scopes(s: Any, principal_id: str) -> list[str]:
    return (await _approved_scopes_of(s, [principal_id])).get(principal_id, [])


async def _approved_scopes_of(s: Any, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not ids:
        return out
    for chunk in range(0, len(ids), 500):
        query = select(GrantRow.principal_id, GrantRow.scope).where(
            GrantRow.principal_id.in_(ids[chunk:chunk + 500]), GrantRow.state == "approved")
        for pid, scope in (await s.execute(query)).all():
            out.setdefault(pid, []).append(scope)
    return out
