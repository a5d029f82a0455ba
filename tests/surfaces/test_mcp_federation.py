"""End to end: real MCP clients (both eras) → the hub over HTTP → real upstreams (stdio and HTTP)."""

from __future__ import annotations

import asyncio

import mcp.types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.harness import ADMIN_TOKEN, ROOT, STDIO_UPSTREAM, http_upstream, running_hub


async def register(hub, body: dict) -> dict:
    async with hub.http() as http:
        response = await http.post("/api/v1/upstreams", json={"auto_approve": True, **body})
    assert response.status_code == 201, response.text
    return response.json()


async def all_tools(client: Client) -> list[str]:
    names, cursor = [], None
    while True:
        page = await client.list_tools(cursor=cursor, cache_mode="bypass")
        names += [t.name for t in page.tools]
        cursor = page.next_cursor
        if cursor is None:
            return names


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_and_http_upstreams_through_the_hub(tmp_path, mode):
    with http_upstream() as upstream_url:
        async with running_hub(tmp_path, page_size=5) as hub:
            created = await register(hub, {"name": "local", "transport": "stdio", "command": STDIO_UPSTREAM,
                                           "cwd": str(ROOT)})
            assert created == {"name": "local", "tools": 8}
            await register(hub, {"name": "remote", "transport": "http", "url": upstream_url, "prefix": "r"})

            async with hub.mcp_http() as http, Client(streamable_http_client(hub.mcp_url, http_client=http),
                                                      mode=mode) as client:
                expected_era = "2026-07-28" if mode == "auto" else "2025-11-25"
                assert client.protocol_version == expected_era
                names = await all_tools(client)  # 16 tools over pages of 5
                assert names == sorted(names)
                assert "local.echo" in names and "r.echo" in names and len(names) == 16

                result = await client.call_tool("local.add", {"a": 2, "b": 40})
                assert not result.is_error and result.structured_content == {"result": 42}
                result = await client.call_tool("r.echo", {"text": "via http"})
                assert result.content[0].text == "via http"

                # validation happens in the hub: the upstream is never called with bad arguments
                result = await client.call_tool("local.add", {"a": "two", "b": 1})
                assert result.is_error and "Invalid arguments" in result.content[0].text

                with pytest.raises(MCPError) as err:
                    await client.call_tool("nope.tool", {})
                assert err.value.code == types.INVALID_PARAMS

                seen: list[float] = []

                async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                    seen.append(progress)

                result = await client.call_tool("local.progress", {"steps": 3}, progress_callback=on_progress)
                assert result.content[0].text == "3 steps"
                assert seen == [1, 2, 3]
                # the same through the HTTP upstream (the lean 2026-07-28 path relays SSE progress frames)
                seen.clear()
                result = await client.call_tool("r.progress", {"steps": 4}, progress_callback=on_progress)
                assert result.content[0].text == "4 steps"
                assert seen == [1, 2, 3, 4]


async def test_unauthenticated_and_bad_tokens_are_refused(tmp_path):
    async with running_hub(tmp_path) as hub:
        async with hub.http(token=None) as http:
            response = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")
        async with hub.http(token="wrong") as http:
            response = await http.get("/api/v1/tools")
            assert response.status_code == 401
            assert response.headers["content-type"] == "application/problem+json"


async def test_failing_upstreams_give_clear_errors_and_the_hub_stays_healthy(tmp_path):
    async with running_hub(tmp_path, upstream_timeout_s=3, max_upstream_response_bytes=2 * 1024 * 1024) as hub:
        await register(hub, {"name": "local", "transport": "stdio", "command": STDIO_UPSTREAM, "cwd": str(ROOT),
                             "timeout_s": 2})
        with http_upstream() as upstream_url:
            await register(hub, {"name": "remote", "transport": "http", "url": upstream_url})
            async with hub.mcp_http() as http, Client(streamable_http_client(hub.mcp_url, http_client=http)) as c:
                hung = await c.call_tool("local.slow", {"seconds": 10})
                assert hung.is_error and "did not answer within 2 s" in hung.content[0].text

                huge = await c.call_tool("remote.big", {"megabytes": 5})
                assert huge.is_error and "exceeded" in huge.content[0].text

                # Cut as it arrives, at the limit: 20 MB once took the hub 23 s of its event loop (a line buffer
                # re-joined for every chunk read), well past the 2 s timeout this upstream has.
                huge = await c.call_tool("local.big", {"megabytes": 20})
                assert huge.is_error and "exceeded" in huge.content[0].text, huge.content[0].text

                died = await c.call_tool("local.crash", {})
                assert died.is_error

                # the stdio upstream is restarted on the next call
                again = await c.call_tool("local.echo", {"text": "back"})
                assert again.content[0].text == "back", again

                fine = await c.call_tool("remote.echo", {"text": "still here"})
                assert fine.content[0].text == "still here"
        # the HTTP upstream is gone now
        async with hub.mcp_http() as http, Client(streamable_http_client(hub.mcp_url, http_client=http)) as c:
            gone = await c.call_tool("remote.echo", {"text": "x"})
            assert gone.is_error and "remote" in gone.content[0].text
        async with hub.http() as http:
            assert (await http.get("/healthz")).status_code == 200


