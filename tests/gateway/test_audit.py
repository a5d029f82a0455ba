"""The hash-chained audit log on SQLite and PostgreSQL (the ``store`` fixture runs each test on both)."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.server.auth.provider import AccessToken
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.catalog.store import Store
from hub.cli_audit import register
from hub.gateway import audit as audit_module
from hub.gateway.audit import (
    GENESIS,
    AuditEntry,
    AuditError,
    AuditLog,
    argument_digest,
)
from hub.gateway.audit_read import iter_records, query, verify
from hub.identity.bearer import HubUser
from hub.identity.principal import Principal
from hub.surfaces.api_audit import AuditApi

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


async def reset_audit(store: Store) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_log"))
        await conn.execute(text("DELETE FROM audit_head"))
        await conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"), {"h": GENESIS})


@pytest.fixture
async def audit_store(store: Store) -> Store:
    """The catalog store with an empty audit log (the PostgreSQL database is shared by the whole session)."""
    await reset_audit(store)
    return store


@pytest.fixture
async def log(audit_store: Store) -> AsyncIterator[AuditLog]:
    audit = AuditLog(audit_store)
    await audit.start()
    yield audit
    await audit.close()


def entry(n: int = 0, **kw: Any) -> AuditEntry:
    values: dict[str, Any] = dict(principal=f"agent-{n % 3}", action="tools/call", target=f"files.read_{n % 2}",
                                  decision="allow", outcome="ok", latency_ms=1.5 + n,
                                  definition_hash="sha256:" + "a" * 64, argument_digest=argument_digest({"n": n}),
                                  trace_id=f"{n:032x}", detail={"n": n})
    values.update(kw)
    return AuditEntry(**values)


async def execute(store: Store, sql: str, **params: Any) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(text(sql), params)


# -- appending ---------------------------------------------------------------------------------------------


async def test_records_get_contiguous_seqs_and_read_back_as_hashed(log: AuditLog, audit_store: Store) -> None:
    odd = entry(0, principal="ünïcode ✓", target=None, outcome=None, latency_ms=None, definition_hash=None,
                detail={"nested": {"b": [1, 2.5, None, True], "a": "é"}, "big": 2**53 + 1}, at=T0)
    seqs = [await log.record(odd)] + [await log.record(entry(n)) for n in range(1, 5)]
    assert seqs == [1, 2, 3, 4, 5]

    result = await verify(audit_store)
    assert result.ok and result.count == 5 and result.head_seq == 5 and result.first_broken_seq is None
    [first] = await query(audit_store, limit=1)
    assert first["principal"] == "ünïcode ✓" and first["target"] is None
    assert first["at"] == "2026-03-01T12:00:00.123456+00:00"
    assert first["detail"] == {"nested": {"b": [1, 2.5, None, True], "a": "é"}, "big": 2**53 + 1}
    assert first["prev_hash"] == GENESIS and len(first["hash"]) == 64


async def test_entries_are_normalised_so_every_backend_reads_back_what_was_hashed(log: AuditLog,
                                                                                   audit_store: Store) -> None:
    odd = entry(0, principal="p\x00" + "x" * 500, latency_ms=float("nan"), detail={"t": (1, 2), "k": {1: "v"}},
                at=datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))))
    assert "\x00" not in odd.principal and len(odd.principal) == 200
    assert odd.latency_ms is None and odd.detail == {"t": [1, 2], "k": {"1": "v"}}
    assert odd.at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC) and odd.at.tzinfo is UTC
    assert entry(0, latency_ms=3).latency_ms == 3.0
    await log.record(odd)
    assert (await verify(audit_store)).ok

    with pytest.raises(ValueError):
        entry(0, at=datetime(2026, 3, 1))  # naive
    with pytest.raises(ValueError):
        entry(0, detail={"x": float("nan")})
    with pytest.raises(ValueError):
        entry(0, detail={"x": "y" * 20_000})
    with pytest.raises(TypeError):
        entry(0, detail={"x": object()})
    with pytest.raises(ValueError):
        entry(0, decision="")


async def test_200_concurrent_records_form_one_chain(log: AuditLog, audit_store: Store) -> None:
    seqs = await asyncio.gather(*(log.record(entry(n)) for n in range(200)))
    assert sorted(seqs) == list(range(1, 201))
    result = await verify(audit_store)
    assert result.ok and result.count == 200 and result.head_seq == 200


async def test_two_replicas_appending_concurrently_extend_one_chain(audit_store: Store, store_url: str) -> None:
    other = await Store.open(store_url)  # a second process's engine and pool
    a, b = AuditLog(audit_store, max_batch=7), AuditLog(other, max_batch=5)
    await a.start()
    await b.start()
    try:
        from_a, from_b = await asyncio.gather(
            asyncio.gather(*(a.record(entry(n, principal="replica-a")) for n in range(100))),
            asyncio.gather(*(b.record(entry(n, principal="replica-b")) for n in range(100))),
        )
    finally:
        await a.close()
        await b.close()
        await other.close()
    assert not set(from_a) & set(from_b)
    assert sorted(from_a + from_b) == list(range(1, 201))
    result = await verify(audit_store)
    assert result.ok and result.count == 200
    by_a = await query(audit_store, principal="replica-a", limit=1000)
    assert [r["seq"] for r in by_a] == sorted(from_a)


async def test_close_writes_everything_queued_first(audit_store: Store) -> None:
    audit = AuditLog(audit_store, max_batch=4)
    await audit.start()
    queued = [asyncio.create_task(audit.record(entry(n))) for n in range(50)]
    waiting = [asyncio.create_task(audit.record(entry(n))) for n in range(50, 60)]
    await asyncio.sleep(0)  # let the tasks queue their entries
    await audit.close()
    assert sorted([await t for t in waiting]) == list(range(51, 61))
    result = await verify(audit_store)
    assert result.ok and result.count == 60
    with pytest.raises(AuditError):
        await audit.record(entry(0))
    assert sorted([await t for t in queued]) == list(range(1, 51))
    await audit.close()  # idempotent


async def test_a_failed_write_fails_its_callers_and_the_writer_keeps_going(log: AuditLog,
                                                                             audit_store: Store) -> None:
    assert await log.record(entry(1)) == 1
    await execute(audit_store, "DELETE FROM audit_head")
    with pytest.raises(AuditError, match="audit_head"):
        await log.record(entry(2))
    await execute(audit_store, "INSERT INTO audit_head (id, seq, hash) SELECT 1, seq, hash FROM audit_log")
    assert await log.record(entry(3)) == 2
    assert (await verify(audit_store)).ok


async def test_a_real_database_error_reaches_the_caller(log: AuditLog, audit_store: Store) -> None:
    await log.record(entry(1))
    # A row past the head, as if inserted behind the log's back: the next append collides with it.
    await execute(audit_store, "INSERT INTO audit_log (seq, at, principal, action, decision, prev_hash, hash) "
                               "SELECT 2, at, principal, action, decision, hash, hash FROM audit_log WHERE seq = 1")
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await log.record(entry(2))
    result = await verify(audit_store)
    assert not result.ok and result.first_broken_seq == 2 and "past the head" in result.message
    await execute(audit_store, "DELETE FROM audit_log WHERE seq = 2")
    assert await log.record(entry(3)) == 2


async def test_on_sqlite_a_lone_record_never_stalls_the_event_loop(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A record taken on the loop itself must not wait there for a lock another writer holds."""
    monkeypatch.setattr(audit_module, "IDLE_S", 0.0)  # every record finds the log idle
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    audit = AuditLog(store)
    await audit.start()
    try:
        assert await audit.record(entry(1)) == 1
        other = sqlite3.connect(tmp_path / "hub.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
        pending = asyncio.create_task(audit.record(entry(2)))
        started = time.monotonic()
        for _ in range(10):  # the loop keeps turning while the record waits for the lock
            await asyncio.sleep(0.01)
        assert time.monotonic() - started < 2 and not pending.done()
        other.execute("ROLLBACK")
        other.close()
        assert await asyncio.wait_for(pending, 30) == 2
        for n in range(3, 501):  # lone records, one after another: every hundredth checkpoints the WAL
            assert await audit.record(entry(n)) == n
        assert audit._sqlite is not None and audit._sqlite._turns >= 499  # all were offered to the loop's path
        # (without the thread's turns the WAL would only grow: about 12 MiB by now)
        assert (tmp_path / "hub.db-wal").stat().st_size < 8 * 2**20
    finally:
        await audit.close()
        await store.close()
    reopened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    try:
        result = await verify(reopened)
        assert result.ok and result.count == 500
    finally:
        await reopened.close()


async def test_record_before_start_is_refused(audit_store: Store) -> None:
    with pytest.raises(AuditError):
        await AuditLog(audit_store).record(entry(0))


# -- verification ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tamper", "broken", "words"),
    [
        ("UPDATE audit_log SET decision = 'deny' WHERE seq = 3", 3, "altered"),
        ("UPDATE audit_log SET detail = NULL WHERE seq = 4", 4, "altered"),
        ("UPDATE audit_log SET hash = :fake WHERE seq = 3", 3, "altered"),
        ("UPDATE audit_log SET prev_hash = :fake WHERE seq = 5", 5, "does not link"),
        ("DELETE FROM audit_log WHERE seq = 3", 3, "missing"),
        ("DELETE FROM audit_log WHERE seq = 6", 6, "missing"),
        ("UPDATE audit_head SET hash = :fake", 6, "head"),
        ("UPDATE audit_log SET seq = 0 WHERE seq = 1", 1, "missing"),
    ],
)
async def test_verify_finds_the_first_broken_record(log: AuditLog, audit_store: Store, tamper: str, broken: int,
                                                    words: str) -> None:
    for n in range(6):
        await log.record(entry(n))
    assert (await verify(audit_store)).ok
    await execute(audit_store, tamper, **({"fake": "f" * 64} if ":fake" in tamper else {}))
    result = await verify(audit_store, page_size=2)  # small pages: the walk crosses page boundaries
    assert not result.ok
    assert result.first_broken_seq == broken
    assert words in result.message
    assert result.count == (6 if "audit_head" in tamper else broken - 1)  # records that verified before the break


