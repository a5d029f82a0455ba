"""The gateway as deployed: `hub serve` processes, an upstream process, Redis and PostgreSQL, all on loopback.

No mocks and no in-process hub: two replicas share one Redis rate limit, a hub whose Redis dies refuses calls
(fail closed) and recovers when it is back, and a hub killed with SIGKILL under load leaves an intact audit chain
holding every call it acknowledged. Calls are plain 2026-07-28 stateless POSTs to /mcp. Every process started
here runs in its own session and is stopped by the `procs` fixture, whatever the outcome.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.gateway.processes import (
    REDIS_URL,
    TOOL,
    Processes,
    access_token,
    audit_records,
    call,
    create_principal,
    digest,
    echoed,
    message,
    register_upstream,
    start_hub,
    start_redis,
    start_upstream,
    traceparent,
    wait_callable,
)
from tests.harness import ROOT, free_port

# ---------------------------------------------------------------------------------------------- 1. shared limit


@dataclass
class Tally:
    admitted: int = 0
    refused: int = 0
    refused_at: list[float] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


async def test_two_hub_processes_share_one_redis_limit(
    tmp_path: Path, fresh_postgres: str, shared_redis: redis.Redis, procs: Processes
) -> None:
    """Two replicas (one PostgreSQL, one Redis) hammered together admit one principal's limit between them."""
    per_s, burst, seconds = 10.0, 10, 3.0
    env = {"HUB_DATABASE_URL": fresh_postgres, "HUB_REDIS_URL": REDIS_URL, "HUB_RATE_LIMIT": "",
           "HUB_TOOL_RATE_LIMIT": f"{per_s:g}/s burst {burst}", "HUB_CATALOG_WATCH_S": "0.2",
           "HUB_IDENTITY_REFRESH_S": "0.2"}
    upstream = await start_upstream(procs)
    one = await start_hub(procs, "hub1", tmp_path / "hub1", **env)  # one at a time: both would migrate the schema
    two = await start_hub(procs, "hub2", tmp_path / "hub2", **env)
    await register_upstream(one, upstream)  # the second replica connects it from the shared catalog
    hubs = (one, two)
    first = await create_principal(one, [f"tool:{TOOL}"])  # fresh ids: their Redis buckets start full
    second = await create_principal(one, [f"tool:{TOOL}"])
    try:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=32)) as http:
            for hub in hubs:
                await wait_callable(hub, http)  # as the admin: the principals' buckets stay untouched
            tokens = [await access_token(hub, first) for hub in hubs]
            second_token = await access_token(two, second)

            tallies = [Tally(), Tally()]
            loop = asyncio.get_running_loop()

            async def worker(i: int, until: float) -> None:
                hub, tally, n = hubs[i], tallies[i], 0
                while loop.time() < until:
                    n += 1
                    text = f"{i}-{n}-{secrets.token_hex(4)}"
                    response = await call(http, hub, tokens[i], {"text": text})
                    if echoed(response, text):
                        tally.admitted += 1
                    elif (response.status_code == 429 and message(response)["error"]["code"] == -31029
                          and int(response.headers["retry-after"]) >= 1):
                        tally.refused += 1
                        tally.refused_at.append(loop.time())
                    else:
                        tally.unexpected.append(f"{response.status_code} {response.text[:300]}")

            async def other_principal(at: float) -> tuple[float, httpx.Response]:
                await asyncio.sleep(at - loop.time())
                return loop.time(), await call(http, two, second_token, {"text": "unaffected"})

            start = loop.time()
            until = start + seconds
            results = await asyncio.gather(*(worker(i % 2, until) for i in range(8)),
                                           other_principal(start + seconds / 2))
            elapsed = loop.time() - start
            probed_at, probe = results[-1]

        total = sum(t.admitted for t in tallies)
        limit = burst + per_s * elapsed
        print(f"\nadmitted {total} ({tallies[0].admitted} + {tallies[1].admitted}), refused "
              f"{tallies[0].refused} + {tallies[1].refused}, in {elapsed:.2f} s; limit {limit:.1f}")
        assert not tallies[0].unexpected and not tallies[1].unexpected, (tallies[0].unexpected[:3],
                                                                          tallies[1].unexpected[:3])
        assert total <= limit * 1.05, (total, limit, elapsed)
        assert total >= burst  # the limit, not an outage, is what stopped them
        assert tallies[0].refused and tallies[1].refused  # both replicas enforced the one shared bucket
        # The other principal was admitted while the first was being refused on both replicas.
        assert echoed(probe, "unaffected"), (probe.status_code, probe.text)
        assert any(probed_at - 0.5 < t <= probed_at for t in tallies[0].refused_at + tallies[1].refused_at)

        # Both replicas appended to one audit chain: every decision is in it, and it verifies.
        records = await audit_records(two, principal=first["id"], action="tools/call")
        decisions = [r["decision"] for r in records]
        assert decisions.count("allow") == total
        assert decisions.count("rate_limited") == sum(t.refused for t in tallies)
        async with one.admin() as http:
            verified = (await http.get("/api/v1/audit/verify")).json()
        assert verified["ok"], verified
    finally:
        for principal in (first, second):  # only the keys this test made (they would expire in seconds anyway)
            keys = list(shared_redis.scan_iter(match=f"hub:rl:*{principal['id']}*"))
            if keys:
                shared_redis.delete(*keys)


# ---------------------------------------------------------------------------------------------- 2. Redis outage


