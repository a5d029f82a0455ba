"""Shared helpers of the search benchmarks (search_quality.py, search_speed.py): processes, the hub's REST API
for loading a catalog, and the closed-loop load of `GET /api/v1/search` (on loadgen.closed_loop).

A catalog arrives the real way: JSONL corpora served by upstream MCP servers (`python -m
tests.fixtures.corpus_server http PORT CORPUS.jsonl`), registered over REST with `auto_approve`; the tools
the poisoning scan holds back are approved one by one, and the benchmark waits on `/readyz` until the
search index has caught up with the whole catalog.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from loadgen import BadAnswer, closed_loop, percentile

ROOT = Path(__file__).resolve().parent.parent
UNSAFE = re.compile(r"[^A-Za-z0-9._-]")  # as tests/fixtures/corpus_server.py makes tool names MCP-safe


def safe_name(name: str) -> str:
    """The tool name the corpus server publishes for a corpus row's `name`."""
    return UNSAFE.sub("_", name)[:128] or "tool"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- processes


class BenchError(SystemExit):
    pass


class Processes:
    """Child processes in their own sessions (a Ctrl-C reaches only us), logs under log_dir; stopped on close()."""

    def __init__(self, log_dir: Path, program: str) -> None:
        self.log_dir = log_dir
        self.program = program
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log_file = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (the child owns it)
        try:
            proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log_file.close()
        self.procs[name] = proc
        return proc

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def fail(self, name: str, why: str) -> BenchError:
        return BenchError(f"{self.program}: {why}\n--- last lines of the {name} log:\n{self.log_tail(name)}")

    def wait_listening(self, name: str, port: int, timeout_s: float = 120) -> None:
        proc = self.procs[name]
        deadline = time.monotonic() + timeout_s
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            if proc.poll() is not None:
                raise self.fail(name, f"{name} exited with status {proc.returncode}")
            if time.monotonic() > deadline:
                raise self.fail(name, f"{name} did not listen on port {port} within {timeout_s:g} s")
            time.sleep(0.05)

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for name in list(reversed(self.procs)):
            self.stop(name)

    def start_corpus(self, name: str, corpus: Path) -> str:
        """An upstream MCP server serving the tools of a JSONL corpus; its /mcp URL."""
        port = free_port()
        self.start(name, [sys.executable, "-m", "tests.fixtures.corpus_server", "http", str(port), str(corpus)],
                   env=dict(os.environ))
        self.wait_listening(name, port)
        return f"http://127.0.0.1:{port}/mcp"


@dataclass
class Hub:
    """A hub process (`python -m hub.cli serve`) started by the benchmark."""

    procs: Processes
    data_dir: Path
    token: str
    extra_env: dict[str, str] = field(default_factory=dict)
    name: str = "hub"
    port: int = 0
    pid: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        # The hub sees only what we give it: no HUB_* setting leaks in from the calling shell.
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env.update({
            "HUB_DATA_DIR": str(self.data_dir), "HUB_HOST": "127.0.0.1", "HUB_PORT": str(self.port),
            "HUB_ADMIN_TOKEN": self.token, "HUB_PACKS": "[]", "HUB_LOG_LEVEL": "warning",
            "HUB_RATE_LIMIT": "", "HUB_TOOL_RATE_LIMIT": "",  # benchmarks measure search, not the limiter
            "HUB_SHUTDOWN_GRACE_S": "5",
        })
        env.update(self.extra_env)
        return env

    def start(self, extra_env: dict[str, str] | None = None) -> None:
        """(Re)start the hub on its data dir with these extra HUB_* settings."""
        self.stop()
        if extra_env is not None:
            self.extra_env = extra_env
        self.port = free_port()
        with open(self.procs.log_dir / f"{self.name}.log", "ab") as f:
            f.write(f"\n=== start with {json.dumps(self.extra_env)}\n".encode())
        proc = self.procs.start(self.name, [sys.executable, "-m", "hub.cli", "serve"], env=self.env())
        self.pid = proc.pid
        self.procs.wait_listening(self.name, self.port)

    def stop(self) -> None:
        self.procs.stop(self.name)

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=kwargs.pop("timeout", 600), **kwargs)

    def alive(self) -> bool:
        proc = self.procs.procs.get(self.name)
        return proc is not None and proc.poll() is None


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt(_signum: int, _frame: object) -> None:
    for signum in STOP_SIGNALS:  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signum, signal.SIG_IGN)
    raise KeyboardInterrupt


