"""Search quality through the hub's public search API: Recall@1, Recall@5, nDCG@10 and MRR per set and method.

    python bench/search_quality.py [--data DIR] [--sets single,multi]
                                   [--methods linear,linear-plain,dense,lexical,rrf,dbsf]
                                   [--weights 1:0.1,1:0.3] [--limit-queries N] [--json]

For each set (a `corpus<suffix>.jsonl` / `queries<suffix>.jsonl` pair in --data, in the format of
../shared/data/metatool: corpus rows {id, name, description, optional title, parameters}, query rows {qid,
query, gold: [ids]}), it serves the corpus from an upstream MCP server (`python -m tests.fixtures.corpus_server`),
starts a hub on an empty data dir, registers the upstream over REST (auto-approved; tools the poisoning scan
holds back are approved one by one), waits until the index has the whole catalog, then asks
`GET /api/v1/search?q=…&kind=tool&limit=50` for every query as the admin. Each method is the same hub
restarted on the same data dir with another `HUB_SEARCH_FUSION` (and `HUB_SEARCH_WEIGHTS`): nothing is
re-embedded. Result names map back to corpus ids through the corpus server's MCP-safe names.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from loadgen import cpu_description, cpu_percent, cpu_seconds, other_cpu_warning
from searchbench import (
    ROOT,
    Hub,
    approve_pending,
    gather_limited,
    git_describe,
    log,
    new_token,
    parse_env,
    processes,
    register_upstream,
    run_main,
    safe_name,
    table,
    wait_search_ready,
)

PROGRAM = "search_quality"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "metatool"
DEFAULT_METHODS = "linear,linear-plain,dense,lexical,rrf,dbsf"
FUSIONS = ("linear", "rrf", "dbsf", "dense", "lexical")
PLAIN = "linear-plain"  # linear without pseudo-relevance feedback (HUB_SEARCH_FEEDBACK=0)
DEPTH = 50  # results asked for per query (the API's maximum): MRR counts a first hit down to this rank
MAX_QUERY_CHARS = 1000


# ---------------------------------------------------------------------------------------------- data


@dataclass
class EvalSet:
    name: str
    corpus_path: Path
    queries_path: Path
    rows: list[dict[str, Any]] = field(default_factory=list)  # the tool rows served
    ids_by_name: dict[str, set[str]] = field(default_factory=dict)  # served tool name -> corpus ids
    queries: list[dict[str, Any]] = field(default_factory=list)  # {qid, query, gold: set}
    skipped_entries: int = 0  # rows of another kind than tool (agents are not searchable yet)
    skipped_queries: int = 0  # queries without text, or whose gold is only skipped entries
    shared_names: int = 0  # corpus ids whose safe name another id also has

    @property
    def tools(self) -> int:
        return len(self.ids_by_name)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise SystemExit(f"{PROGRAM}: {path}:{number}: not JSON: {exc}") from None
    return rows


def discover(data: Path) -> dict[str, tuple[Path, Path]]:
    """Sets in a directory: corpus<suffix>.jsonl with queries<suffix>.jsonl; "" is "single", "_multi" is "multi"."""
    sets: dict[str, tuple[Path, Path]] = {}
    for corpus in sorted(data.glob("corpus*.jsonl")):
        suffix = corpus.name[len("corpus"):-len(".jsonl")]
        queries = data / f"queries{suffix}.jsonl"
        if queries.exists():
            sets[suffix.lstrip("_-.") or "single"] = (corpus, queries)
    return sets


def load_set(name: str, corpus_path: Path, queries_path: Path, limit_queries: int | None) -> EvalSet:
    s = EvalSet(name, corpus_path, queries_path)
    skipped_ids: set[str] = set()
    served: dict[str, dict[str, Any]] = {}
    for row in read_jsonl(corpus_path):
        row_id = str(row.get("id") or row.get("name") or "")
        if row.get("kind", "tool") != "tool" or not row.get("name"):
            s.skipped_entries += 1
            skipped_ids.add(row_id)
            continue
        name = safe_name(str(row["name"]))
        s.ids_by_name.setdefault(name, set()).add(row_id)
        served[name] = row  # the corpus server keeps the last row of a name
    s.rows = list(served.values())
    s.shared_names = sum(len(ids) for ids in s.ids_by_name.values() if len(ids) > 1)
    for row in read_jsonl(queries_path):
        gold = {str(g) for g in (row.get("gold") or [])}
        text = str(row.get("query") or "").strip()
        if not text or not gold or gold <= skipped_ids:
            s.skipped_queries += 1
            continue
        s.queries.append({"qid": row.get("qid"), "query": text[:MAX_QUERY_CHARS], "gold": gold - skipped_ids})
        if limit_queries and len(s.queries) >= limit_queries:
            break
    return s


# ---------------------------------------------------------------------------------------------- metrics


def score(ranked: list[str], gold: set[str], ids_by_name: dict[str, set[str]]) -> dict[str, float]:
    """Binary relevance: a result is relevant when it brings a gold id not already found higher up."""
    found: set[str] = set()
    relevant: list[int] = []
    for name in ranked:
        new = (ids_by_name.get(name, set()) & gold) - found
        found |= new
        relevant.append(1 if new else 0)

    def recall(k: int) -> float:
        return len(set().union(*[ids_by_name.get(n, set()) & gold for n in ranked[:k]])) / len(gold)

    dcg = sum(rel / math.log2(i + 2) for i, rel in enumerate(relevant[:10]))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(gold), 10)))
    first = next((i for i, rel in enumerate(relevant) if rel), None)
    return {"recall@1": recall(1), "recall@5": recall(5), "ndcg@10": dcg / ideal,
            "mrr": 0.0 if first is None else 1 / (first + 1)}


METRICS = ("recall@1", "recall@5", "ndcg@10", "mrr")


# ---------------------------------------------------------------------------------------------- running


@dataclass
class Method:
    label: str
    fusion: str
    weights: tuple[float, float] | None = None
    feedback: float | None = None  # None: the hub's default

    def env(self) -> dict[str, str]:
        env = {"HUB_SEARCH_FUSION": self.fusion}
        if self.feedback is not None:
            env["HUB_SEARCH_FEEDBACK"] = str(self.feedback)
        if self.weights is not None:
            env["HUB_SEARCH_WEIGHTS"] = json.dumps(list(self.weights))
        return env


def parse_methods(methods: str, weights: str | None) -> list[Method]:
    out = []
    for name in (m.strip() for m in methods.split(",") if m.strip()):
        if name == PLAIN:
            out.append(Method(name, "linear", feedback=0.0))
            continue
        if name not in FUSIONS:
            raise SystemExit(f"{PROGRAM}: --methods takes {', '.join((*FUSIONS, PLAIN))}; got {name!r}")
        out.append(Method(name, name))  # each fusion at the hub's default weights for it
    for item in (w.strip() for w in (weights or "").split(",") if w.strip()):
        try:
            dense, lexical = (float(v) for v in item.split(":"))
        except ValueError:
            raise SystemExit(f"{PROGRAM}: --weights takes DENSE:LEXICAL pairs, e.g. 1:0.1,1:0.3; "
                             f"got {item!r}") from None
        out.append(Method(f"linear[{dense:g}:{lexical:g}]", "linear", (dense, lexical)))
    if not out:
        raise SystemExit(f"{PROGRAM}: nothing to measure (--methods and --weights are empty)")
    return out


async def run_queries(hub: Hub, s: EvalSet, concurrency: int
                      ) -> tuple[list[list[str]], int, float, dict[str, float]]:
    """Every query of the set through the search API: (ranked names per query, errors, seconds, CPU %)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with hub.client(limits=limits, timeout=120) as http:
        async def ask(text: str) -> list[str] | None:
            for _ in range(3):
                try:
                    response = await http.get("/api/v1/search", params={"q": text, "kind": "tool",
                                                                        "limit": str(DEPTH)})
                except httpx.TransportError:
                    continue
                if response.status_code == 200:
                    return [r["name"] for r in response.json()["results"] if r.get("kind") == "tool"]
                if response.status_code != 503:  # 503: search not ready (it is, here; retry anyway)
                    break
                await asyncio.sleep(0.5)
            return None

        await ask("warm-up query")  # the first query after a start pays one-time costs
        cpu_before, started = cpu_seconds({"hub": hub.pid}), time.perf_counter()
        answers = await gather_limited(concurrency, [lambda q=q: ask(q["query"]) for q in s.queries])
        elapsed = time.perf_counter() - started
        cpu_after = cpu_seconds({"hub": hub.pid})
    errors = sum(1 for a in answers if a is None)
    return [a or [] for a in answers], errors, elapsed, cpu_percent(cpu_before, cpu_after, elapsed)


