"""`hub agents register|list|show|approve|disable|refresh|remove`: the A2A agent registry from the command line
(each one a call on the REST API)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

# hub.cli imports this module only when it builds its parser, so the import below is not circular.
from hub.cli import _client, _show


def _headers(values: list[str] | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise SystemExit(f"hub: --header must look like 'Name: value', got {item!r}")
        headers[name.strip()] = value.strip()
    return headers


def register_agent(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {}
    if args.card_url:
        body["card_url"] = args.card_url
    else:
        try:
            body["card"] = json.loads(Path(args.card_file).read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"hub: cannot read the card from {args.card_file}: {exc}") from None
    for key in ("id", "owner", "purpose", "environment"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    if args.header:
        body["settings"] = {"auth": {"type": "headers", "headers": _headers(args.header)}}
    with _client(args) as http:
        return _show(http.post("/api/v1/agents", json=body))


def list_agents(args: argparse.Namespace) -> int:
    with _client(args) as http:
        response = http.get("/api/v1/agents")
        if response.status_code >= 400 or args.json:
            return _show(response)
        for agent in response.json()["agents"]:
            card = agent.get("card") or {}
            summary = (agent.get("description") or card.get("description") or "").strip().split("\n")[0][:60]
            print(f"{agent['id']:<30} {agent['state']:<12} {agent.get('signature', ''):<10} {summary}")
        return 0


def show_agent(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.get(f"/api/v1/agents/{args.id}"))


def approve_agent(args: argparse.Namespace) -> int:
    """Approve the card the admin reviewed: the hash given, or the one registered now (shown first)."""
    with _client(args) as http:
        digest = args.card_hash
        if not digest:
            response = http.get(f"/api/v1/agents/{args.id}")
            if response.status_code >= 400:
                return _show(response)
            agent = response.json()
            card = agent.get("card") or {}
            print(json.dumps({"id": agent["id"], "card_url": agent.get("card_url"), "owner": agent.get("owner"),
                              "purpose": agent.get("purpose"), "signature": agent.get("signature"),
                              "name": card.get("name"), "description": card.get("description"),
                              "skills": card.get("skills"), "state_reason": agent.get("state_reason")}, indent=2))
            digest = agent["card_hash"]
        body = {"card_hash": digest, **({"reason": args.reason} if args.reason else {})}
        return _show(http.post(f"/api/v1/agents/{args.id}/approve", json=body))


def disable_agent(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.post(f"/api/v1/agents/{args.id}/disable",
                               json={"reason": args.reason} if args.reason else {}))


def refresh_agent(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.post(f"/api/v1/agents/{args.id}/refresh"))


def remove_agent(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.delete(f"/api/v1/agents/{args.id}"))


def register(sub: Any, remote: Callable[[argparse.ArgumentParser], None]) -> None:
    ag = sub.add_parser("agents", help="the A2A agent registry").add_subparsers(dest="action", required=True)
    p = ag.add_parser("register", help="register an A2A agent by its card (it waits for approval)")
    remote(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--card-url", help="where the agent serves its card (…/.well-known/agent-card.json)")
    source.add_argument("--card-file", help="the card as a JSON file")
    p.add_argument("--id", help="the agent's id on the hub (default: from the card's name)")
    p.add_argument("--owner")
    p.add_argument("--purpose")
    p.add_argument("--environment", choices=["dev", "prod"])
    p.add_argument("--header", action="append",
                   help="header 'Name: value' the hub sends to the agent (its credential), repeatable")
    p.set_defaults(func=register_agent)
    p = ag.add_parser("list", help="list agents")
    remote(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=list_agents)
    p = ag.add_parser("show", help="one agent's card, state, hash and settings (secrets masked)")
    remote(p)
    p.add_argument("id")
    p.set_defaults(func=show_agent)
    p = ag.add_parser("approve", help="approve an agent's current card (pins its hash)")
    remote(p)
    p.add_argument("id")
    p.add_argument("--card-hash", help="the card hash you reviewed (default: show the card, approve it)")
    p.add_argument("--reason")
    p.set_defaults(func=approve_agent)
    p = ag.add_parser("disable", help="kill switch: hide an agent and refuse calls to it")
    remote(p)
    p.add_argument("id")
    p.add_argument("--reason")
    p.set_defaults(func=disable_agent)
    for action, func, text in (("refresh", refresh_agent, "re-fetch an agent's card now"),
                               ("remove", remove_agent, "remove an agent from the registry")):
        p = ag.add_parser(action, help=text)
        remote(p)
        p.add_argument("id")
        p.set_defaults(func=func)
