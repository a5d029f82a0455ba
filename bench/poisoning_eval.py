"""How well the tool-poisoning scanner (hub/gateway/poisoning.py) separates poisoned tool definitions from benign
ones, and what it costs per tool.

    python bench/poisoning_eval.py [--data DIR] [--repeat N] [--show]

Prints, per set of the test corpora (tests/gateway/poisoning_corpus.py, poisoning_corpus_extra.py and the real
definitions of public MCP servers in poisoning_corpus_public.json): how many tools it flags; then precision,
recall and false-positive rate over all of them, recall per set of attacks (the extra sets were each measured
before any change made for them: see poisoning_corpus_extra.py), and the false-positive rate on the MetaTool
tool descriptions (DIR/metatool/corpus.jsonl and corpus_multi.jsonl, when DIR holds them; DIR defaults to
../shared/data from the repository root). Last, the scan time per tool (best of N passes) on each benign set.
Runs offline; nothing here asserts a threshold. --show lists the flagged benign tools and the missed attacks.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.gateway.poisoning import scan_tool  # noqa: E402
from tests.gateway import poisoning_corpus as first  # noqa: E402
from tests.gateway import poisoning_corpus_extra as extra  # noqa: E402

Tool = dict[str, Any]


def scan(tool: Tool) -> list[str]:
    return scan_tool(
        name=tool["name"],
        title=tool.get("title"),
        description=tool.get("description"),
        input_schema=tool.get("input_schema"),
        output_schema=tool.get("output_schema"),
        annotations=tool.get("annotations"),
        other_tools=tool.get("other_tools", ()),
    )


def metatool(data: Path) -> list[Tool] | None:
    files = [data / "metatool" / name for name in ("corpus.jsonl", "corpus_multi.jsonl")]
    if not all(f.is_file() for f in files):
        return None
    tools = []
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                params = row.get("parameters")
                tools.append({"name": row["name"], "description": row["description"],
                              "input_schema": params if isinstance(params, dict) else None})
    return tools


def best_time(tools: list[Tool], repeat: int, fn: Callable[[Tool], object] = scan) -> float:
    """Seconds per tool, the best of ``repeat`` passes (other load on the machine only ever adds)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for tool in tools:
            fn(tool)
        best = min(best, (time.perf_counter() - start) / len(tools))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="folder holding metatool/ (default: ../shared/data from the repository root)")
    parser.add_argument("--repeat", type=int, default=5, help="timing passes per set (best is kept)")
    parser.add_argument("--show", action="store_true", help="list flagged benign tools and missed attacks")
    args = parser.parse_args()

    benign_sets: dict[str, list[Tool]] = {
        "corpus benign": first.BENIGN,
        "extra benign (near misses)": extra.BENIGN_ALL,
        "public servers (real definitions)": extra.BENIGN_PUBLIC,
    }
    poisoned_sets: dict[str, list[Tool]] = {
        "corpus poisoned": first.POISONED,
        "extra set 1": extra.POISONED_EXTRA,
        "extra set 2": extra.POISONED_EXTRA_2,
        "extra set 3": extra.POISONED_EXTRA_3,
    }
    meta = metatool(args.data)

    print(f"# poisoning scanner evaluation  ({platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()})")
    flagged_benign = total_benign = caught = total_poisoned = 0
    print(f"{'set':36s} {'tools':>6s} {'flagged':>8s}")
    for label, tools in benign_sets.items():
        hits = [t for t in tools if scan(t)]
        flagged_benign += len(hits)
        total_benign += len(tools)
        print(f"{label:36s} {len(tools):6d} {len(hits):8d}   false-positive rate {len(hits) / len(tools):.3f}")
        if args.show:
            for tool in hits:
                print(f"    flagged: {tool.get('source', '')} {tool['name']}: {scan(tool)}")
    for label, tools in poisoned_sets.items():
        missed = [t for t in tools if not scan(t)]
        caught += len(tools) - len(missed)
        total_poisoned += len(tools)
        print(f"{label:36s} {len(tools):6d} {len(tools) - len(missed):8d}   recall {1 - len(missed) / len(tools):.3f}")
        if args.show:
            for tool in missed:
                print(f"    missed: {tool['name']}")
    precision = caught / (caught + flagged_benign) if caught + flagged_benign else 1.0
    print(f"\nall corpora: precision {precision:.3f}, recall {caught / total_poisoned:.3f}, "
          f"false-positive rate {flagged_benign / total_benign:.3f} ({flagged_benign}/{total_benign})")

    timed = dict(benign_sets)
    if meta is None:
        print(f"\nmetatool: no data under {args.data} (pass --data DIR holding metatool/corpus.jsonl)")
    else:
        hits = [t for t in meta if scan(t)]
        print(f"\nmetatool descriptions: {len(meta)} tools, {len(hits)} flagged, "
              f"false-positive rate {len(hits) / len(meta):.4f}")
        if args.show:
            for tool in hits:
                print(f"    flagged: {tool['name']}: {scan(tool)}")
        timed["metatool"] = meta

    print(f"\nscan time per tool (best of {args.repeat} passes):")
    for label, tools in timed.items():
        print(f"  {label:36s} {best_time(tools, args.repeat) * 1e6:9.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