async def run_set(s: EvalSet, methods: list[Method], args: argparse.Namespace, work: Path,
                  hub_env: dict[str, str]) -> dict[str, Any]:
    corpus_file = work / f"{s.name}-corpus.jsonl"
    corpus_file.write_text("".join(json.dumps({k: r.get(k) for k in ("name", "title", "description", "parameters")})
                                   + "\n" for r in s.rows))
    with processes(PROGRAM, work) as procs:
        upstream_url = procs.start_corpus(f"{s.name}-corpus", corpus_file)
        hub = Hub(procs, work / f"{s.name}-hub", new_token(), name=f"{s.name}-hub")
        out: dict[str, Any] = {"set": s.name, "corpus": str(s.corpus_path), "queries_file": str(s.queries_path),
                               "tools": s.tools, "queries": len(s.queries), "skipped_entries": s.skipped_entries,
                               "skipped_queries": s.skipped_queries, "shared_names": s.shared_names, "results": []}
        for index, method in enumerate(methods):
            hub.start({**hub_env, **method.env()})
            if index == 0:
                log(f"{s.name}: loading {s.tools} tools …")
                started = time.perf_counter()
                out["registered"] = await register_upstream(hub, "corpus", upstream_url)
                out["approved_by_hand"] = await approve_pending(hub)
                status = await wait_search_ready(hub, s.tools)
                out["index_s"] = round(time.perf_counter() - started, 2)
                out["embedded"] = status.get("embedded")
                log(f"{s.name}: {out['registered']} tools registered, {out['approved_by_hand']} approved by hand "
                    f"(flagged by the poisoning scan), indexed in {out['index_s']:.1f} s")
            else:
                status = await wait_search_ready(hub, s.tools)
            log(f"{s.name}: {method.label}: {len(s.queries)} queries …")
            ranked, errors, elapsed, cpu = await run_queries(hub, s, args.concurrency)
            scores = [score(r, q["gold"], s.ids_by_name) for r, q in zip(ranked, s.queries, strict=True)]
            n = max(len(scores), 1)
            result: dict[str, Any] = {"method": method.label, "fusion": method.fusion,
                                      "weights": list(method.weights) if method.weights else None}
            result.update({m: round(100 * sum(sc[m] for sc in scores) / n, 2) for m in METRICS})
            result.update({"queries_per_s": round(len(scores) / elapsed, 1) if elapsed else None, "errors": errors,
                           "cpu_percent": cpu, "embedded_since_start": status.get("embedded")})
            out["results"].append(result)
        hub.stop()
    return out


