"""A2A SendMessage through the hub's proxy vs the same agent called directly: latency and throughput.

    python -m bench.a2a_overhead [--requests 2000] [--concurrency 1,16] [--binding jsonrpc|rest] [--warmup 200]

Everything runs as separate processes on loopback: the fixture agent (`python -m tests.fixtures.a2a_agent PORT
--token T`, a real a2a-sdk agent) and a hub (`python -m hub.cli serve`, empty data dir, no packs, search off,
rate limits off, loopback agents allowed). The agent is registered over REST with its bearer token as the
hub's credential for it and approved; a service principal holding `agent:<id>` gets a token through the
client-credentials grant. The load generator is this process: for each concurrency, a closed loop of that
many workers, each with its own `httpx.AsyncClient` (one keep-alive connection), sending pre-built
`SendMessage` requests with the text "quick bench" (the agent answers at once with a Message, so its own
work is negligible) until --requests answers came back, first directly to the agent (`/a2a/jsonrpc` or
`/a2a/rest/message:send`, with the agent's token), then through the hub (`/agents/<id>/jsonrpc` or
`/agents/<id>/rest/message:send`, with the principal's token). --warmup requests go first on the same
clients and are not measured. Every answer is checked: HTTP 200, no A2A error, and the agent's echo.

Prints p50, p90 and p99 latency (ms), requests/s, the p50 the hub adds, the error counts, the CPU each
process used while measuring, the command line and the environment. Exit status 1 if any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import importlib.metadata
import json
import os
import platform
import shlex
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

# The benchmarks import each other as top-level modules (they run as `python bench/NAME.py`).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import cpu_description, cpu_percent, cpu_seconds, other_cpu_warning, percentile
from searchbench import (
    BenchError,
    Hub,
    Processes,
    free_port,
    git_describe,
    log,
    new_token,
    principal_token,
    processes,
    run_main,
    table,
)

PROGRAM = "a2a_overhead"
AGENT_ID = "echo"
TEXT = "quick bench"
A2A_VERSION = "1.0"
REQUEST_TIMEOUT_S = 30.0
BINDINGS = {  # --binding: (path on the agent, path on the hub)
    "jsonrpc": ("/a2a/jsonrpc", f"/agents/{AGENT_ID}/jsonrpc"),
    "rest": ("/a2a/rest/message:send", f"/agents/{AGENT_ID}/rest/message:send"),
}


# ---------------------------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    rpc_id: int
    body: bytes


def build_requests(binding: str, first_id: int, count: int) -> list[Request]:
    """`count` SendMessage bodies, each with its own messageId (and JSON-RPC id)."""
    requests = []
    for rpc_id in range(first_id, first_id + count):
        params = {"message": {"role": "ROLE_USER", "messageId": str(uuid.uuid4()), "parts": [{"text": TEXT}]}}
        payload: dict[str, Any] = (
            {"jsonrpc": "2.0", "id": rpc_id, "method": "SendMessage", "params": params} if binding == "jsonrpc"
            else params)
        requests.append(Request(rpc_id, json.dumps(payload).encode()))
    return requests


def check_answer(binding: str, response: httpx.Response, rpc_id: int) -> tuple[str, str] | None:
    """None for the agent's echo; otherwise (kind of failure, detail)."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}", response.text[:300]
    try:
        data = response.json()
    except ValueError:
        return "not JSON", response.text[:300]
    if not isinstance(data, dict):
        return "unexpected answer", response.text[:300]
    if binding == "jsonrpc":
        if "error" in data:
            error = data["error"] if isinstance(data["error"], dict) else {}
            return f"A2A error {error.get('code')}", json.dumps(data["error"])[:300]
        if data.get("id") != rpc_id:
            return "wrong JSON-RPC id", response.text[:300]
        data = data.get("result") if isinstance(data.get("result"), dict) else {}
    elif "error" in data:
        return "A2A error", json.dumps(data["error"])[:300]
    message = data.get("message") if isinstance(data.get("message"), dict) else {}
    parts = message.get("parts") or [{}]
    text = parts[0].get("text") if isinstance(parts[0], dict) else None
    if not isinstance(text, str) or not text.endswith(f": {TEXT}"):
        return "unexpected answer", response.text[:300]
    return None


# ---------------------------------------------------------------------------------------------- load generator


