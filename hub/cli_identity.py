"""`hub principal …`, `hub keys rotate` and `hub token`: identities from the command line.

Secrets never travel in argv (other users can read it from the process table): a client secret comes
from HUB_CLIENT_SECRET, a user's password from stdin.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# hub.cli imports this module only when it builds its parser, so the import below is not circular.
from hub.cli import _client, _settings, _show


def principal_add(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"name": args.name, "owner": args.owner, "purpose": args.purpose,
                            "environment": args.environment, "kind": args.kind, "scopes": args.scope or []}
    for key in ("id", "version", "evaluation_plan"):
        if getattr(args, key):
            body[key] = getattr(args, key)
    if args.password_stdin:
        body["password"] = sys.stdin.readline().rstrip("\n")
    if args.jwks:
        body["jwks"] = json.loads(Path(args.jwks).read_text())
    with _client(args) as http:
        return _show(http.post("/api/v1/principals", json=body))


def principal_list(args: argparse.Namespace) -> int:
    with _client(args) as http:
        response = http.get("/api/v1/principals")
        if response.status_code >= 400 or args.json:
            return _show(response)
        for p in response.json()["principals"]:
            print(f"{p['id']:<32} {p['kind']:<8} {p['environment']:<5} {p['status']:<10} {' '.join(p['scopes'])}")
        return 0


def _by_id(path: str, method: str = "post", with_scopes: bool = False) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with _client(args) as http:
            url = f"/api/v1/principals/{args.id}{path}"
            if with_scopes:
                return _show(http.request(method.upper(), url, json={"scopes": args.scopes}))
            return _show(getattr(http, method)(url))

    return run


def keys_rotate(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.post("/api/v1/keys/rotate"))


def token(args: argparse.Namespace) -> int:
    """Print an access token (client credentials) for scripted use: `export HUB_TOKEN=$(hub token)`."""
    import httpx

    settings = _settings(args)
    client_id = args.client_id or os.environ.get("HUB_CLIENT_ID")
    secret = os.environ.get("HUB_CLIENT_SECRET")
    if not client_id or not secret:
        raise SystemExit("hub token: set HUB_CLIENT_ID (or --client-id) and HUB_CLIENT_SECRET")
    base = args.url or settings.base_url
    form = {"grant_type": "client_credentials"}
    if args.scope:
        form["scope"] = " ".join(args.scope)
    if args.resource:
        form["resource"] = args.resource
    response = httpx.post(f"{base}/oauth/token", data=form, auth=(client_id, secret), timeout=30)
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code != 200:
        print(f"hub token: {body.get('error', response.status_code)}: {body.get('error_description', '')}",
              file=sys.stderr)
        return 1
    print(body["access_token"])
    return 0


def register(sub: Any, remote: Callable[[argparse.ArgumentParser], None]) -> None:
    pr = sub.add_parser("principal", help="agent, service and user identities").add_subparsers(
        dest="action", required=True)
    p = pr.add_parser("add", help="create an identity (its client secret is printed once)")
    remote(p)
    p.add_argument("name")
    p.add_argument("--owner", required=True, help="the person or team answerable for it")
    p.add_argument("--purpose", required=True)
    p.add_argument("--environment", required=True, choices=["dev", "prod"])
    p.add_argument("--kind", required=True, choices=["agent", "service", "user"])
    p.add_argument("--id")
    p.add_argument("--version")
    p.add_argument("--evaluation-plan", dest="evaluation_plan")
    p.add_argument("--scope", action="append", help="an approved scope (repeatable)")
    p.add_argument("--password-stdin", action="store_true", help="users: read the password from stdin")
    p.add_argument("--jwks", help="a JWKS file of public keys: authenticate with private_key_jwt")
    p.set_defaults(func=principal_add)
    p = pr.add_parser("list", help="list identities")
    remote(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=principal_list)
    for name, path, helptext in (("show", "", "one identity"), ("rotate-secret", "/rotate-secret", "new secret"),
                                 ("suspend", "/suspend", "stop it at once"), ("reinstate", "/reinstate", "undo")):
        p = pr.add_parser(name, help=helptext)
        remote(p)
        p.add_argument("id")
        p.set_defaults(func=_by_id(path, "get" if name == "show" else "post"))
    for name, method in (("grant", "post"), ("revoke", "delete")):
        p = pr.add_parser(name, help=f"{name} scopes (effective without a new token)")
        remote(p)
        p.add_argument("id")
        p.add_argument("scopes", nargs="+")
        p.set_defaults(func=_by_id("/grants", method, with_scopes=True))

    ks = sub.add_parser("keys", help="token-signing keys").add_subparsers(dest="action", required=True)
    p = ks.add_parser("rotate", help="sign with a new key; the old one verifies until its tokens expire")
    remote(p)
    p.set_defaults(func=keys_rotate)

    p = sub.add_parser("token", help="print an access token (client credentials from the environment)")
    remote(p)
    p.add_argument("--client-id")
    p.add_argument("--scope", action="append")
    p.add_argument("--resource", help="the resource the token is for (default: the whole hub)")
    p.set_defaults(func=token)
