"""tools/call through the hub vs the same upstream called directly: calls/s, p50 and p99 latency.

    python bench/overhead.py [--seconds 5] [--concurrency 1,8,32] [--json]
    python bench/overhead.py --hub-url http://127.0.0.1:8000 --token "$HUB_TOKEN"   # an already-running hub
    python bench/overhead.py --floor   # also the thinnest proxy on the same stack (bench/floor_proxy.py)

Everything runs as separate processes on loopback: an upstream MCP server over Streamable HTTP
(`python -m tests.upstreams http PORT`, tool `echo`), the hub (`python -m hub.cli serve`, with the upstream
registered as `up`, so its tool is `up.echo`), and, for each measurement, one load-generator process
(`overhead.py worker`): a closed loop of N keep-alive HTTP/1.1 connections on asyncio streams, each sending
the 2026-07-28 stateless `tools/call` POST with hand-built bytes and checking every answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from loadgen import BadAnswer, LoopResult, closed_loop, cpu_description, other_cpu_warning, percentile
from searchbench import Processes, free_port, processes, run_main

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = "overhead"
PROTOCOL_VERSION = "2026-07-28"
ECHO_TEXT = "hello from the bench"
TOKEN_ENV = "BENCH_TOKEN"  # how the worker gets the bearer token (not on its command line)


# ---------------------------------------------------------------------------------------------- load generator


@dataclass
class Target:
    host: str
    port: int
    path: str
    tool: str
    token: str | None

    @classmethod
    def from_url(cls, mcp_url: str, tool: str, token: str | None) -> Target:
        parts = urlsplit(mcp_url)
        if parts.scheme != "http" or not parts.hostname:
            raise SystemExit(f"overhead: only plain http:// URLs are supported, got {mcp_url!r}")
        return cls(parts.hostname, parts.port or 80, parts.path or "/", tool, token)

    def request_parts(self) -> tuple[bytes, bytes, bytes]:
        """Hand-built request bytes around the JSON-RPC id: (head up to Content-Length, body prefix, suffix)."""
        meta = {
            "io.modelcontextprotocol/protocolVersion": PROTOCOL_VERSION,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "overhead-bench", "version": "0"},
        }
        params = {"name": self.tool, "arguments": {"text": ECHO_TEXT}, "_meta": meta}
        suffix = f', "method": "tools/call", "params": {json.dumps(params)}}}'.encode()
        headers = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            "Accept: application/json, text/event-stream",
            f"MCP-Protocol-Version: {PROTOCOL_VERSION}",
            "Mcp-Method: tools/call",
            f"Mcp-Name: {self.tool}",
        ]
        if self.token:
            headers.append(f"Authorization: Bearer {self.token}")
        head = ("\r\n".join(headers) + "\r\nContent-Length: ").encode()
        return head, b'{"jsonrpc": "2.0", "id": ', suffix


class CallFailed(BadAnswer):
    pass


def check_answer(status: int, headers: dict[str, str], body: bytes, request_id: int) -> None:
    """Raise CallFailed unless this is a successful tools/call result echoing our text."""
    if status != 200:
        raise CallFailed(f"HTTP {status}: {body[:200]!r}")
    if headers.get("content-type", "").startswith("text/event-stream"):
        messages = [json.loads(line[5:]) for line in body.decode().splitlines()
                    if line.startswith("data:") and line[5:].strip()]
    else:
        messages = [json.loads(body)]
    answer = next((m for m in messages if isinstance(m, dict) and m.get("id") == request_id), None)
    if answer is None:
        raise CallFailed(f"no answer to request {request_id}: {body[:200]!r}")
    result = answer.get("result")
    if not isinstance(result, dict) or result.get("isError"):
        raise CallFailed(f"not a successful result: {body[:200]!r}")
    content = result.get("content") or [{}]
    if content[0].get("text") != ECHO_TEXT:
        raise CallFailed(f"unexpected content: {content!r}")


async def run_load(target: Target, concurrency: int, warmup_s: float, seconds: float,
                   watch: dict[str, int]) -> LoopResult:
    head, prefix, suffix = target.request_parts()

    def request(request_id: int) -> bytes:
        body = b"%s%d%s" % (prefix, request_id, suffix)
        return b"%s%d\r\n\r\n%s" % (head, len(body), body)

    return await closed_loop(target.host, target.port, concurrency=concurrency, warmup_s=warmup_s, seconds=seconds,
                             request=request, check=check_answer, watch=watch)


def worker_main(args: argparse.Namespace) -> int:
    target = Target.from_url(args.url, args.tool, os.environ.get(TOKEN_ENV) or None)
    watch = {name: int(pid) for name, _, pid in (item.partition("=") for item in args.watch)}
    result = asyncio.run(run_load(target, args.concurrency, args.warmup, args.seconds, watch))
    json.dump(asdict(result), sys.stdout)
    return 0


# ---------------------------------------------------------------------------------------------- processes


@dataclass
class Setup:
    direct_url: str
    hub_mcp_url: str
    hub_token: str
    hub_tool: str
    pids: dict[str, int]  # the processes whose CPU use each measurement reports
    floor_url: str | None = None  # bench/floor_proxy.py in front of the same upstream (--floor)


@contextlib.contextmanager
def environment(args: argparse.Namespace) -> Iterator[tuple[Setup, Processes]]:
    """Start the upstream (and the hub unless --hub-url), register the upstream, tear everything down after."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp, processes(PROGRAM, Path(tmp)) as procs:
        registered: tuple[str, str, str] | None = None  # (hub base URL, token, upstream name) to delete at the end
        try:
            up_port = free_port()
            upstream = procs.start("upstream", [sys.executable, "-m", "tests.upstreams", "http", str(up_port)],
                                   env=dict(os.environ))
            procs.wait_listening("upstream", up_port)
            direct_url = f"http://127.0.0.1:{up_port}/mcp"
            pids = {"upstream": upstream.pid}
            floor_url = None
            if args.floor:
                floor_port = free_port()
                floor = procs.start("floor", [sys.executable, str(Path(__file__).with_name("floor_proxy.py")),
                                              str(floor_port), direct_url], env=dict(os.environ))
                procs.wait_listening("floor", floor_port)
                floor_url, pids["floor"] = f"http://127.0.0.1:{floor_port}/mcp", floor.pid

            if args.hub_url:
                base = args.hub_url.rstrip("/").removesuffix("/mcp")
                token = args.token or os.environ.get("HUB_TOKEN") or ""
                if not token:
                    raise SystemExit("overhead: --hub-url needs --token (or HUB_TOKEN): an admin token")
                name = f"bench{secrets.token_hex(3)}"  # don't collide with what the hub already serves
                if args.hub_pid:
                    pids["hub"] = args.hub_pid
            else:
                hub_port = free_port()
                token = secrets.token_urlsafe(24)
                hub = procs.start("hub", [sys.executable, "-m", "hub.cli", "serve"], env={
                    **os.environ,
                    "HUB_DATA_DIR": str(Path(tmp) / "hub"), "HUB_HOST": "127.0.0.1", "HUB_PORT": str(hub_port),
                    "HUB_ADMIN_TOKEN": token, "HUB_PACKS": "[]", "HUB_LOG_LEVEL": args.hub_log_level,
                    # The limiter runs on every call (its cost is measured) but never refuses the bench.
                    "HUB_RATE_LIMIT": "1000000/s", "HUB_TOOL_RATE_LIMIT": "1000000/s",
                })
                procs.wait_listening("hub", hub_port)
                pids["hub"] = hub.pid
                base = f"http://127.0.0.1:{hub_port}"
                name = "up"

            response = httpx.post(f"{base}/api/v1/upstreams", headers={"Authorization": f"Bearer {token}"},
                                  json={"name": name, "transport": "http", "url": direct_url, "auto_approve": True},
                                  timeout=60)
            if response.status_code != 201:
                raise SystemExit(f"overhead: registering the upstream failed: {response.status_code} {response.text}"
                                 f"\n{procs.log_tail('hub')}")
            registered = (base, token, name)
            wait_until_settled(base, procs)
            yield Setup(direct_url, f"{base}/mcp", token, f"{name}.echo", pids, floor_url), procs
        finally:
            if registered and args.hub_url:
                base, token, name = registered
                with contextlib.suppress(httpx.HTTPError):
                    httpx.delete(f"{base}/api/v1/upstreams/{name}", headers={"Authorization": f"Bearer {token}"},
                                 timeout=10)


