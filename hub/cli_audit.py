"""`hub audit verify` and `hub audit export`: the audit log straight from the database.

They open the database named by the settings (HUB_DATABASE_URL, or the SQLite file under the data dir)
rather than a running hub's API: the chain can be checked, and kept, while no hub is up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

# hub.cli imports this module only when it builds its parser, so the import below is not circular.
from hub.cli import _settings


def _instant(value: str) -> datetime:
    """argparse type: an ISO 8601 date-time, UTC when it has no offset."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _with_store(args: argparse.Namespace, work: Callable[[Any], Awaitable[int]]) -> int:
    from hub.catalog.store import Store

    settings = _settings(args)
    if not settings.database_url and not (settings.data_dir / "hub.db").exists():
        print(f"hub audit: no database at {settings.data_dir / 'hub.db'} (set HUB_DATABASE_URL or --data-dir)",
              file=sys.stderr)
        return 2

    async def run() -> int:
        store = await Store.open(settings.sqlalchemy_url)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def audit_verify(args: argparse.Namespace) -> int:
    """Exit 0 when the whole chain verifies, 1 when it is broken."""
    from hub.gateway.audit_read import verify

    async def work(store: Any) -> int:
        result = await verify(store)
        if args.json:
            print(json.dumps(result.to_json(), indent=2))
        elif result.ok:
            print(f"audit chain ok: {result.count} records, head seq {result.head_seq} hash {result.head_hash}")
        else:
            print(f"audit chain BROKEN at seq {result.first_broken_seq}: {result.message} "
                  f"({result.count} records verified before it)")
        return 0 if result.ok else 1

    return _with_store(args, work)


def audit_export(args: argparse.Namespace) -> int:
    """Every matching record as JSON lines on stdout, hashes included (re-verifiable elsewhere)."""
    from hub.gateway.audit_read import iter_records

    async def work(store: Any) -> int:
        filters = {name: getattr(args, name) for name in ("principal", "action", "target", "decision", "since",
                                                           "until")}
        out = sys.stdout
        async for record in iter_records(store, **filters, after_seq=args.after_seq):
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        out.flush()
        return 0

    return _with_store(args, work)


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    au = sub.add_parser("audit", help="the hash-chained audit log").add_subparsers(dest="audit_command", required=True)
    p = au.add_parser("verify", help="recompute the hash chain (exit 1 if any record was altered or removed)")
    common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=audit_verify)
    p = au.add_parser("export", help="write records as JSON lines to stdout")
    common(p)
    p.add_argument("--since", type=_instant, help="from this ISO 8601 time (inclusive; UTC without an offset)")
    p.add_argument("--until", type=_instant, help="before this ISO 8601 time")
    p.add_argument("--after-seq", dest="after_seq", type=int, help="only records after this seq")
    for name in ("principal", "action", "target", "decision"):
        p.add_argument(f"--{name}")
    p.set_defaults(func=audit_export)