def render(report: dict[str, Any]) -> str:
    setup = report["setup"]
    lines = [f"search quality through GET /api/v1/search (kind=tool, limit={DEPTH}, admin), "
             f"{setup['concurrency']} concurrent requests; hub {setup['commit'] or '?'}; data {setup['data']}",
             "Recall@k, nDCG@10 (binary relevance) and MRR in %; MRR counts a first hit down to rank "
             f"{DEPTH}", ""]
    for s in report["sets"]:
        notes = [f"{s['queries']} queries / {s['tools']} tools", f"{s['approved_by_hand']} approved by hand",
                 f"indexed in {s['index_s']:.1f} s"]
        if s["skipped_entries"]:
            notes.append(f"{s['skipped_entries']} skipped non-tool entries")
        if s["skipped_queries"]:
            notes.append(f"{s['skipped_queries']} skipped queries")
        if s["shared_names"]:
            notes.append(f"{s['shared_names']} ids share a tool name")
        lines.append(f"{s['set']} ({', '.join(notes)})")
        rows = [("method", "Recall@1", "Recall@5", "nDCG@10", "MRR", "queries/s", "errors", "CPU% hub/other")]
        for r in s["results"]:
            cpu = r["cpu_percent"]
            rows.append((r["method"], *(f"{r[m]:.1f}" for m in METRICS), f"{r['queries_per_s']:.1f}",
                         str(r["errors"]), "/".join(f"{cpu[n]:.0f}" if n in cpu else "-" for n in ("hub", "other"))))
        lines += ["  " + line for line in table(rows)] + [""]
        reembedded = [r["method"] for r in s["results"][1:] if r.get("embedded_since_start")]
        if reembedded:
            lines.insert(-1, f"  note: the hub re-embedded entries on restart for {', '.join(reembedded)}")
    lines += [f"warning: {w}" for w in report["warnings"]]
    return "\n".join(lines).rstrip()