def run_main(program: str, body: Callable[[], int]) -> int:
    """Run body with every child process stopped on exit, Ctrl-C and SIGTERM included."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _interrupt)
    try:
        return body()
    except KeyboardInterrupt:
        print(f"{program}: interrupted", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(exc.code, file=sys.stderr)
        return 1


@contextlib.contextmanager
def processes(program: str, log_dir: Path) -> Iterator[Processes]:
    procs = Processes(log_dir, program)
    try:
        yield procs
    finally:
        procs.close()


def parse_env(items: list[str]) -> dict[str, str]:
    env = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("HUB_"):
            raise SystemExit(f"--hub-env takes HUB_NAME=VALUE, got {item!r}")
        env[key] = value
    return env


# ---------------------------------------------------------------------------------------------- the hub's API


async def search_status(http: httpx.AsyncClient) -> dict[str, Any]:
    """The `search` part of /readyz ({} while the hub is starting)."""
    try:
        response = await http.get("/readyz")
    except httpx.TransportError:
        return {}
    if response.status_code != 200:
        return {}
    return response.json().get("search") or {"state": "off"}


async def wait_search_ready(hub: Hub, expected: int, timeout_s: float = 3600,
                            on_sample: Callable[[float, dict[str, Any]], None] | None = None,
                            interval_s: float = 0.25) -> dict[str, Any]:
    """Poll /readyz until search is ready with the whole catalog (indexed == total >= expected) indexed."""
    deadline = time.monotonic() + timeout_s
    async with hub.client() as http:
        while True:
            status = await search_status(http)
            if on_sample is not None and status:
                on_sample(time.perf_counter(), status)
            state = status.get("state")
            if state == "ready" and status["indexed"] == status["total"] >= expected:
                return status
            if state in ("failed", "off"):
                raise hub.procs.fail(hub.name, f"search is {state}: {status.get('error', '')}")
            if not hub.alive():
                raise hub.procs.fail(hub.name, "the hub exited")
            if time.monotonic() > deadline:
                raise hub.procs.fail(hub.name, f"search did not catch up within {timeout_s:g} s: {status}")
            await asyncio.sleep(interval_s)


async def wait_search_settled(hub: Hub, timeout_s: float = 3600, interval_s: float = 0.25) -> dict[str, Any]:
    """Poll /readyz until no optimisation of the embedded index is running (search/edge.py)."""
    deadline = time.monotonic() + timeout_s
    async with hub.client() as http:
        while True:
            status = await search_status(http)
            if not status.get("optimizing"):
                return status
            if not hub.alive():
                raise hub.procs.fail(hub.name, "the hub exited")
            if time.monotonic() > deadline:
                raise hub.procs.fail(hub.name, f"the index was not optimised within {timeout_s:g} s: {status}")
            await asyncio.sleep(interval_s)


async def register_upstream(hub: Hub, name: str, url: str) -> int:
    """Register a corpus upstream (auto-approved, no prefix): how many tools it brought."""
    async with hub.client() as http:
        response = await http.post("/api/v1/upstreams", json={
            "name": name, "transport": "http", "url": url, "prefix": "", "auto_approve": True})
    if response.status_code != 201:
        raise hub.procs.fail(hub.name, f"registering upstream {name} failed: {response.status_code} {response.text}")
    return int(response.json()["tools"])


async def approve_pending(hub: Hub) -> int:
    """Approve every tool left pending (those the poisoning scan flagged): how many needed it."""
    async with hub.client() as http:
        pending: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"state": "pending", "limit": "1000", **({"cursor": cursor} if cursor else {})}
            response = await http.get("/api/v1/tools", params=params)
            response.raise_for_status()
            body = response.json()
            pending += body["tools"]
            cursor = body.get("next_cursor")
            if not cursor:
                break
        for tool in pending:
            response = await http.post(f"/api/v1/tools/{quote(tool['name'], safe='')}/approve",
                                       json={"definition_hash": tool["definition_hash"],
                                             "reason": "benchmark corpus"})
            if response.status_code != 200:
                raise hub.procs.fail(hub.name, f"approving {tool['name']} failed: {response.status_code} "
                                               f"{response.text}")
    return len(pending)


async def principal_token(hub: Hub, name: str, scopes: list[str]) -> str:
    """A new service principal with these scopes, and an access token for it (client-credentials grant)."""
    async with hub.client() as http:
        response = await http.post("/api/v1/principals", json={
            "name": name, "owner": "bench", "purpose": "search benchmark", "environment": "dev", "kind": "service",
            "scopes": scopes})
        if response.status_code != 201:
            raise hub.procs.fail(hub.name, f"creating principal {name!r} failed: {response.status_code} "
                                           f"{response.text}")
        principal = response.json()
    async with hub.client(token="") as http:
        response = await http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                   auth=(principal["client_id"], principal["client_secret"]))
    if response.status_code != 200:
        raise hub.procs.fail(hub.name, f"client credentials for {name!r} failed: {response.status_code} "
                                       f"{response.text}")
    return str(response.json()["access_token"])


def memory_kib(pid: int) -> dict[str, int]:
    """Resident set size now and at its peak (KiB), from /proc (Linux)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out["rss_kib" if key == "VmRSS" else "peak_rss_kib"] = int(value.split()[0])
    return out


