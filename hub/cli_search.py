"""`hub search QUERY` and `hub search status [--wait]`: discovery and indexing progress from the command line."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

# hub.cli imports this module only when it builds its parser, so the import below is not circular.
from hub.cli import _client, _show


def search(args: argparse.Namespace) -> int:
    with _client(args) as http:
        response = http.get("/api/v1/search", params={"q": args.query, "kind": args.kind, "limit": str(args.limit)})
        if response.status_code >= 400 or args.json:
            return _show(response)
        for r in response.json()["results"]:
            summary = (r.get("description") or "").strip().split("\n")[0][:70]
            print(f"{r['score']:.4f}  {r.get('name') or r.get('id'):<40} {summary}")
        return 0


def status(args: argparse.Namespace) -> int:
    """The indexer's progress; with --wait, a progress bar until the index has caught up."""
    with _client(args) as http:
        response = http.get("/api/v1/search/status")
        if response.status_code >= 400 or not args.wait:
            return _show(response)
        from tqdm import tqdm

        deadline = time.monotonic() + args.timeout
        state: dict[str, Any] = response.json()
        with tqdm(total=max(state["total"], 1), unit="entries", desc="indexing") as bar:
            while True:
                bar.total = max(state["total"], 1)
                bar.n = state["indexed"]
                bar.set_postfix_str(state["state"])
                bar.refresh()
                if state["state"] == "failed":
                    print(f"search failed: {state.get('error')}")
                    return 1
                if state["state"] == "ready" and state["indexed"] >= state["total"]:
                    return 0
                if time.monotonic() > deadline:
                    print("timed out waiting for the index")
                    return 1
                time.sleep(0.5)
                response = http.get("/api/v1/search/status")
                if response.status_code >= 400:
                    return _show(response)
                state = response.json()


def register(sub: Any, remote: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("search", help="find tools and agents by intent; `hub search status` for indexing")
    remote(p)
    p.add_argument("query", help="what you want to do, in words (or 'status')")
    p.add_argument("--kind", choices=["tool", "agent", "any"], default="any")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--wait", action="store_true", help="with 'status': show progress until the index is ready")
    p.add_argument("--timeout", type=float, default=600.0, help="with 'status --wait': give up after this long")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda args: status(args) if args.query == "status" else search(args))