def wait_until_settled(base: str, procs: Processes, timeout_s: float = 300) -> None:
    """Wait until the hub's background work (search model load, indexing) is done: it would share the CPU."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            search = httpx.get(f"{base}/readyz", timeout=10).json().get("search")
            if not isinstance(search, dict) or search.get("state") in ("ready", "failed", "off"):
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"overhead: the hub's search did not settle within {timeout_s:g} s\n"
                             f"{procs.log_tail('hub')}")
        time.sleep(0.5)


# ---------------------------------------------------------------------------------------------- measuring


@dataclass
class Figures:
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    calls: int
    errors: int
    first_error: str | None
    cpu_percent: dict[str, float]


def measure(procs: Processes, url: str, tool: str, token: str | None, concurrency: int,
            warmup_s: float, seconds: float, watch: dict[str, int]) -> Figures:
    argv = [sys.executable, str(Path(__file__).resolve()), "worker", "--url", url, "--tool", tool,
            "--concurrency", str(concurrency), "--warmup", str(warmup_s), "--seconds", str(seconds)]
    argv += [f"--watch={name}={pid}" for name, pid in watch.items()]
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, TOKEN_ENV: token or ""}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, start_new_session=True)
    procs.procs["worker"] = proc
    try:
        out, _ = proc.communicate(timeout=warmup_s + seconds + 120)
    finally:
        procs.procs.pop("worker", None)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"overhead: the load generator failed (exit {proc.returncode})")
    result = LoopResult(**json.loads(out))
    latencies = result.latencies_ms
    return Figures(round(result.calls / result.elapsed_s, 1), round(percentile(latencies, 0.50), 3),
                   round(percentile(latencies, 0.99), 3), result.calls, result.errors, result.first_error,
                   result.cpu_percent)


def find_warnings(rows: list[dict[str, Any]]) -> list[str]:
    # A hub we did not start (and were not given the pid of) counts as "other" in its own runs: skip those.
    warning = other_cpu_warning([row[side]["cpu_percent"] for row in rows for side in ("direct", "hub", "floor")
                                 if side in row and (side != "hub" or "hub" in row[side]["cpu_percent"])])
    return [warning] if warning else []


def aligned(table: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return ["  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)) for r in table]


def render(rows: list[dict[str, Any]], setup: dict[str, Any], warnings: list[str]) -> str:
    header = ("conc", "direct/s", "p50 ms", "p99 ms", "hub/s", "p50 ms", "p99 ms", "hub/direct", "+p50 ms", "errors")
    lines = [f"tools/call over {setup['protocol_version']} stateless HTTP: direct = {setup['direct_tool']} "
             f"at {setup['direct_url']}, hub = {setup['hub_tool']} at {setup['hub_url']}",
             f"{setup['seconds']:g} s per measurement after {setup['warmup']:g} s warm-up; "
             f"{setup['cpus']}, one load-generator process per measurement", ""]
    table = [header]
    for row in rows:
        d, h = row["direct"], row["hub"]
        table.append((str(row["concurrency"]), f"{d['calls_per_s']:.0f}", f"{d['p50_ms']:.2f}", f"{d['p99_ms']:.2f}",
                      f"{h['calls_per_s']:.0f}", f"{h['p50_ms']:.2f}", f"{h['p99_ms']:.2f}",
                      "-" if row["throughput_ratio"] is None else f"{row['throughput_ratio']:.2f}",
                      f"{row['added_p50_ms']:+.2f}",
                      f"{d['errors']}/{h['errors']}"))
    lines += aligned(table)
    floors = [row for row in rows if "floor" in row]
    if floors:
        lines += ["", "the floor: the thinnest proxy on the same stack (bench/floor_proxy.py: uvicorn + aiohttp, no "
                  "policy, no audit) in front of the same upstream",
                  *aligned([("conc", "floor/s", "p50 ms", "p99 ms", "floor +p50 ms", "hub +p50 over floor", "errors")]
                           + [(str(row["concurrency"]), f"{row['floor']['calls_per_s']:.0f}",
                               f"{row['floor']['p50_ms']:.2f}", f"{row['floor']['p99_ms']:.2f}",
                               f"{row['floor_added_p50_ms']:+.2f}", f"{row['hub_over_floor_p50_ms']:+.2f}",
                               str(row["floor"]["errors"])) for row in floors])]
    other = "everything else on the machine" + ("" if setup["hub_pid"] else ", the hub included")
    lines += ["", f"CPU during each measured window, % of one core (other = {other}):"]
    names = ["upstream", "hub", *(["floor"] if floors else []), "loadgen", "other"]
    table = [("conc", "run", *names)]
    for row in rows:
        for side in ("direct", "hub", "floor"):
            if side not in row:
                continue
            cpu = row[side]["cpu_percent"]
            table.append((str(row["concurrency"]), side, *(f"{cpu[n]:.0f}" if n in cpu else "-" for n in names)))
    lines += aligned(table)
    lines += [f"warning: {warning}" for warning in warnings]
    for row in rows:
        for side in ("direct", "hub", "floor"):
            if side in row and row[side]["first_error"]:
                lines.append(f"first {side} error at concurrency {row['concurrency']}: {row[side]['first_error']}")
    return "\n".join(lines)


def bench_main(args: argparse.Namespace) -> int:
    concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if not concurrencies or min(concurrencies) < 1:
        raise SystemExit("overhead: --concurrency takes positive integers, e.g. 1,8,32")
    rows: list[dict[str, Any]] = []
    with environment(args) as (setup, procs):
        for concurrency in concurrencies:
            if not args.json:
                print(f"measuring concurrency {concurrency} …", file=sys.stderr, flush=True)
            direct = measure(procs, setup.direct_url, "echo", None, concurrency, args.warmup, args.seconds,
                             setup.pids)
            via_hub = measure(procs, setup.hub_mcp_url, setup.hub_tool, setup.hub_token, concurrency,
                              args.warmup, args.seconds, setup.pids)
            rows.append({
                "concurrency": concurrency,
                "direct": asdict(direct),
                "hub": asdict(via_hub),
                "throughput_ratio": round(via_hub.calls_per_s / direct.calls_per_s, 3) if direct.calls_per_s else None,
                "added_p50_ms": round(via_hub.p50_ms - direct.p50_ms, 3),
            })
            if setup.floor_url:
                floor = measure(procs, setup.floor_url, "echo", None, concurrency, args.warmup, args.seconds,
                                setup.pids)
                rows[-1].update({"floor": asdict(floor), "floor_added_p50_ms": round(floor.p50_ms - direct.p50_ms, 3),
                                 "hub_over_floor_p50_ms": round(via_hub.p50_ms - floor.p50_ms, 3)})
        info = {"direct_url": setup.direct_url, "direct_tool": "echo", "hub_url": setup.hub_mcp_url,
                "hub_tool": setup.hub_tool, "hub_pid": setup.pids.get("hub"), "seconds": args.seconds,
                "warmup": args.warmup, "cpus": cpu_description(), "protocol_version": PROTOCOL_VERSION}
    warnings = find_warnings(rows)
    if args.json:
        print(json.dumps({"setup": info, "results": rows, "warnings": warnings}, indent=2))
    else:
        print(render(rows, info, warnings))
    return 1 if any(row[side]["errors"] for row in rows for side in ("direct", "hub", "floor") if side in row) else 0


# ---------------------------------------------------------------------------------------------- command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="tools/call through the hub vs the same upstream called directly")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured duration per run (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up before each run, not measured (default 1)")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated connection counts (default 1,8,32)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--hub-url", help="measure this already-running hub (its base URL) instead of starting one")
    parser.add_argument("--token", help="admin bearer token for --hub-url (default: $HUB_TOKEN)")
    parser.add_argument("--hub-pid", type=int, help="process id of the --hub-url hub, to report its CPU use")
    parser.add_argument("--floor", action="store_true",
                        help="also measure the thinnest proxy on the hub's stack (uvicorn + aiohttp, nothing else)")
    parser.add_argument("--hub-log-level", default="warning",
                        help="HUB_LOG_LEVEL of the started hub (default warning: no per-request access log)")
    sub = parser.add_subparsers(dest="command")
    worker = sub.add_parser("worker", help=argparse.SUPPRESS)  # internal: one load-generator process
    worker.add_argument("--url", required=True)
    worker.add_argument("--tool", required=True)
    worker.add_argument("--concurrency", type=int, required=True)
    worker.add_argument("--warmup", type=float, required=True)
    worker.add_argument("--seconds", type=float, required=True)
    worker.add_argument("--watch", action="append", default=[], help="NAME=PID whose CPU use to report")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "worker":
        return worker_main(args)
    return run_main(PROGRAM, lambda: bench_main(args))


if __name__ == "__main__":
    sys.exit(main())