async def test_verify_of_an_empty_log(audit_store: Store) -> None:
    result = await verify(audit_store)
    assert result.ok and result.count == 0 and result.head_seq == 0 and result.head_hash == GENESIS


# -- queries -----------------------------------------------------------------------------------------------


async def test_query_filters_and_pages(log: AuditLog, audit_store: Store) -> None:
    for n in range(30):
        decision = "deny" if n % 5 == 0 else "allow"
        await log.record(entry(n, decision=decision, at=T0 + timedelta(minutes=n)))

    assert [r["seq"] for r in await query(audit_store, principal="agent-1")] == list(range(2, 31, 3))
    denied = await query(audit_store, decision="deny", target="files.read_0")
    assert [r["seq"] for r in denied] == [1, 11, 21]
    window = await query(audit_store, since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=15))
    assert [r["seq"] for r in window] == [11, 12, 13, 14, 15]
    assert await query(audit_store, action="access_request.approve") == []

    seen: list[int] = []
    after = None
    while page := await query(audit_store, principal="agent-0", after_seq=after, limit=4):
        seen += [r["seq"] for r in page]
        after = page[-1]["seq"]
    assert seen == list(range(1, 31, 3))
    streamed = [r["seq"] async for r in iter_records(audit_store, decision="allow", page_size=7)]
    assert streamed == [n + 1 for n in range(30) if n % 5]
    assert len([r async for r in iter_records(audit_store, limit=12, page_size=5)]) == 12

    with pytest.raises(ValueError):
        await query(audit_store, limit=0)
    with pytest.raises(ValueError):
        await query(audit_store, since=datetime(2026, 1, 1))


