"""The `hub` command: run the hub (HTTP or stdio) and administer a running one over its REST API."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from typing import Any

from hub.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for key in ("host", "port", "data_dir"):
        value = getattr(args, key, None)
        if value is not None:
            overrides[key] = value
    return Settings(**overrides)


class QuerylessAccessLog(logging.Filter):
    """uvicorn's access log without query strings: a token a caller put in one is refused, and never logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].partition("?")[0], args[3], args[4])
        return True


def serve(args: argparse.Namespace) -> int:
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from hub.app import create_app
    from hub.http_protocol import HubHttpProtocol

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["filters"] = {"queryless": {"()": QuerylessAccessLog}}
    log_config["handlers"]["access"]["filters"] = ["queryless"]
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=log_config,
        # uvicorn's httptools protocol: one write per response, a deadline on reading each request
        http=HubHttpProtocol.with_read_timeout(settings.request_read_timeout_s),
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),  # SIGTERM: in-flight calls finish first
        proxy_headers=False,
        server_header=False,
    )
    return 0


async def _stdio_principal(hub: Any, token: str) -> Any:
    """The principal of HUB_TOKEN (an access token for the hub's MCP resource, or the admin token)."""
    from hub.identity.directory import Unavailable
    from hub.identity.tokens import InvalidToken

    try:
        return await hub.identity.authenticate(token, hub.identity.issuer + "/mcp")
    except (InvalidToken, Unavailable) as exc:
        print(f"hub stdio: HUB_TOKEN refused: {exc}", file=sys.stderr)
        return None


def stdio(args: argparse.Namespace) -> int:
    """MCP over stdin/stdout for desktop clients. The credential comes from HUB_TOKEN."""
    from mcp.server.stdio import stdio_server

    from hub.app import close_hub, open_hub
    from hub.surfaces.mcp import McpSurface

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def run() -> int:
        hub = await open_hub(settings)
        try:
            token = os.environ.get("HUB_TOKEN", "")
            principal = (await _stdio_principal(hub, token)) if token else hub.identity.anonymous
            if principal is None:
                print("hub stdio: set HUB_TOKEN to a valid token (no anonymous access is configured)", file=sys.stderr)
                return 2
            surface = McpSurface(hub.gateway, hub.events, stdio_principal=principal)
            async with stdio_server() as (read, write):
                await surface.server.run(read, write, surface.server.create_initialization_options())
            return 0
        finally:
            await close_hub(hub)

    return asyncio.run(run())


# ---------------------------------------------------------------------------------------------- admin client


def _client(args: argparse.Namespace) -> Any:
    import httpx

    settings = _settings(args)
    token = os.environ.get("HUB_TOKEN") or settings.admin_token
    if not token:
        stored = settings.data_dir / "admin-token"
        token = stored.read_text().strip() if stored.exists() else None
    if not token:
        raise SystemExit("hub: no credential: set HUB_TOKEN (or HUB_ADMIN_TOKEN)")
    base = args.url or settings.base_url
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def _show(response: Any) -> int:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if response.status_code >= 400:
        detail = body.get("detail") or body.get("title") if isinstance(body, dict) else body
        print(f"error {response.status_code}: {detail}", file=sys.stderr)
        if isinstance(body, dict) and body.get("errors"):
            for error in body["errors"]:
                print(f"  {error['field']}: {error['message']}", file=sys.stderr)
        return 1
    if response.status_code != 204:
        print(json.dumps(body, indent=2))
    return 0


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"hub: {what} must look like KEY=VALUE, got {item!r}")
        result[key] = value
    return result


def upstream_add(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"name": args.name}
    if args.url_:
        body.update(transport="http", url=args.url_)
    else:
        body.update(transport="stdio", command=args.command)
    if args.prefix is not None:
        body["prefix"] = args.prefix
    if args.auto_approve:
        body["auto_approve"] = True
    if args.header:
        body["headers"] = _pairs(args.header, "--header")
    if args.env:
        body["env"] = _pairs(args.env, "--env")
    if args.client_id:
        body["auth"] = {"type": "oauth_client_credentials", "client_id": args.client_id,
                        "client_secret": os.environ.get("HUB_UPSTREAM_CLIENT_SECRET", ""),
                        "scope": args.scope, "issuer": args.issuer}
    with _client(args) as http:
        return _show(http.post("/api/v1/upstreams", json=body))