async def test_a_hub_whose_redis_dies_refuses_calls_and_recovers(tmp_path: Path, procs: Processes) -> None:
    """Redis killed: calls are refused at once with a clear error and audited; Redis back: calls pass again."""
    redis_port = free_port()
    start_redis(procs, "redis", redis_port)
    upstream = await start_upstream(procs)
    hub = await start_hub(procs, "hub", tmp_path / "hub", HUB_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
                          HUB_RATE_LIMIT="100/s", HUB_TOOL_RATE_LIMIT="100/s")
    await register_upstream(hub, upstream)
    principal = await create_principal(hub, [f"tool:{TOOL}"])
    token = await access_token(hub, principal)
    async with httpx.AsyncClient(timeout=30) as http:
        assert echoed(await call(http, hub, token, {"text": "before"}), "before")

        procs.kill("redis")
        refused_traces: list[str] = []
        for i in range(3):  # every call while Redis is gone: refused, never admitted
            header, trace = traceparent()
            t0 = time.monotonic()
            response = await call(http, hub, token, {"text": f"during {i}"}, trace=header)
            took = time.monotonic() - t0
            assert took < 5.0, f"the refusal took {took:.1f} s"
            assert response.status_code == 503, (response.status_code, response.text)
            error = message(response)["error"]
            assert error["code"] == -32603 and "rate limiter" in error["message"], error
            assert "result" not in message(response)
            assert "Traceback" not in response.text and str(redis_port) not in response.text  # nothing internal
            refused_traces.append(trace)

        records = await audit_records(hub, principal=principal["id"], action="tools/call")
        unavailable = {r["trace_id"]: r for r in records if r["decision"] == "unavailable"}
        assert set(refused_traces) <= set(unavailable), records
        assert all(unavailable[t]["outcome"] is None for t in refused_traces)

        start_redis(procs, "redis-again", redis_port)  # back on the same address: the hub reconnects by itself
        assert echoed(await call(http, hub, token, {"text": "after"}), "after")
        assert echoed(await call(http, hub, token, {"text": "after 2"}), "after 2")
        decisions = [r["decision"] for r in await audit_records(hub, principal=principal["id"], action="tools/call")]
        assert decisions == ["allow", "unavailable", "unavailable", "unavailable", "allow", "allow"]
    assert "Traceback" not in procs.log("hub", lines=10_000)  # an outage is an expected condition, not a crash


# ---------------------------------------------------------------------------------------------- 3. kill -9


@dataclass
class Load:
    acked: dict[str, str] = field(default_factory=dict)  # trace id -> argument digest of every acknowledged call
    errors_before_kill: list[str] = field(default_factory=list)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    return {"HUB_DATABASE_URL": request.getfixturevalue("fresh_postgres")}


def hub_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


async def test_sigkill_under_load_loses_no_acknowledged_call(
    tmp_path: Path, database_env: dict[str, str], procs: Processes
) -> None:
    """Every call the hub answered before a kill -9 is in the audit log, and the chain still verifies."""
    upstream = await start_upstream(procs)
    hub = await start_hub(procs, "hub", tmp_path / "hub", HUB_RATE_LIMIT="", HUB_TOOL_RATE_LIMIT="",
                          **database_env)
    await register_upstream(hub, upstream)
    principal = await create_principal(hub, [f"tool:{TOOL}"])
    token = await access_token(hub, principal)
    load = Load()
    killed = asyncio.Event()

    async def client(http: httpx.AsyncClient, w: int) -> None:
        n = 0
        while not killed.is_set():
            n += 1
            arguments = {"text": f"client {w} call {n} {uuid.uuid4().hex}"}
            header, trace = traceparent()
            try:
                response = await call(http, hub, token, arguments, trace=header, request_id=n)
            except httpx.TransportError as exc:
                if not killed.is_set():
                    load.errors_before_kill.append(f"{type(exc).__name__}: {exc}")
                return
            if echoed(response, arguments["text"]):
                load.acked[trace] = digest(arguments)
            elif not killed.is_set():
                load.errors_before_kill.append(f"{response.status_code} {response.text[:300]}")

    async def killer(after_s: float) -> None:
        await asyncio.sleep(after_s)
        os.kill(hub.proc.pid, signal.SIGKILL)
        killed.set()

    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        await asyncio.wait_for(asyncio.gather(killer(2.0), *(client(http, w) for w in range(16))), 60)
    assert hub.proc.wait(10) == -signal.SIGKILL
    assert not load.errors_before_kill, load.errors_before_kill[:3]
    assert len(load.acked) > 50

    env = {k: v for k, v in hub.env.items() if k in ("HUB_DATA_DIR", "HUB_DATABASE_URL")}
    verified = hub_cli(env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit chain ok" in verified.stdout

    exported = hub_cli(env, "audit", "export", "--action", "tools/call", "--principal", principal["id"])
    assert exported.returncode == 0, exported.stderr
    records: dict[str, dict[str, Any]] = {}
    for line in exported.stdout.splitlines():
        record = json.loads(line)
        assert record["trace_id"] not in records  # one record per call
        records[record["trace_id"]] = record
    print(f"\n{len(records)} calls audited, {len(load.acked)} acknowledged")
    missing = [trace for trace in load.acked if trace not in records]
    assert not missing, f"{len(missing)} acknowledged call(s) have no audit record, e.g. {missing[:3]}"
    for trace, argument_digest in load.acked.items():
        record = records[trace]
        assert (record["decision"], record["outcome"], record["target"]) == ("allow", "ok", TOOL), record
        assert record["argument_digest"] == argument_digest, record