def test_argument_digest_is_stable_and_reveals_nothing() -> None:
    args = {"path": "/etc/passwd", "token": "hunter2", "opts": {"b": 1, "a": [1, "ü"]}}
    digest = argument_digest(args)
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert int(digest.removeprefix("sha256:"), 16) >= 0
    assert "hunter2" not in digest and "passwd" not in digest
    assert argument_digest({"opts": {"a": [1, "ü"], "b": 1}, "token": "hunter2", "path": "/etc/passwd"}) == digest
    assert argument_digest({**args, "token": "hunter3"}) != digest
    # Pinned: the spelling is sorted keys, no spaces, raw UTF-8, so another implementation can reproduce it.
    assert argument_digest({"b": 1, "a": "é"}) == "sha256:" + hashlib.sha256('{"a":"é","b":1}'.encode()).hexdigest()
    assert argument_digest(None) != argument_digest({})


# -- REST --------------------------------------------------------------------------------------------------


class _TestAuth:
    """Stands in for the hub's bearer middleware: the token names the principal (admin or not)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = dict(scope.get("headers", [])).get(b"authorization", b"").decode().removeprefix("Bearer ")
        if token:
            scopes = frozenset({"admin"} if token == "admin" else {"tool:*"})
            principal = Principal(id=token, name=token, scopes=scopes)
            scope["user"] = HubUser(principal, AccessToken(token=token, client_id=token, scopes=sorted(scopes)))
        await self.app(scope, receive, send)


def _client(store: Store, token: str = "admin") -> httpx.AsyncClient:
    app = _TestAuth(Starlette(routes=AuditApi(store).routes()))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test",
                             headers={"Authorization": f"Bearer {token}"})


async def test_rest_lists_streams_and_verifies(log: AuditLog, audit_store: Store) -> None:
    for n in range(25):
        await log.record(entry(n, at=T0 + timedelta(seconds=n)))
    async with _client(audit_store) as http:
        seqs: list[int] = []
        params: dict[str, Any] = {"principal": "agent-2", "limit": 3}
        while True:
            response = await http.get("/api/v1/audit", params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            seqs += [r["seq"] for r in body["records"]]
            if not body["next_cursor"]:
                break
            params["cursor"] = body["next_cursor"]
        assert seqs == list(range(3, 26, 3))

        since = (T0 + timedelta(seconds=20)).isoformat()
        window = await http.get("/api/v1/audit", params={"since": since})
        assert [r["seq"] for r in window.json()["records"]] == [21, 22, 23, 24, 25]
        assert window.json()["next_cursor"] is None

        lines = await http.get("/api/v1/audit", params={"format": "jsonl", "until": since})
        assert lines.headers["content-type"].startswith("application/x-ndjson")
        records = [json.loads(line) for line in lines.text.splitlines()]
        assert [r["seq"] for r in records] == list(range(1, 21)) and "hash" in records[0]
        ndjson = await http.get("/api/v1/audit", headers={"Accept": "application/x-ndjson"})
        every = [json.loads(line) for line in ndjson.text.splitlines()]
        assert len(every) == 25

        verified = await http.get("/api/v1/audit/verify")
        assert verified.json() == {"ok": True, "count": 25, "head_seq": 25, "head_hash": every[-1]["hash"],
                                   "first_broken_seq": None, "message": "the chain is intact"}

        for bad in ({"since": "yesterday"}, {"limit": "0"}, {"limit": "1001"}, {"limit": "x"},
                    {"cursor": "bm90LWEtY3Vyc29y"}, {"cursor": "!!"}, {"format": "xml"}):
            response = await http.get("/api/v1/audit", params=bad)
            assert response.status_code == 400, bad
            assert response.headers["content-type"] == "application/problem+json"

    await execute(audit_store, "UPDATE audit_log SET outcome = 'error' WHERE seq = 7")
    async with _client(audit_store) as http:
        assert (await http.get("/api/v1/audit/verify")).json()["first_broken_seq"] == 7
    async with _client(audit_store, token="someone") as http:
        assert (await http.get("/api/v1/audit")).status_code == 403
        assert (await http.get("/api/v1/audit/verify")).status_code == 403
    async with _client(audit_store, token="") as http:
        assert (await http.get("/api/v1/audit")).status_code == 401


# -- CLI ---------------------------------------------------------------------------------------------------


def test_cli_verify_and_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("HUB_CONFIG_FILE", raising=False)
    data_dir = tmp_path / "hub"
    parser = argparse.ArgumentParser(prog="hub")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub, lambda p: p.add_argument("--data-dir", dest="data_dir"))

    def hub(*argv: str) -> int:
        args = parser.parse_args([*argv, "--data-dir", str(data_dir)])
        return int(args.func(args))

    assert hub("audit", "verify") == 2  # no database yet: said so, not silently created
    assert "no database" in capsys.readouterr().err

    async def fill() -> None:
        store = await Store.open(f"sqlite+aiosqlite:///{data_dir / 'hub.db'}")
        audit = AuditLog(store)
        await audit.start()
        for n in range(5):
            await audit.record(entry(n, at=T0 + timedelta(hours=n)))
        await audit.close()
        await store.close()

    asyncio.run(fill())
    assert hub("audit", "verify") == 0
    assert "ok: 5 records" in capsys.readouterr().out

    assert hub("audit", "export", "--since", (T0 + timedelta(hours=2)).isoformat(), "--action", "tools/call") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["seq"] for r in lines] == [3, 4, 5]

    async def tamper() -> None:
        store = await Store.open(f"sqlite+aiosqlite:///{data_dir / 'hub.db'}")
        await execute(store, "UPDATE audit_log SET principal = 'someone-else' WHERE seq = 2")
        await store.close()

    asyncio.run(tamper())
    assert hub("audit", "verify") == 1
    assert "BROKEN at seq 2" in capsys.readouterr().out
    assert hub("audit", "verify", "--json") == 1
    assert json.loads(capsys.readouterr().out)["first_broken_seq"] == 2
