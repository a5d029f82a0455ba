"""Search speed at catalog sizes (default 1k, 10k, 100k tools): indexing rate, query latency and throughput.

    python bench/search_speed.py [--sizes 1000,10000,100000] [--upstreams 10] [--concurrency 1,16]
                                 [--seconds 5] [--warmup 2] [--json]

For each size it builds a synthetic, deterministic tool catalog (seeded: names like `crm_update_contact_7`,
10-40-word descriptions composed from domain, verb and object vocabularies, 1-4 described parameters), splits
it across --upstreams upstream MCP servers (`python -m tests.fixtures.corpus_server`), starts a hub on an
empty data dir, waits for its search model to load, then registers the upstreams over REST and times the
indexing until `/readyz` says the whole catalog is searchable (sampling its counts over time). It prints the
hub's RSS, then measures `GET /api/v1/search?q=…&kind=tool&limit=10` with distinct realistic queries from
1 and from 16 concurrent callers, as the admin (no filter) and as a restricted principal (`search` plus
`upstream:` grants on ~10% of the upstreams, token from the client-credentials grant), checking that the
restricted principal only ever gets tools of its upstreams. Nothing here asserts a threshold: the targets
are printed beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from loadgen import cpu_description, cpu_seconds, other_cpu_warning
from searchbench import (
    Hub,
    approve_pending,
    git_describe,
    log,
    memory_kib,
    new_token,
    parse_env,
    principal_token,
    processes,
    register_upstream,
    run_main,
    search_load,
    search_status,
    table,
    wait_search_ready,
    wait_search_settled,
)

PROGRAM = "search_speed"
TARGETS = {"p50_ms_10k": 15.0, "p99_ms_10k": 60.0, "queries_per_s_16": 150.0, "entries_per_s": 150.0}

# ---------------------------------------------------------------------------------------------- vocabulary

# domain prefix -> (the system in prose, its objects as snake_case)
DOMAINS: dict[str, tuple[str, list[str]]] = {
    "crm": ("the CRM", ["contact", "deal", "lead", "account", "opportunity", "pipeline_stage", "note"]),
    "billing": ("the billing system", ["invoice", "payment", "subscription", "refund", "coupon", "credit_note"]),
    "hr": ("the HR platform", ["employee", "leave_request", "payslip", "candidate", "job_posting", "timesheet"]),
    "devops": ("the deployment platform", ["deployment", "build", "container", "cluster", "alert_rule", "incident"]),
    "storage": ("cloud storage", ["file", "folder", "bucket", "share_link", "snapshot", "volume"]),
    "mail": ("the mailbox", ["message", "draft", "thread", "label", "attachment", "mailing_list"]),
    "calendar": ("the calendar", ["event", "meeting", "attendee", "reminder", "room_booking"]),
    "analytics": ("the analytics workspace", ["report", "dashboard", "metric", "segment", "funnel", "cohort"]),
    "support": ("the help desk", ["ticket", "conversation", "macro", "satisfaction_survey", "sla_policy"]),
    "shop": ("the online store", ["order", "product", "cart", "shipment", "inventory_item", "discount_code"]),
    "pm": ("the project tracker", ["task", "project", "milestone", "sprint", "comment", "board"]),
    "git": ("the code host", ["repository", "pull_request", "issue", "branch", "commit", "release"]),
    "chat": ("team chat", ["channel", "message", "user_status", "reaction", "thread"]),
    "maps": ("the mapping service", ["route", "place", "geocode", "traffic_report", "distance_matrix"]),
    "weather": ("the weather service", ["forecast", "weather_alert", "observation", "air_quality_index"]),
    "finance": ("the finance ledger", ["stock_quote", "exchange_rate", "portfolio", "transaction", "budget"]),
    "db": ("the database", ["table", "row", "saved_query", "index", "backup"]),
    "docs": ("the document editor", ["document", "page", "template", "spreadsheet", "revision"]),
    "iam": ("the identity provider", ["user_account", "group", "role", "access_review", "login_event"]),
    "iot": ("the device fleet", ["device", "sensor_reading", "firmware_image", "gateway", "maintenance_window"]),
}

# verb -> (third person in descriptions, imperative in queries, takes an id)
VERBS: dict[str, tuple[str, str, bool]] = {
    "get": ("Retrieves", "get", True), "list": ("Lists", "list", False), "create": ("Creates", "create", False),
    "update": ("Updates", "update", True), "delete": ("Deletes", "delete", True),
    "search": ("Searches for", "find", False), "export": ("Exports", "export", False),
    "import": ("Imports", "import", False), "archive": ("Archives", "archive", True),
    "restore": ("Restores", "restore", True), "sync": ("Synchronises", "sync", False),
    "assign": ("Assigns", "assign", True), "approve": ("Approves", "approve", True),
    "cancel": ("Cancels", "cancel", True), "merge": ("Merges", "merge", True),
    "duplicate": ("Duplicates", "copy", True), "count": ("Counts", "count", False),
    "validate": ("Validates", "check", True), "schedule": ("Schedules", "schedule", False),
    "summarize": ("Summarizes", "summarize", True),
}

EXTRA_SENTENCES = [
    "Returns the {obj} as a JSON object with its identifier, status and timestamps.",
    "Supports filtering by {field} and by {field2}.",
    "Results are paginated: pass the cursor from the previous page to continue.",
    "Requires write access to {system}.",
    "Use this when the user wants to {imp} an existing {obj}.",
    "Changes are recorded in the activity history of the {obj}.",
    "Fails with a clear error when the {obj} does not exist.",
    "Optionally notifies the owner by email.",
    "Works for single records and for batches of up to 100.",
    "Times are in UTC unless a time zone is given.",
    "Only {objs} the connected account can see are returned.",
    "Useful for reconciling {system} with other tools.",
    "The operation is idempotent when a request key is supplied.",
    "Read-only: nothing in {system} is modified.",
    "Large exports are delivered as a download link.",
    "Respects the workspace's retention and sharing settings.",
]
FIELDS = ["status", "owner", "creation date", "region", "priority", "tag", "amount", "due date", "team", "name"]
PARAMS = [
    ("status", "New status of the {obj}: one of open, pending or closed."),
    ("owner_email", "Email address of the person who owns the {obj}."),
    ("created_after", "Only {objs} created after this ISO 8601 date."),
    ("limit", "Maximum number of results to return (1-100)."),
    ("cursor", "Pagination cursor from a previous call."),
    ("region", "Region code, for example eu-west or us-east."),
    ("priority", "Priority from 1 (highest) to 5."),
    ("tags", "Tags to attach, as a list of strings."),
    ("notify", "Whether to notify watchers of the change."),
    ("format", "Output format: csv, json or xlsx."),
    ("time_zone", "IANA time zone name used to interpret dates."),
    ("note", "Free-text note stored with the {obj}."),
]
PEOPLE = ["Alice Martin", "Bob Chen", "Carla Diaz", "Deepak Rao", "Emma Novak", "Farid Haddad", "Grace Kim",
          "Hugo Lambert", "Ines Costa", "Jonas Berg", "Keiko Sato", "Liam Walsh", "Maya Cohen", "Nils Olsen"]
WHEN = ["from last week", "for this quarter", "due tomorrow", "created yesterday", "from March", "for next month",
        "that are overdue", "updated today", "older than 90 days", "from the last 24 hours"]
QUERY_TEMPLATES = [
    "{imp} the {obj} {num} in {system}",
    "how do I {imp} one {obj} in {system}?",
    "{imp} {objs} {when}",
    "I need to {imp} the {obj} for {person}",
    "can you {imp} {person}'s {obj} {when}",
    "{imp} all {objs} owned by {person} {when}",
    "please {imp} {obj} #{num} and tell {person}",
    "tool to {imp} one {obj} with {field} {when}",
    "{imp} the latest {obj} in {system} for the {region} team",
    "which {objs} in {system} match {field} {num}? {imp} them",
]
REGIONS = ["EMEA", "APAC", "LATAM", "North America", "Nordics", "DACH", "Benelux", "Iberia"]


def words(snake: str) -> str:
    return snake.replace("_", " ")


def plural(noun: str) -> str:
    if noun.endswith(("s", "sh", "ch", "x")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return noun[:-1] + "ies"
    return noun + "s"


def article(noun: str) -> str:
    return "an" if noun[0] in "aeio" or noun.startswith(("un", "up")) else "a"


def make_corpus(size: int, seed: int) -> list[dict[str, Any]]:
    """`size` tools, deterministic for a seed (a smaller catalog is the prefix of a larger one)."""
    rng = random.Random(seed)
    variants: dict[str, int] = {}
    domains = list(DOMAINS)
    verbs = list(VERBS)
    tools = []
    for _ in range(size):
        domain = rng.choice(domains)
        system, objects = DOMAINS[domain]
        obj_snake = rng.choice(objects)
        verb = rng.choice(verbs)
        does, imp, takes_id = VERBS[verb]
        base = f"{domain}_{verb}_{obj_snake}"
        variants[base] = variants.get(base, 0) + 1
        obj, objs = words(obj_snake), plural(words(obj_snake))
        many = verb in ("list", "search", "export", "import", "sync", "count")
        first = f"{does} {objs} in {system}." if many else f"{does} {article(obj)} {obj} in {system}."
        target = rng.randint(10, 40)
        sentences, count = [first], len(first.split())
        extras = rng.sample(EXTRA_SENTENCES, len(EXTRA_SENTENCES))
        f1, f2 = rng.sample(FIELDS, 2)
        for template in extras:
            if count >= target:
                break
            sentence = template.format(obj=obj, objs=objs, system=system, imp=imp, field=f1, field2=f2)
            n = len(sentence.split())
            if count + n > 40:
                continue
            sentences.append(sentence)
            count += n
        properties: dict[str, Any] = {}
        if takes_id:
            properties[f"{obj_snake}_id"] = {"type": "string", "description": f"Identifier of the {obj}."}
        elif verb == "search":
            properties["query"] = {"type": "string", "description": f"Free-text query matched against {objs}."}
        for pname, pdesc in rng.sample(PARAMS, max(0, rng.randint(1, 4) - len(properties))):
            properties[pname] = {"type": "string", "description": pdesc.format(obj=obj, objs=objs)}
        required = [next(iter(properties))] if takes_id or verb == "search" else []
        tools.append({"name": f"{base}_{variants[base]}", "description": " ".join(sentences),
                      "parameters": {"type": "object", "properties": properties, "required": required}})
    return tools


class QueryPool:
    """Distinct realistic queries, handed out in order (the hub caches recent query embeddings: no repeats)."""

    def __init__(self, seed: int, size: int) -> None:
        rng = random.Random(seed)
        seen: dict[str, None] = {}
        while len(seen) < size:
            system, objects = DOMAINS[rng.choice(list(DOMAINS))]
            _, imp, _ = VERBS[rng.choice(list(VERBS))]
            obj = words(rng.choice(objects))
            text = rng.choice(QUERY_TEMPLATES).format(
                imp=imp, obj=obj, objs=plural(obj), system=system, num=rng.randint(100, 99_999),
                when=rng.choice(WHEN), person=rng.choice(PEOPLE), field=rng.choice(FIELDS),
                region=rng.choice(REGIONS))
            seen[text[0].upper() + text[1:]] = None
        self.queries = list(seen)
        self.used = 0

    def next(self) -> str:
        query = self.queries[self.used % len(self.queries)]
        self.used += 1
        return query

    @property
    def repeated(self) -> int:
        return max(0, self.used - len(self.queries))


# ---------------------------------------------------------------------------------------------- one size


def indexing_rates(samples: list[tuple[float, dict[str, Any]]], t0: float, size: int) -> dict[str, Any]:
    """Embedding rate from the /readyz counts: between 10% and 90% of the catalog embedded, and overall."""
    def first_at(fraction: float) -> tuple[float, int] | None:
        for t, status in samples:
            if status.get("embedded", 0) >= fraction * size:
                return t, status["embedded"]
        return None

    out: dict[str, Any] = {}
    lo, hi = first_at(0.10), first_at(0.90)
    if lo and hi and hi[0] > lo[0]:
        out["entries_per_s_10_90"] = round((hi[1] - lo[1]) / (hi[0] - lo[0]), 1)
    started = next((t for t, status in samples if status.get("embedded", 0) > 0), None)
    done = first_at(1.0)
    if started is not None and done and done[0] > started:
        out["embedding_s"] = round(done[0] - started, 2)
        out["first_embedding_after_s"] = round(started - t0, 2)
    step = max(1, len(samples) // 200)  # a thinned timeline for --json
    out["timeline"] = [{"t_s": round(t - t0, 2), **{k: s.get(k) for k in ("state", "indexed", "total", "embedded")}}
                       for t, s in samples[::step]]
    return out


async def run_size(size: int, args: argparse.Namespace, work: Path, hub_env: dict[str, str],
                   pool: QueryPool) -> dict[str, Any]:
    log(f"{size}: building the catalog …")
    tools = make_corpus(size, args.seed)
    n_up = min(args.upstreams, size)
    names = [f"u{i:02d}" for i in range(n_up)]
    parts: list[list[dict[str, Any]]] = [tools[i::n_up] for i in range(n_up)]
    granted = names[:max(1, round(n_up * args.restricted_share))]
    allowed = {t["name"] for name, part in zip(names, parts, strict=True) if name in granted for t in part}
    out: dict[str, Any] = {"entries": size, "upstreams": n_up, "restricted_grants": [f"upstream:{n}" for n in granted],
                           "restricted_visible": len(allowed)}
    size_dir = work / f"size-{size}"
    size_dir.mkdir()
    with processes(PROGRAM, size_dir) as procs:
        urls = {}
        for name, part in zip(names, parts, strict=True):
            path = size_dir / f"{name}.jsonl"
            path.write_text("".join(json.dumps(t) + "\n" for t in part))
            urls[name] = procs.start_corpus(name, path)
        hub = Hub(procs, size_dir / "hub", new_token(), extra_env=hub_env)
        hub.start()
        await wait_search_ready(hub, 0)  # the model is loaded: what follows is indexing alone
        log(f"{size}: registering {n_up} upstreams and indexing …")

        samples: list[tuple[float, dict[str, Any]]] = []
        stop = asyncio.Event()

        async def sample() -> None:
            async with hub.client() as http:
                while not stop.is_set():
                    status = await search_status(http)
                    if status:
                        samples.append((time.perf_counter(), status))
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), args.sample_interval)

        cpu_before = cpu_seconds({"hub": hub.pid})
        t0 = time.perf_counter()
        sampler = asyncio.create_task(sample())
        try:
            registered = 0
            for name in names:
                registered += await register_upstream(hub, name, urls[name])
            out["approved_by_hand"] = await approve_pending(hub)
            out["register_s"] = round(time.perf_counter() - t0, 2)
            status = await wait_search_ready(hub, size, timeout_s=args.index_timeout)
            t_ready = time.perf_counter()
            ready_s = t_ready - t0
            samples.append((t_ready, status))
        finally:
            stop.set()
            await sampler
        cpu_after = cpu_seconds({"hub": hub.pid})
        samples.sort(key=lambda x: x[0])
        out.update({"registered": registered, "ready_s": round(ready_s, 2),
                    "entries_per_s": round(size / ready_s, 1), "embedded": status.get("embedded"),
                    "hub_cpu_cores_indexing": round((cpu_after["hub"] - cpu_before["hub"]) / ready_s, 2)
                    if "hub" in cpu_after and "hub" in cpu_before else None})
        out.update(indexing_rates(samples, t0, size))
        out["memory_after_indexing"] = memory_kib(hub.pid)
        log(f"{size}: indexed in {ready_s:.1f} s ({size / ready_s:.0f} entries/s); waiting for the index to be "
            "optimised …")
        started = time.perf_counter()
        await wait_search_settled(hub, timeout_s=args.index_timeout)  # a child process would share the CPU
        out["optimize_s"] = round(time.perf_counter() - started, 1)
        log(f"{size}: optimised in {out['optimize_s']:.1f} s; measuring queries …")

        token = await principal_token(hub, f"bench restricted {size}", ["search", *out["restricted_grants"]])

        def restricted_check(results: list[dict[str, Any]]) -> str | None:
            stray = [r["name"] for r in results if r["name"] not in allowed]
            return f"restricted principal got tools outside its grants: {stray[:3]}" if stray else None

        def admin_check(results: list[dict[str, Any]]) -> str | None:
            return None if results else "no results"

        principals = [("admin", hub.token, admin_check, size), ("restricted", token, restricted_check, len(allowed))]
        out["queries"] = []
        for label, bearer, check, visible in principals:
            for concurrency in args.concurrency:
                log(f"{size}: {label}, {concurrency} concurrent …")
                result = await search_load(hub.url, bearer, pool.next, concurrency=concurrency,
                                           warmup_s=args.warmup, seconds=args.seconds, limit=args.limit,
                                           watch={"hub": hub.pid}, check=check)
                out["queries"].append({"principal": label, "visible": visible, "concurrency": concurrency,
                                       **asdict(result)})
        out["memory_after_queries"] = memory_kib(hub.pid)
        hub.stop()
    if not args.keep:
        shutil.rmtree(size_dir, ignore_errors=True)  # a 100k index is large: free the disk before the next size
    return out


# ---------------------------------------------------------------------------------------------- report


def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.0f}"


def target_lines(report: dict[str, Any]) -> list[str]:
    lines = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "missed"

    for s in report["sizes"]:
        if "entries_per_s" in s:
            lines.append(f"indexing at {s['entries']}: {s['entries_per_s']:.0f} entries/s end to end "
                         f"(target >= {TARGETS['entries_per_s']:.0f}): {verdict(s['entries_per_s'] >= 150)}")
        for q in s["queries"]:
            if s["entries"] == 10_000 and q["concurrency"] == 1:
                ok = q["p50_ms"] <= TARGETS["p50_ms_10k"] and q["p99_ms"] <= TARGETS["p99_ms_10k"]
                lines.append(f"latency at 10k, 1 caller, {q['principal']}: p50 {q['p50_ms']:.1f} ms, p99 "
                             f"{q['p99_ms']:.1f} ms (target <= 15 / <= 60 ms): {verdict(ok)}")
            if q["concurrency"] == 16:
                lines.append(f"throughput at {s['entries']}, 16 callers, {q['principal']}: {q['queries_per_s']:.0f} "
                             f"queries/s (target >= 150): {verdict(q['queries_per_s'] >= 150)}")
    return lines


def render(report: dict[str, Any]) -> str:
    setup = report["setup"]
    lines = [f"search speed: GET /api/v1/search?kind=tool&limit={setup['limit']}; synthetic catalogs over "
             f"{setup['upstreams']} upstreams (seed {setup['seed']}); hub {setup['commit'] or '?'}; "
             f"{setup['cpus']}",
             f"{setup['seconds']:g} s per measurement after {setup['warmup']:g} s warm-up; one load-generator process "
             "(asyncio, keep-alive connections); distinct queries", "", "indexing (from registration to search ready)"]
    rows = [("entries", "register s", "ready s", "entries/s", "readyz 10-90% /s", "hub cores", "RSS MiB",
             "peak MiB", "approved by hand", "then optimised s")]
    for s in report["sizes"]:
        mem = s.get("memory_after_indexing", {})
        rows.append((str(s["entries"]), f"{s['register_s']:.1f}", f"{s['ready_s']:.1f}", f"{s['entries_per_s']:.0f}",
                     f"{s['entries_per_s_10_90']:.0f}" if "entries_per_s_10_90" in s else "-",
                     f"{s['hub_cpu_cores_indexing']:.2f}" if s.get("hub_cpu_cores_indexing") is not None else "-",
                     mib(mem.get("rss_kib")), mib(mem.get("peak_rss_kib")), str(s["approved_by_hand"]),
                     f"{s['optimize_s']:.1f}" if "optimize_s" in s else "-"))
    lines += ["  " + line for line in table(rows)]
    grants = " ".join(report["sizes"][0]["restricted_grants"]) if report["sizes"] else ""
    lines += ["", f"queries (admin: no filter; restricted: search {grants}, 'visible' = entries it may see)"]
    rows = [("entries", "principal", "visible", "callers", "queries/s", "p50 ms", "p99 ms", "results", "errors",
             "CPU% hub/loadgen/other")]
    for s in report["sizes"]:
        for q in s["queries"]:
            cpu = q["cpu_percent"]
            rows.append((str(s["entries"]), q["principal"], str(q["visible"]), str(q["concurrency"]),
                         f"{q['queries_per_s']:.0f}", f"{q['p50_ms']:.2f}", f"{q['p99_ms']:.2f}",
                         f"{q['mean_results']:.1f}", str(q["errors"]),
                         "/".join(f"{cpu[n]:.0f}" if n in cpu else "-" for n in ("hub", "loadgen", "other"))))
    lines += ["  " + line for line in table(rows)]
    lines += ["", "RSS after the queries: " + ", ".join(
        f"{s['entries']}: {mib(s.get('memory_after_queries', {}).get('rss_kib'))} MiB" for s in report["sizes"])]
    lines += ["", "targets (reported, not asserted):"] + ["  " + line for line in target_lines(report)]
    lines += [f"warning: {w}" for w in report["warnings"]]
    for s in report["sizes"]:
        for q in s["queries"]:
            if q["first_error"]:
                lines.append(f"first error at {s['entries']}, {q['principal']}, {q['concurrency']} callers: "
                             f"{q['first_error']}")
    return "\n".join(lines)


def bench(args: argparse.Namespace) -> int:
    hub_env = parse_env(args.hub_env)
    # Enough distinct queries for every measurement at a few hundred queries/s.
    windows = len(args.sizes) * 2 * len(args.concurrency)
    pool = QueryPool(args.seed, max(20_000, int(windows * (args.seconds + args.warmup) * 600)))
    report: dict[str, Any] = {"setup": {"sizes": args.sizes, "upstreams": args.upstreams, "seed": args.seed,
                                        "concurrency": args.concurrency, "seconds": args.seconds,
                                        "warmup": args.warmup, "limit": args.limit,
                                        "restricted_share": args.restricted_share, "hub_env": hub_env,
                                        "commit": git_describe(), "cpus": cpu_description(), "targets": TARGETS},
                              "sizes": [], "warnings": []}
    with contextlib.ExitStack() as stack:
        if args.keep:
            root = Path(args.keep)
            root.mkdir(parents=True, exist_ok=True)
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-search-speed-")))
        for size in args.sizes:
            report["sizes"].append(asyncio.run(run_size(size, args, root, hub_env, pool)))
    warning = other_cpu_warning([q["cpu_percent"] for s in report["sizes"] for q in s["queries"]])
    if warning:
        report["warnings"].append(warning)
    if pool.repeated:
        report["warnings"].append(f"{pool.repeated} queries were repeats (the hub's query cache may have served them)")
    if not args.json:
        for s in report["sizes"]:
            s.pop("timeline", None)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 1 if any(q["errors"] for s in report["sizes"] for q in s["queries"]) else 0


def positive_ints(text: str) -> list[int]:
    try:
        values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="search indexing rate, latency and throughput at catalog sizes")
    parser.add_argument("--sizes", type=positive_ints, default=[1000, 10_000, 100_000],
                        help="catalog sizes (default 1000,10000,100000)")
    parser.add_argument("--upstreams", type=int, default=10, help="upstreams the catalog is split across (default 10)")
    parser.add_argument("--restricted-share", type=float, default=0.1,
                        help="share of the upstreams the restricted principal is granted (default 0.1)")
    parser.add_argument("--concurrency", type=positive_ints, default=[1, 16],
                        help="concurrent callers (default 1,16)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured duration per run (default 5)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up before each run, not measured (default 2)")
    parser.add_argument("--limit", type=int, default=10, help="results per query (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the catalog and the queries (default 0)")
    parser.add_argument("--sample-interval", type=float, default=0.25, help="/readyz sampling period (default 0.25 s)")
    parser.add_argument("--index-timeout", type=float, default=7200,
                        help="give up indexing after this (default 7200 s)")
    parser.add_argument("--hub-env", action="append", default=[], metavar="HUB_NAME=VALUE",
                        help="extra setting for the hub, e.g. HUB_SEARCH_THREADS=2 (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (with the /readyz timeline)")
    parser.add_argument("--keep", metavar="DIR",
                        help="build under DIR and keep each size's hub data dir there (e.g. to profile its index)")
    args = parser.parse_args(argv)
    if args.upstreams < 1 or not 0 < args.restricted_share <= 1 or not 1 <= args.limit <= 50:
        parser.error("--upstreams >= 1, 0 < --restricted-share <= 1, 1 <= --limit <= 50")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main(PROGRAM, lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