def bench(args: argparse.Namespace) -> int:
    data = Path(args.data).resolve()
    found = discover(data)
    if not found:
        raise SystemExit(f"{PROGRAM}: no corpus*.jsonl / queries*.jsonl pairs in {data}")
    wanted = [x.strip() for x in args.sets.split(",") if x.strip()] if args.sets else list(found)
    unknown = [x for x in wanted if x not in found]
    if unknown:
        raise SystemExit(f"{PROGRAM}: no set {', '.join(unknown)} in {data} (there: {', '.join(found)})")
    methods = parse_methods(args.methods, args.weights)
    hub_env = parse_env(args.hub_env)
    sets = [load_set(name, *found[name], args.limit_queries) for name in wanted]
    report: dict[str, Any] = {"setup": {"data": str(data), "sets": wanted, "methods": [m.label for m in methods],
                                        "concurrency": args.concurrency, "depth": DEPTH,
                                        "limit_queries": args.limit_queries, "hub_env": hub_env,
                                        "commit": git_describe(), "cpus": cpu_description()},
                              "sets": []}
    with tempfile.TemporaryDirectory(prefix="hub-search-quality-") as tmp:
        for s in sets:
            report["sets"].append(asyncio.run(run_set(s, methods, args, Path(tmp), hub_env)))
    warning = other_cpu_warning([r["cpu_percent"] for s in report["sets"] for r in s["results"]])
    report["warnings"] = [warning.replace("these figures", "queries/s")] if warning else []
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 1 if any(r["errors"] for s in report["sets"] for r in s["results"]) else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="search quality (Recall@k, nDCG@10, MRR) through the hub's API")
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help="directory of corpus*.jsonl / queries*.jsonl pairs (default ../shared/data/metatool)")
    parser.add_argument("--sets", help="comma-separated set names (default: every pair found, e.g. single,multi)")
    parser.add_argument("--methods", default=DEFAULT_METHODS,
                        help=f"comma-separated HUB_SEARCH_FUSION values (default {DEFAULT_METHODS}; rrf with the "
                             "hub's default weights)")
    parser.add_argument("--weights", help="also rrf with these DENSE:LEXICAL weights, e.g. 1:0.5,0.5:1")
    parser.add_argument("--limit-queries", type=int, help="only the first N queries of each set (quick runs)")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent search requests (default 4)")
    parser.add_argument("--hub-env", action="append", default=[], metavar="HUB_NAME=VALUE",
                        help="extra setting for the hub, e.g. HUB_SEARCH_THREADS=2 (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.concurrency < 1 or (args.limit_queries is not None and args.limit_queries < 1):
        parser.error("--concurrency and --limit-queries take positive integers")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_main(PROGRAM, lambda: bench(args))


if __name__ == "__main__":
    sys.exit(main())
