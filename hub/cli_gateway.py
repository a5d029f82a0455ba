"""`hub tools approve|disable|show`, `hub upstream enable|disable`, `hub access …`, `hub calls …`:
the gateway's admin decisions from the command line (each one a call on the REST API)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

# hub.cli imports this module only when it builds its parser, so the import below is not circular.
from hub.cli import _client, _show


def _reason(args: argparse.Namespace) -> dict[str, Any]:
    return {"reason": args.reason} if getattr(args, "reason", None) else {}


def tool_show(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.get(f"/api/v1/tools/{args.name}"))


def tool_approve(args: argparse.Namespace) -> int:
    """Approve the definition the admin reviewed: the hash given, or the one shown now (printed first)."""
    with _client(args) as http:
        digest = args.hash
        if not digest:
            response = http.get(f"/api/v1/tools/{args.name}")
            if response.status_code >= 400:
                return _show(response)
            tool = response.json()
            print(json.dumps({k: tool.get(k) for k in ("name", "title", "description", "input_schema",
                                                        "output_schema", "annotations", "flags", "state_reason")},
                             indent=2))
            digest = tool["definition_hash"]
        return _show(http.post(f"/api/v1/tools/{args.name}/approve",
                               json={"definition_hash": digest, **_reason(args)}))


def tool_disable(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.post(f"/api/v1/tools/{args.name}/disable", json=_reason(args)))


def upstream_switch(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.post(f"/api/v1/upstreams/{args.name}/{args.action}", json=_reason(args)))


def access_list(args: argparse.Namespace) -> int:
    with _client(args) as http:
        params = {"state": args.state} if args.state else {}
        response = http.get("/api/v1/access-requests", params=params)
        if response.status_code >= 400 or args.json:
            return _show(response)
        for r in response.json()["access_requests"]:
            print(f"{r['id']}  {r['state']:<9} {r['principal_id']:<30} {' '.join(r['scopes'])}  — {r['reason'][:60]}")
        return 0


def access_decide(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.post(f"/api/v1/access-requests/{args.id}/{args.action}", json=_reason(args)))


def calls_list(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.get("/api/v1/call-approvals", params={"state": args.state} if args.state else {}))


def calls_decide(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.post(f"/api/v1/call-approvals/{args.id}/{args.action}", json=_reason(args)))


def register(sub: Any, remote: Callable[[argparse.ArgumentParser], None], *, upstream: Any, tools: Any) -> None:
    p = tools.add_parser("show", help="one tool's definition, state, hash and scan findings")
    remote(p)
    p.add_argument("name")
    p.set_defaults(func=tool_show)
    p = tools.add_parser("approve", help="approve a tool's current definition (pins its hash)")
    remote(p)
    p.add_argument("name")
    p.add_argument("--hash", help="the definition hash you reviewed (default: show the definition, approve it)")
    p.add_argument("--reason")
    p.set_defaults(func=tool_approve)
    p = tools.add_parser("disable", help="kill switch: hide a tool and refuse its calls")
    remote(p)
    p.add_argument("name")
    p.add_argument("--reason")
    p.set_defaults(func=tool_disable)

    for action, text in (("disable", "kill switch: hide an upstream's tools and refuse their calls"),
                         ("enable", "lift an upstream's kill switch")):
        p = upstream.add_parser(action, help=text)
        remote(p)
        p.add_argument("name")
        p.add_argument("--reason")
        p.set_defaults(func=upstream_switch)

    ac = sub.add_parser("access", help="access requests: the admins' queue").add_subparsers(
        dest="action", required=True)
    p = ac.add_parser("list", help="list access requests (default: pending)")
    remote(p)
    p.add_argument("--state", default="pending", help="pending | approved | denied ('' for all)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=access_list)
    for action in ("approve", "deny"):
        p = ac.add_parser(action, help=f"{action} an access request")
        remote(p)
        p.add_argument("id")
        p.add_argument("--reason")
        p.set_defaults(func=access_decide)

    ca = sub.add_parser("calls", help="risky calls waiting for approval").add_subparsers(dest="action", required=True)
    p = ca.add_parser("list", help="list call approvals (default: pending)")
    remote(p)
    p.add_argument("--state", default="pending")
    p.set_defaults(func=calls_list)
    for action in ("approve", "deny"):
        p = ca.add_parser(action, help=f"{action} a waiting call")
        remote(p)
        p.add_argument("id")
        p.add_argument("--reason")
        p.set_defaults(func=calls_decide)