async def test_list_changed_reaches_both_eras(tmp_path):
    async with running_hub(tmp_path) as hub:
        await register(hub, {"name": "local", "transport": "stdio", "command": STDIO_UPSTREAM, "cwd": str(ROOT)})
        got = asyncio.Event()

        async def on_message(message) -> None:
            if isinstance(message, types.ToolListChangedNotification):
                got.set()

        async with hub.mcp_http() as http, \
                Client(streamable_http_client(hub.mcp_url, http_client=http), mode="legacy",
                       message_handler=on_message) as legacy, \
                Client(streamable_http_client(hub.mcp_url, http_client=http)) as modern:
            await legacy.list_tools()
            async with modern.listen(tools_list_changed=True) as sub:
                await asyncio.sleep(0.3)
                await modern.call_tool("local.grow", {"name": "reverse"})
                async with asyncio.timeout(10):
                    async for _event in sub:
                        break
                    await got.wait()
            assert "local.reverse" in await all_tools(modern)
            result = await modern.call_tool("local.reverse", {"text": "abc"})
            assert result.content[0].text == "cba"


async def test_upstreams_get_their_own_credentials_never_the_callers(tmp_path):
    with http_upstream() as upstream_url:
        async with running_hub(tmp_path) as hub:
            await register(hub, {"name": "remote", "transport": "http", "url": upstream_url,
                                 "headers": {"Authorization": "Bearer upstream-only-secret"}})
            await register(hub, {"name": "local", "transport": "stdio", "command": STDIO_UPSTREAM,
                                 "cwd": str(ROOT), "env": {"UPSTREAM_SECRET": "stdio-secret"}})
            async with hub.mcp_http() as http, Client(streamable_http_client(hub.mcp_url, http_client=http)) as c:
                seen = await c.call_tool("remote.whoami", {})
                assert seen.content[0].text == "Bearer upstream-only-secret"
                seen = await c.call_tool("local.whoami", {})
                assert seen.content[0].text == "stdio-secret"


async def test_foreign_origins_and_hosts_are_refused(tmp_path):
    async with running_hub(tmp_path) as hub, hub.http() as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
        accept = {"Accept": "application/json, text/event-stream"}
        evil_origin = await http.post("/mcp", json=body, headers={**accept, "Origin": "http://evil.example"})
        assert evil_origin.status_code == 403
        evil_host = await http.post("/mcp", json=body, headers={**accept, "Host": "evil.example"})
        assert evil_host.status_code == 421
        fine = await http.post("/mcp", json=body, headers={**accept, "Origin": hub.url})
        assert fine.status_code == 200


def modern_call(name: str, arguments: dict, *, request_id: int = 7, meta: dict | None = None) -> dict:
    envelope = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"}, **(meta or {})}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
            "params": {"name": name, "arguments": arguments, "_meta": envelope}}


MODERN_HEADERS = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call",
                  "Accept": "application/json, text/event-stream"}


async def test_raw_stateless_tool_calls_keep_the_protocols_answers(tmp_path):
    """Plain 2026-07-28 calls take the hub's lean path; every rejection stays the SDK's."""
    with http_upstream() as upstream_url:
        async with running_hub(tmp_path) as hub:
            await register(hub, {"name": "remote", "transport": "http", "url": upstream_url})
            async with hub.http() as http:
                ok = await http.post("/mcp", json=modern_call("remote.add", {"a": 1, "b": 2}),
                                     headers={**MODERN_HEADERS, "Mcp-Name": "remote.add"})
                assert ok.status_code == 200, ok.text
                body = ok.json()
                assert body["id"] == 7 and body["result"]["structuredContent"] == {"result": 3}
                assert body["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "hub"

                bad_args = await http.post("/mcp", json=modern_call("remote.add", {"a": "x"}),
                                           headers={**MODERN_HEADERS, "Mcp-Name": "remote.add"})
                assert bad_args.json()["result"]["isError"] is True

                mismatch = await http.post("/mcp", json=modern_call("remote.add", {"a": 1, "b": 2}),
                                           headers={**MODERN_HEADERS, "Mcp-Name": "remote.echo"})
                assert mismatch.status_code == 400 and mismatch.json()["error"]["code"] == -32020

                unknown = await http.post("/mcp", json=modern_call("remote.nope", {}, request_id=9),
                                          headers={**MODERN_HEADERS, "Mcp-Name": "remote.nope"})
                error = _frames(unknown)[-1]
                assert error["id"] == 9 and error["error"]["code"] == types.INVALID_PARAMS

                evil = await http.post("/mcp", json=modern_call("remote.add", {"a": 1, "b": 2}),
                                       headers={**MODERN_HEADERS, "Mcp-Name": "remote.add",
                                                "Origin": "http://evil.example"})
                assert evil.status_code == 403

            async with hub.http(token=None) as anon:
                denied = await anon.post("/mcp", json=modern_call("remote.add", {"a": 1, "b": 2}),
                                         headers={**MODERN_HEADERS, "Mcp-Name": "remote.add"})
                assert denied.status_code == 401

            # RFC 9110: whitespace around a header value is not part of it (whichever HTTP parser runs)
            padded = await raw_post(hub, modern_call("remote.add", {"a": 1, "b": 2}),
                                    {**MODERN_HEADERS, "Mcp-Name": "  remote.add \t"})
            assert padded["result"]["structuredContent"] == {"result": 3}, padded


async def raw_post(hub, body: dict, headers: dict[str, str]) -> dict:
    """A POST written byte by byte (HTTP clients refuse to send padded header values)."""
    import json
    from urllib.parse import urlsplit

    url = urlsplit(hub.mcp_url)
    payload = json.dumps(body).encode()
    lines = [f"POST {url.path} HTTP/1.1", f"Host: {url.netloc}", "Content-Type: application/json",
             f"Authorization: Bearer {ADMIN_TOKEN}", f"Content-Length: {len(payload)}", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items())]
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
    answer = await reader.read()
    writer.close()
    head, _, content = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer[:300]
    return json.loads(content)


def _frames(response) -> list[dict]:
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        import json

        return [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")
                and line[5:].strip()]
    return [response.json()]