# ---------------------------------------------------------------------------------------------- load generator


class QueryFailed(BadAnswer):
    pass


@dataclass
class LoadResult:
    queries: int
    errors: int
    elapsed_s: float
    queries_per_s: float
    p50_ms: float
    p99_ms: float
    mean_results: float
    first_error: str | None
    cpu_percent: dict[str, float]  # of one core during the measured window: watched processes, loadgen, other


async def search_load(url: str, token: str, next_query: Callable[[], str], *, concurrency: int, warmup_s: float,
                      seconds: float, limit: int = 10, watch: dict[str, int] | None = None,
                      check: Callable[[list[dict[str, Any]]], str | None] | None = None) -> LoadResult:
    """A closed loop of `concurrency` keep-alive HTTP/1.1 connections (asyncio streams, hand-built requests),
    each sending `GET /api/v1/search?q=<next query>&kind=tool&limit=` and checking every answer (200, a
    result list, and `check(results)` when given: an error message or None). Measures for `seconds` after
    `warmup_s`."""
    host, _, port_text = url.removeprefix("http://").rstrip("/").partition(":")
    port = int(port_text or 80)
    head = f"Host: {host}:{port}\r\nAccept: application/json\r\nAuthorization: Bearer {token}\r\n\r\n".encode()

    def request(_counter: int) -> bytes:
        path = f"/api/v1/search?q={quote(next_query()[:1000], safe='')}&kind=tool&limit={limit}"
        return b"GET %s HTTP/1.1\r\n%s" % (path.encode(), head)

    def check_answer(status: int, _headers: dict[str, str], body: bytes, _counter: int) -> int:
        if status != 200:
            raise QueryFailed(f"HTTP {status}: {body[:200]!r}")
        results = json.loads(body)["results"]
        problem = check(results) if check is not None else None
        if problem:
            raise QueryFailed(problem)
        return len(results)

    result = await closed_loop(host, port, concurrency=concurrency, warmup_s=warmup_s, seconds=seconds,
                               request=request, check=check_answer, watch=watch or {})
    latencies, counts, elapsed = result.latencies_ms, result.counts, result.elapsed_s
    return LoadResult(result.calls, result.errors, round(elapsed, 3), round(result.calls / elapsed, 1),
                      round(percentile(latencies, 0.50), 2), round(percentile(latencies, 0.99), 2),
                      round(sum(counts) / len(counts), 2) if counts else 0.0, result.first_error,
                      result.cpu_percent)


async def gather_limited(concurrency: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Run the jobs with at most `concurrency` at a time; results in job order."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


def table(rows: list[tuple[str, ...]], right: bool = True) -> list[str]:
    """Rows of cells as aligned text lines (the first row is the header)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.rjust(w) if right and i else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(r, widths, strict=True))).rstrip() for r in rows]


def git_describe() -> str | None:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if dirty else "")


def new_token() -> str:
    return secrets.token_urlsafe(24)
