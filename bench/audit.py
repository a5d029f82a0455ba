"""What an audit record costs: appends committed per second, sequentially and from concurrent callers.

    python bench/audit.py [--records 2000] [--concurrency 1,16] [--database-url postgresql://…]

Each `record()` returns only after its row is committed (the gateway awaits it before answering a call),
so the sequential figure is the latency a call pays; concurrent callers share group commits. Runs on a
fresh SQLite file by default, or on the PostgreSQL database named (its audit tables are appended to).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.catalog.store import Store  # noqa: E402
from hub.gateway.audit import AuditEntry, AuditLog  # noqa: E402
from hub.gateway.audit_read import verify  # noqa: E402


def entry(i: int) -> AuditEntry:
    return AuditEntry(principal="bench", action="tools/call", target="up.echo", decision="allow", outcome="ok",
                      latency_ms=1.0, definition_hash="sha256:" + "d" * 64, argument_digest=f"sha256:{i:064x}")


async def run(url: str, records: int, concurrency: int) -> dict[str, float]:
    store = await Store.open(url)
    log = AuditLog(store)
    await log.start()
    try:
        for i in range(50):  # warm-up: connections, statement caches
            await log.record(entry(i))
        latencies: list[float] = []
        per_worker = max(1, records // concurrency)

        async def worker() -> None:
            for i in range(per_worker):
                started = time.perf_counter()
                await log.record(entry(i))
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        await log.close()
    result = await verify(store)
    await store.close()
    latencies.sort()
    return {"records_per_s": len(latencies) / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000, "chain_ok": float(result.ok)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/hub.db"
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+asyncpg://" + url.split("://", 1)[1]
        print(f"audit appends on {url.split('://', 1)[0]}, {args.records} records per run")
        print("callers  records/s  p50 ms  p99 ms  chain")
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            figures = asyncio.run(run(url, args.records, concurrency))
            print(f"{concurrency:>7}  {figures['records_per_s']:>9.0f}  {figures['p50_ms']:>6.2f}  "
                  f"{figures['p99_ms']:>6.2f}  {'ok' if figures['chain_ok'] else 'BROKEN'}")


if __name__ == "__main__":
    main()