@dataclass
class Run:
    path: str  # "direct" or "hub"
    concurrency: int
    requests: int
    ok: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    first_error: str | None = None
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def ms(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    @property
    def per_s(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0


async def run_load(run: Run, url: str, token: str, binding: str, warmup: list[Request], measured: list[Request],
                   watch: dict[str, int]) -> None:
    """A closed loop of run.concurrency workers (one client each) sharing the queue of requests: the warm-up
    requests first (not measured), then the measured ones."""
    headers = {"Authorization": f"Bearer {token}", "A2A-Version": A2A_VERSION, "Content-Type": "application/json",
               "Accept": "application/json"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def send(client: httpx.AsyncClient, request: Request) -> tuple[str, str] | None:
        try:
            response = await client.post(url, content=request.body)
        except httpx.HTTPError as exc:
            return type(exc).__name__, str(exc)[:300] or repr(exc)
        return check_answer(binding, response, request.rpc_id)

    async def phase(clients: list[httpx.AsyncClient], requests: list[Request], record: bool) -> None:
        queue = iter(requests)  # shared: each worker takes the next request when its previous answer is in

        async def worker(client: httpx.AsyncClient) -> None:
            for request in queue:
                started = time.perf_counter()
                problem = await send(client, request)
                done = time.perf_counter()
                if not record:
                    continue
                if problem is None:
                    run.ok += 1
                    run.latencies_ms.append((done - started) * 1000)
                else:
                    run.errors[problem[0]] += 1
                    run.first_error = run.first_error or f"{problem[0]}: {problem[1]}"

        await asyncio.gather(*(worker(client) for client in clients))

    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(headers=headers, limits=limits,
                                                                     timeout=REQUEST_TIMEOUT_S))
                   for _ in range(run.concurrency)]
        await phase(clients, warmup, record=False)
        before, wall_from = cpu_seconds(watch), time.monotonic()
        await phase(clients, measured, record=True)
        wall = time.monotonic() - wall_from
        run.elapsed_s = wall
        run.cpu = cpu_percent(before, cpu_seconds(watch), wall)
    run.latencies_ms.sort()


# ---------------------------------------------------------------------------------------------- set-up


@dataclass
class Setup:
    agent_url: str
    agent_token: str
    hub_url: str
    hub_token: str
    pids: dict[str, int]


def start_agent(procs: Processes, token: str) -> tuple[str, int]:
    port = free_port()
    proc = procs.start("agent", [sys.executable, "-m", "tests.fixtures.a2a_agent", str(port), "--token", token],
                       env=dict(os.environ))
    procs.wait_listening("agent", port)
    return f"http://127.0.0.1:{port}", proc.pid


async def register_agent(hub: Hub, agent_url: str, agent_token: str) -> None:
    """Register the agent by its card URL, with its token as the hub's credential for it, and approve it."""
    async with hub.client() as http:
        response = await http.post("/api/v1/agents", json={
            "card_url": f"{agent_url}/.well-known/agent-card.json", "id": AGENT_ID,
            "settings": {"auth": {"type": "headers", "headers": {"Authorization": f"Bearer {agent_token}"}}}})
        if response.status_code not in (200, 201):
            raise hub.procs.fail(hub.name, f"registering the agent failed: {response.status_code} {response.text}")
        card_hash = response.json().get("card_hash")
        response = await http.post(f"/api/v1/agents/{AGENT_ID}/approve",
                                   json={"card_hash": card_hash, "reason": "A2A overhead benchmark"})
        if response.status_code != 200:
            raise hub.procs.fail(hub.name, f"approving the agent failed: {response.status_code} {response.text}")


async def check_paths(setup: Setup, binding: str, procs: Processes) -> None:
    """One request on each path before anything is measured, so a broken set-up fails clearly."""
    direct_path, hub_path = BINDINGS[binding]
    request = build_requests(binding, 0, 1)[0]
    headers = {"A2A-Version": A2A_VERSION, "Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, headers=headers) as http:
        for name, url, token in (("agent", setup.agent_url + direct_path, setup.agent_token),
                                 ("hub", setup.hub_url + hub_path, setup.hub_token)):
            try:
                response = await http.post(url, content=request.body, headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as exc:
                raise procs.fail(name, f"SendMessage to the {name} at {url} failed: {exc!r}") from None
            problem = check_answer(binding, response, request.rpc_id)
            if problem is not None:
                raise procs.fail(name, f"SendMessage to the {name} at {url} failed: {problem[0]}: {problem[1]}")


# ---------------------------------------------------------------------------------------------- report


def environment_lines(args: argparse.Namespace) -> list[str]:
    versions = []
    for package in ("a2a-sdk", "httpx", "uvicorn", "starlette"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions.append(f"{package} {importlib.metadata.version(package)}")
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return [
        f"command: {shlex.join(getattr(sys, 'orig_argv', [sys.executable, *sys.argv]))}",
        f"environment: {cpu_description()}, {usable} usable, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.platform()}",
        f"packages: {', '.join(versions)}; hub checkout {git_describe() or 'unknown'}",
    ]


def render(args: argparse.Namespace, runs: list[Run]) -> str:
    direct_path, hub_path = BINDINGS[args.binding]
    lines = [
        f"A2A SendMessage over {'JSON-RPC' if args.binding == 'jsonrpc' else 'HTTP+JSON'}: direct = the agent's "
        f"{direct_path}, hub = {hub_path}",
        f"{args.requests} measured requests per run after {args.warmup} warm-up; one httpx.AsyncClient (one "
        "keep-alive connection) per concurrent client, closed loop",
        "",
    ]
    direct_p50 = {run.concurrency: run.ms(0.50) for run in runs if run.path == "direct"}
    rows = [("clients", "path", "p50 ms", "p90 ms", "p99 ms", "req/s", "added p50 ms", "ok", "failed")]
    for run in runs:
        added = run.ms(0.50) - direct_p50[run.concurrency] if run.path == "hub" else None
        rows.append((str(run.concurrency), run.path, f"{run.ms(0.50):.2f}", f"{run.ms(0.90):.2f}",
                     f"{run.ms(0.99):.2f}", f"{run.per_s:.0f}", "" if added is None else f"{added:+.2f}",
                     str(run.ok), str(run.failed)))
    lines += table(rows)
    names = ["agent", "hub", "loadgen", "other"]
    lines += ["", "CPU while measuring, % of one core (loadgen = this process, other = everything else):"]
    rows = [("clients", "path", *names)]
    for run in runs:
        rows.append((str(run.concurrency), run.path, *(f"{run.cpu[n]:.0f}" if n in run.cpu else "-" for n in names)))
    lines += table(rows)
    warning = other_cpu_warning([run.cpu for run in runs])
    if warning:
        lines.append(f"warning: {warning}")
    lines += ["", *environment_lines(args)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- main


async def measure(setup: Setup, args: argparse.Namespace, concurrencies: list[int]) -> list[Run]:
    direct_path, hub_path = BINDINGS[args.binding]
    runs = []
    next_id = 1
    for concurrency in concurrencies:
        for path, url, token in (("direct", setup.agent_url + direct_path, setup.agent_token),
                                 ("hub", setup.hub_url + hub_path, setup.hub_token)):
            log(f"{PROGRAM}: {path}, {concurrency} client(s), {args.warmup} + {args.requests} requests")
            warmup = build_requests(args.binding, next_id, args.warmup)
            measured = build_requests(args.binding, next_id + args.warmup, args.requests)
            next_id += args.warmup + args.requests
            run = Run(path, concurrency, args.requests)
            await run_load(run, url, token, args.binding, warmup, measured, setup.pids)
            runs.append(run)
    return runs


def bench(args: argparse.Namespace) -> int:
    try:
        concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        concurrencies = []
    if not concurrencies or min(concurrencies) < 1:
        raise BenchError(f"{PROGRAM}: --concurrency takes positive integers, e.g. 1,16")
    if args.requests < 1 or args.warmup < 0:
        raise BenchError(f"{PROGRAM}: --requests must be at least 1 and --warmup at least 0")
    with tempfile.TemporaryDirectory(prefix="hub-a2a-bench-") as tmp, processes(PROGRAM, Path(tmp)) as procs:
        agent_token = new_token()
        agent_url, agent_pid = start_agent(procs, agent_token)
        hub = Hub(procs, Path(tmp) / "hub", new_token(), extra_env={
            "HUB_SEARCH": "false", "HUB_AGENT_ALLOW_LOOPBACK": "true",
            "HUB_RATE_LIMIT": "", "HUB_AGENT_RATE_LIMIT": "", "HUB_TOOL_RATE_LIMIT": ""})
        hub.start()

        async def prepare() -> Setup:
            await register_agent(hub, agent_url, agent_token)
            token = await principal_token(hub, "a2a-bench", [f"agent:{AGENT_ID}"])
            setup = Setup(agent_url, agent_token, hub.url, token, {"agent": agent_pid, "hub": hub.pid})
            await check_paths(setup, args.binding, procs)
            return setup

        async def everything() -> list[Run]:
            return await measure(await prepare(), args, concurrencies)

        runs = asyncio.run(everything())
        if not hub.alive():
            raise hub.procs.fail(hub.name, "the hub exited during the benchmark")
    print(render(args, runs))
    failures = [run for run in runs if run.failed]
    if failures:
        details = [f"{run.path} at {run.concurrency} client(s): {run.failed} of {run.requests} failed "
                   f"({', '.join(f'{kind} x{n}' for kind, n in run.errors.most_common())}); first: {run.first_error}"
                   for run in failures]
        raise BenchError(f"{PROGRAM}: {sum(run.failed for run in failures)} requests failed\n" + "\n".join(details))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.a2a_overhead",
                                     description="A2A SendMessage through the hub vs the agent called directly")
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per run (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests before each run (default 200)")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated client counts (default 1,16)")
    parser.add_argument("--binding", choices=sorted(BINDINGS), default="jsonrpc",
                        help="jsonrpc (default) or rest (HTTP+JSON message:send)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main(PROGRAM, lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
