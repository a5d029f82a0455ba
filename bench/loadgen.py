"""The closed-loop load generator the benchmarks share (overhead.py, search_speed.py through searchbench.py), and
the figures around it: percentiles and the CPU each process used while measuring.

`closed_loop` keeps N keep-alive HTTP/1.1 connections (asyncio streams, hand-built request bytes) busy: each
sends a request, reads the whole answer, checks it, and sends the next. Nothing started in the warm-up is
measured; only requests started before the end of the measured window are sent; the latency of a request
counts only if it started inside that window. A connection is opened again when the server answers
`Connection: close` or after a transport error (not after a bad answer on a sound connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

OTHER_CPU_WARN = 20.0  # % of one core used by unrelated processes above which the figures are flagged
REQUESTS_PER_CONNECTION = 10_000_000  # request counters of connection i start after i * this: unique per run


class BadAnswer(Exception):
    """Raised by a `check` for an answer that is not what the request should get (the connection stays open)."""


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response: (status, headers with lower-case names, body). A body that runs to the end of the
    stream sets `connection: close` in the headers returned."""
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


# Instruction sets that decide how fast the int8 embedding model and the event loop run: figures taken on machines
# that differ here are not comparable (the same code embedded 191 entries/s on one and 75 on an AVX2-only one).
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def cpu_description() -> str:
    """"2 CPUs (AMD EPYC; avx2, no avx512f/avx512_vnni/avx_vnni/amx_int8)": what a benchmark's figures were taken on."""
    model, flags = "", set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    isa = [f for f in ISA_FLAGS if f in flags]
    if lacks := [f for f in ISA_FLAGS if f not in flags]:
        isa.append(f"no {'/'.join(lacks)}")
    details = "; ".join(filter(None, [model, ", ".join(isa) if flags else ""]))
    return f"{os.cpu_count()} CPUs" + (f" ({details})" if details else "")


def cpu_seconds(watch: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each watched process, by this process (loadgen), and by the whole machine
    (Linux /proc)."""
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


def cpu_percent(before: dict[str, float], after: dict[str, float], wall_s: float) -> dict[str, float]:
    """% of one core each watched process (and this one: loadgen) used between two cpu_seconds() readings, and
    `other`: everything else on the machine."""
    used = {name: round(100 * (after[name] - before[name]) / wall_s, 1) for name in after if name in before}
    if "machine" in used:
        ours = sum(value for name, value in used.items() if name != "machine")
        used["other"] = round(max(0.0, used.pop("machine") - ours), 1)
    return used


def other_cpu_warning(cpu_windows: list[dict[str, float]]) -> str | None:
    """The warning to print when unrelated processes were busy during any of these cpu_percent() windows."""
    busiest = max((w.get("other", 0.0) for w in cpu_windows), default=0.0)
    if busiest > OTHER_CPU_WARN:
        return (f"other processes used up to {busiest:.0f}% of a core during a measurement; these figures "
                "understate what this machine can do (run again when it is idle)")
    return None


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q from 0 to 1) of sorted values; NaN for none."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q * len(sorted_values) + 0.5) - 1))  # nearest rank
    return sorted_values[rank]


@dataclass
class LoopResult:
    calls: int  # answered and checked, started in the measured window
    errors: int
    elapsed_s: float  # from the start of the measured window to the last measured answer
    latencies_ms: list[float]  # sorted
    first_error: str | None
    cpu_percent: dict[str, float]  # of one core during the measured window: watched processes, loadgen, other
    counts: list[int] = field(default_factory=list)  # what check() returned for the measured calls, where not None


async def closed_loop(host: str, port: int, *, concurrency: int, warmup_s: float, seconds: float,
                      request: Callable[[int], bytes],
                      check: Callable[[int, dict[str, str], bytes, int], int | None],
                      watch: dict[str, int]) -> LoopResult:
    """`concurrency` keep-alive connections to host:port, each in a closed loop for `warmup_s` (not measured) then
    `seconds`. `request(n)` gives the whole request (head and body) for request counter n, unique within the run
    (connection i counts from i * REQUESTS_PER_CONNECTION + 1); `check(status, headers, body, n)` raises
    (BadAnswer, or ValueError, KeyError, … from parsing) unless the answer is right, and may return a count
    (kept in `counts`). `watch` names the processes whose CPU use is reported beside loadgen and other."""
    loop = asyncio.get_running_loop()
    measure_from = loop.time() + warmup_s
    measure_until = measure_from + seconds
    latencies: list[float] = []
    counts: list[int] = []
    errors = 0
    first_error: str | None = None
    last_done = measure_from
    cpu: dict[str, float] = {}

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, measure_from - loop.time()))
        before, wall_from = cpu_seconds(watch), time.monotonic()
        await asyncio.sleep(max(0.0, measure_until - loop.time()))
        after, wall = cpu_seconds(watch), time.monotonic() - wall_from
        cpu.update(cpu_percent(before, after, wall))

    async def connection(index: int) -> None:
        nonlocal errors, first_error, last_done
        counter = index * REQUESTS_PER_CONNECTION
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        try:
            while (started := loop.time()) < measure_until:
                counter += 1
                data = request(counter)
                count: int | None = None
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    assert reader is not None
                    writer.write(data)
                    status, headers, body = await read_response(reader)
                    if headers.get("connection", "").lower() == "close":
                        writer.close()
                        writer = None
                    count = check(status, headers, body, counter)
                    failed = False
                except (BadAnswer, OSError, ValueError, KeyError, TypeError, AttributeError,
                        asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                    failed = True
                    if started >= measure_from:
                        first_error = first_error or f"{type(exc).__name__}: {exc}"
                    if writer is not None and not isinstance(exc, BadAnswer):
                        writer.close()
                        writer = None
                done = loop.time()
                if started >= measure_from:
                    last_done = max(last_done, done)
                    if failed:
                        errors += 1
                    else:
                        latencies.append((done - started) * 1000)
                        if count is not None:
                            counts.append(count)
        finally:
            if writer is not None:
                writer.close()

    await asyncio.gather(sample_cpu(), *(connection(i) for i in range(concurrency)))
    latencies.sort()
    return LoopResult(len(latencies), errors, max(last_done - measure_from, 1e-9), latencies, first_error, cpu,
                      counts)