def upstream_list(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.get("/api/v1/upstreams"))


def upstream_remove(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.delete(f"/api/v1/upstreams/{args.name}"))


def upstream_sync(args: argparse.Namespace) -> int:
    with _client(args) as http:
        return _show(http.post(f"/api/v1/upstreams/{args.name}/sync"))


def tools_list(args: argparse.Namespace) -> int:
    with _client(args) as http:
        params = {"upstream": args.upstream} if args.upstream else {}
        response = http.get("/api/v1/tools", params=params)
        if response.status_code >= 400 or args.json:
            return _show(response)
        for tool in response.json()["tools"]:
            summary = (tool.get("description") or "").strip().split("\n")[0][:70]
            print(f"{tool['name']:<40} {tool['state']:<12} {summary}")
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="An MCP and A2A tool hub.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", dest="data_dir", help="state directory (HUB_DATA_DIR, default ./.hub)")

    def remote(p: argparse.ArgumentParser) -> None:
        common(p)
        p.add_argument("--url", help="the hub's base URL (default HUB_PUBLIC_URL or http://HOST:PORT)")

    p = sub.add_parser("serve", help="run the hub over HTTP")
    common(p)
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=serve)

    p = sub.add_parser("stdio", help="serve MCP over stdin/stdout (credential from HUB_TOKEN)")
    common(p)
    p.set_defaults(func=stdio)

    up = sub.add_parser("upstream", help="manage upstream MCP servers").add_subparsers(dest="action", required=True)
    p = up.add_parser("add", help="register an upstream MCP server")
    remote(p)
    p.add_argument("name")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--http", dest="url_", metavar="URL", help="Streamable HTTP endpoint")
    target.add_argument("--stdio", dest="command", nargs=argparse.REMAINDER, help="command and arguments")
    p.add_argument("--prefix", help="tool name prefix (default: the name; '' for none)")
    p.add_argument("--header", action="append", help="static header KEY=VALUE sent to the upstream")
    p.add_argument("--env", action="append", help="environment KEY=VALUE for a stdio upstream")
    p.add_argument("--client-id", help="OAuth client id (secret from HUB_UPSTREAM_CLIENT_SECRET)")
    p.add_argument("--scope")
    p.add_argument("--issuer")
    p.add_argument("--auto-approve", action="store_true",
                   help="approve this upstream's new tools on import (flagged tools still wait for review)")
    p.set_defaults(func=upstream_add)
    p = up.add_parser("list", help="list upstreams")
    remote(p)
    p.set_defaults(func=upstream_list)
    p = up.add_parser("remove", help="remove an upstream and its tools")
    remote(p)
    p.add_argument("name")
    p.set_defaults(func=upstream_remove)
    p = up.add_parser("sync", help="re-import an upstream's tools now")
    remote(p)
    p.add_argument("name")
    p.set_defaults(func=upstream_sync)

    tl = sub.add_parser("tools", help="the tool catalog").add_subparsers(dest="action", required=True)
    p = tl.add_parser("list", help="list tools")
    remote(p)
    p.add_argument("--upstream")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=tools_list)

    from hub.cli_agents import register as register_agents
    from hub.cli_audit import register as register_audit
    from hub.cli_gateway import register as register_gateway
    from hub.cli_identity import register
    from hub.cli_search import register as register_search

    register(sub, remote)
    register_gateway(sub, remote, upstream=up, tools=tl)
    register_audit(sub, common)
    register_search(sub, remote)
    register_agents(sub, remote)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.func not in (serve, stdio):
        import signal

        # `hub tools list | head` ends quietly. Never for the servers: a closed socket must not kill them.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
