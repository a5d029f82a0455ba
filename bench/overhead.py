"""tools/call through the hub vs the same upstream called directly: calls/s, p50 and p99 latency.

    python bench/overhead.py [--seconds 5] [--concurrency 1,8,32] [--json]
    python bench/overhead.py --hub-url http://127.0.0.1:8000 --token "$HUB_TOKEN"   # an already-running hub

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
import signal
import socket
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

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL_VERSION = "2026-07-28"
ECHO_TEXT = "hello from the bench"
OTHER_CPU_WARN = 20.0  # % of one core used by unrelated processes above which the figures are flagged
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


class CallFailed(Exception):
    pass


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                break
            chunks.append((await reader.readexactly(size + 2))[:-2])
        body = b"".join(chunks)
    else:
        body = await reader.read()
        headers["connection"] = "close"
    return status, headers, body


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


def cpu_seconds(watch: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each watched process, by this process, and by the whole machine (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {"loadgen": time.process_time()}
    for name, pid in watch.items():
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[name] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    with contextlib.suppress(OSError, IndexError, ValueError):
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        used["machine"] = (sum(ticks) - ticks[3] - ticks[4]) / tick  # all but idle and iowait
    return used


@dataclass
class WorkerResult:
    calls: int
    errors: int
    elapsed_s: float
    latencies_ms: list[float]
    first_error: str | None
    cpu_percent: dict[str, float]  # of one core, during the measured window: watched processes, loadgen, other


async def run_load(target: Target, concurrency: int, warmup_s: float, seconds: float,
                   watch: dict[str, int]) -> WorkerResult:
    head, prefix, suffix = target.request_parts()
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + warmup_s
    measure_until = measure_from + seconds
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    last_done = measure_from
    cpu_percent: dict[str, float] = {}

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, measure_from - loop.time()))
        before, wall_from = cpu_seconds(watch), time.monotonic()
        await asyncio.sleep(max(0.0, measure_until - loop.time()))
        after, wall = cpu_seconds(watch), time.monotonic() - wall_from
        cpu_percent.update({name: round(100 * (after[name] - before[name]) / wall, 1)
                            for name in after if name in before})
        if "machine" in cpu_percent:
            ours = sum(value for name, value in cpu_percent.items() if name != "machine")
            cpu_percent["other"] = round(max(0.0, cpu_percent.pop("machine") - ours), 1)

    async def connection(index: int) -> None:
        nonlocal errors, first_error, last_done
        request_id = index * 10_000_000
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        try:
            while (started := loop.time()) < measure_until:
                request_id += 1
                body = b"%s%d%s" % (prefix, request_id, suffix)
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(target.host, target.port)
                    assert reader is not None
                    writer.write(b"%s%d\r\n\r\n%s" % (head, len(body), body))
                    status, headers, answer = await read_response(reader)
                    if headers.get("connection", "").lower() == "close":
                        writer.close()
                        writer = None
                    check_answer(status, headers, answer, request_id)
                    failed = False
                except (CallFailed, OSError, ValueError, KeyError, TypeError, AttributeError,
                        asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                    failed = True
                    if started >= measure_from:
                        first_error = first_error or f"{type(exc).__name__}: {exc}"
                    if writer is not None and not isinstance(exc, CallFailed):
                        writer.close()
                        writer = None
                done = loop.time()
                if started >= measure_from:
                    last_done = max(last_done, done)
                    if failed:
                        errors += 1
                    else:
                        latencies.append((done - started) * 1000)
        finally:
            if writer is not None:
                writer.close()

    await asyncio.gather(sample_cpu(), *(connection(i) for i in range(concurrency)))
    elapsed = max(last_done - measure_from, 1e-9)
    return WorkerResult(len(latencies), errors, elapsed, latencies, first_error, cpu_percent)


def worker_main(args: argparse.Namespace) -> int:
    target = Target.from_url(args.url, args.tool, os.environ.get(TOKEN_ENV) or None)
    watch = {name: int(pid) for name, _, pid in (item.partition("=") for item in args.watch)}
    result = asyncio.run(run_load(target, args.concurrency, args.warmup, args.seconds, watch))
    json.dump(asdict(result), sys.stdout)
    return 0


# ---------------------------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Child processes in their own sessions (a Ctrl-C reaches only us); all stopped on close()."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 (the child owns it)
        try:
            proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        self.procs.append((name, proc))
        return proc

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def wait_listening(self, name: str, proc: subprocess.Popen[bytes], port: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"overhead: {name} did not start\n{self.log_tail(name)}")
            time.sleep(0.05)

    def close(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(self.procs):
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


@dataclass
class Setup:
    direct_url: str
    hub_mcp_url: str
    hub_token: str
    hub_tool: str
    pids: dict[str, int]  # the processes whose CPU use each measurement reports


@contextlib.contextmanager
def environment(args: argparse.Namespace) -> Iterator[tuple[Setup, Processes]]:
    """Start the upstream (and the hub unless --hub-url), register the upstream, tear everything down after."""
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        procs = Processes(Path(tmp))
        registered: tuple[str, str, str] | None = None  # (hub base URL, token, upstream name) to delete at the end
        try:
            up_port = free_port()
            upstream = procs.start("upstream", [sys.executable, "-m", "tests.upstreams", "http", str(up_port)])
            procs.wait_listening("upstream", upstream, up_port)
            direct_url = f"http://127.0.0.1:{up_port}/mcp"
            pids = {"upstream": upstream.pid}

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
                    "HUB_DATA_DIR": str(Path(tmp) / "hub"), "HUB_HOST": "127.0.0.1", "HUB_PORT": str(hub_port),
                    "HUB_ADMIN_TOKEN": token, "HUB_PACKS": "[]", "HUB_LOG_LEVEL": args.hub_log_level,
                    # The limiter runs on every call (its cost is measured) but never refuses the bench.
                    "HUB_RATE_LIMIT": "1000000/s", "HUB_TOOL_RATE_LIMIT": "1000000/s",
                })
                procs.wait_listening("hub", hub, hub_port)
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
            yield Setup(direct_url, f"{base}/mcp", token, f"{name}.echo", pids), procs
        finally:
            if registered and args.hub_url:
                base, token, name = registered
                with contextlib.suppress(httpx.HTTPError):
                    httpx.delete(f"{base}/api/v1/upstreams/{name}", headers={"Authorization": f"Bearer {token}"},
                                 timeout=10)
            procs.close()


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


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q * len(sorted_values) + 0.5) - 1))  # nearest rank
    return sorted_values[rank]


def measure(procs: Processes, url: str, tool: str, token: str | None, concurrency: int,
            warmup_s: float, seconds: float, watch: dict[str, int]) -> Figures:
    argv = [sys.executable, str(Path(__file__).resolve()), "worker", "--url", url, "--tool", tool,
            "--concurrency", str(concurrency), "--warmup", str(warmup_s), "--seconds", str(seconds)]
    argv += [f"--watch={name}={pid}" for name, pid in watch.items()]
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, TOKEN_ENV: token or ""}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, start_new_session=True)
    procs.procs.append(("worker", proc))
    try:
        out, _ = proc.communicate(timeout=warmup_s + seconds + 120)
    finally:
        procs.procs.remove(("worker", proc))
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"overhead: the load generator failed (exit {proc.returncode})")
    result = WorkerResult(**json.loads(out))
    latencies = sorted(result.latencies_ms)
    return Figures(round(result.calls / result.elapsed_s, 1), round(percentile(latencies, 0.50), 3),
                   round(percentile(latencies, 0.99), 3), result.calls, result.errors, result.first_error,
                   result.cpu_percent)


def find_warnings(rows: list[dict[str, Any]]) -> list[str]:
    # A hub we did not start (and were not given the pid of) counts as "other" in its own runs: skip those.
    busiest = max((row[side]["cpu_percent"].get("other", 0.0) for row in rows for side in ("direct", "hub")
                   if side == "direct" or "hub" in row[side]["cpu_percent"]), default=0.0)
    if busiest > OTHER_CPU_WARN:
        return [f"other processes used up to {busiest:.0f}% of a core during a measurement; these figures "
                "understate what this machine can do (run again when it is idle)"]
    return []


def render(rows: list[dict[str, Any]], setup: dict[str, Any], warnings: list[str]) -> str:
    header = ("conc", "direct/s", "p50 ms", "p99 ms", "hub/s", "p50 ms", "p99 ms", "hub/direct", "+p50 ms", "errors")
    lines = [f"tools/call over {setup['protocol_version']} stateless HTTP: direct = {setup['direct_tool']} "
             f"at {setup['direct_url']}, hub = {setup['hub_tool']} at {setup['hub_url']}",
             f"{setup['seconds']:g} s per measurement after {setup['warmup']:g} s warm-up; "
             f"{setup['cpus']} CPUs, one load-generator process per measurement", ""]
    table = [header]
    for row in rows:
        d, h = row["direct"], row["hub"]
        table.append((str(row["concurrency"]), f"{d['calls_per_s']:.0f}", f"{d['p50_ms']:.2f}", f"{d['p99_ms']:.2f}",
                      f"{h['calls_per_s']:.0f}", f"{h['p50_ms']:.2f}", f"{h['p99_ms']:.2f}",
                      "-" if row["throughput_ratio"] is None else f"{row['throughput_ratio']:.2f}",
                      f"{row['added_p50_ms']:+.2f}",
                      f"{d['errors']}/{h['errors']}"))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        lines.append("  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)))
    other = "everything else on the machine" + ("" if setup["hub_pid"] else ", the hub included")
    lines += ["", f"CPU during each measured window, % of one core (other = {other}):"]
    names = ["upstream", "hub", "loadgen", "other"]
    table = [("conc", "run", *names)]
    for row in rows:
        for side in ("direct", "hub"):
            cpu = row[side]["cpu_percent"]
            table.append((str(row["concurrency"]), side, *(f"{cpu[n]:.0f}" if n in cpu else "-" for n in names)))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        lines.append("  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)))
    lines += [f"warning: {warning}" for warning in warnings]
    for row in rows:
        for side in ("direct", "hub"):
            if row[side]["first_error"]:
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
        info = {"direct_url": setup.direct_url, "direct_tool": "echo", "hub_url": setup.hub_mcp_url,
                "hub_tool": setup.hub_tool, "hub_pid": setup.pids.get("hub"), "seconds": args.seconds,
                "warmup": args.warmup, "cpus": os.cpu_count(), "protocol_version": PROTOCOL_VERSION}
    warnings = find_warnings(rows)
    if args.json:
        print(json.dumps({"setup": info, "results": rows, "warnings": warnings}, indent=2))
    else:
        print(render(rows, info, warnings))
    return 1 if any(row["direct"]["errors"] or row["hub"]["errors"] for row in rows) else 0


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


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(_signum: int, _frame: object) -> None:
    for signum in STOP_SIGNALS:  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signum, signal.SIG_IGN)
    raise KeyboardInterrupt  # unwinds through the clean-up in environment()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "worker":
        return worker_main(args)
    for signum in STOP_SIGNALS:  # SIGINT too: a background job inherits SIG_IGN for it
        signal.signal(signum, _interrupt)
    try:
        return bench_main(args)
    except KeyboardInterrupt:
        print("overhead: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
