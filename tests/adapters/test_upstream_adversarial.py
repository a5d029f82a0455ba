"""The hub against malicious or broken upstream MCP servers (Streamable HTTP of either era, and stdio).

A real hub on loopback, real hostile upstreams (tests/hostile_upstream.py, raw JSON-RPC in a process of its
own). Whatever the upstream does, the hub answers its callers with a clear, bounded error, keeps serving
/healthz and its other upstreams, and spends bounded time and memory on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.harness import ROOT, RunningHub, free_port, http_upstream, listening_process, running_hub

SECRET = "Bearer upstream-secret-0123456789"
MAX_MESSAGE = 4096  # what a caller may be shown of any one upstream failure, at most (generous)


@contextlib.contextmanager
def hostile(scenario: str, era: str = "modern", **env: str) -> Iterator[str]:
    """A hostile upstream process; yields its /mcp URL. `env` configures the scenario (HOSTILE_*)."""
    port = free_port()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with listening_process([sys.executable, "-m", "tests.hostile_upstream", "http", str(port), scenario, era],
                               port, f"hostile upstream {scenario}"):
            yield f"http://127.0.0.1:{port}/mcp"
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def stats(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        return (await http.get(url.removesuffix("/mcp") + "/stats")).json()


async def register(hub: RunningHub, name: str, url: str | None = None, **body: Any) -> httpx.Response:
    spec: dict[str, Any] = {"name": name, "auto_approve": True, **body}
    if url is not None:
        spec.update(transport="http", url=url, headers={"Authorization": SECRET})
    async with hub.http() as http:
        return await http.post("/api/v1/upstreams", json=spec)


async def assert_healthy(hub: RunningHub) -> None:
    """/healthz answers at once (the other upstreams' health is checked where a test has one)."""
    async with hub.http() as http:
        started = time.monotonic()
        assert (await http.get("/healthz")).status_code == 200
        assert time.monotonic() - started < 5  # generous: a blocked event loop takes far longer


async def assert_not_registered(hub: RunningHub, name: str) -> None:
    """A refused registration leaves nothing behind: no upstream, no tools, the name free for another try."""
    async with hub.http() as http:
        assert (await http.get(f"/api/v1/upstreams/{name}")).status_code == 404
        tools = (await http.get("/api/v1/tools")).json()["tools"]
        assert not [t for t in tools if t["name"].startswith(f"{name}.")]


def refused(response: httpx.Response, *words: str) -> str:
    """A registration refused with a clear, bounded problem that leaks no credential."""
    assert response.status_code in (409, 502), response.text[:2000]
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert len(response.text) < MAX_MESSAGE, len(response.text)
    assert "upstream-secret" not in response.text
    for word in words:
        assert word in detail, detail
    return detail


@contextlib.asynccontextmanager
async def caller(hub: RunningHub, mode: str = "auto") -> AsyncIterator[Client]:
    async with hub.mcp_http() as http, Client(streamable_http_client(hub.mcp_url, http_client=http),
                                              mode=mode) as client:
        yield client


# ------------------------------------------------------------------------------------------ listings


@pytest.mark.parametrize("era", ["modern", "legacy"])
async def test_a_cursor_that_never_ends_is_cut_off(tmp_path: Path, era: str) -> None:
    """Already correct: at most MAX_LIST_PAGES pages, then a clear refusal."""
    with hostile("endless_cursor", era) as url:
        async with running_hub(tmp_path) as hub:
            started = time.monotonic()
            refused(await register(hub, "h", url), "paginated tools past 200 pages")
            assert time.monotonic() - started < 20
            await assert_not_registered(hub, "h")
            assert (await stats(url))["methods"]["tools/list"] == 200
            await assert_healthy(hub)


async def test_a_cursor_that_repeats_is_refused(tmp_path: Path) -> None:
    """It used to page round in circles for 200 requests; a cursor seen before now ends the listing at once."""
    with hostile("repeating_cursor") as url:
        async with running_hub(tmp_path) as hub:
            refused(await register(hub, "h", url), "repeated a cursor")
            assert (await stats(url))["methods"]["tools/list"] == 2


@pytest.mark.parametrize("scenario", ["fat_pages", "endless_prompts"])
async def test_a_listing_is_bounded_in_bytes_not_only_in_pages(tmp_path: Path, scenario: str) -> None:
    """200 pages of 200 KB (each under the 1 MiB answer cap) is 40 MB of definitions held at once; with a
    cap of 8 MiB per answer that was 1.6 GB. The whole listing is bounded (8 answers' worth)."""
    with hostile(scenario) as url:
        async with running_hub(tmp_path, max_upstream_response_bytes=1024 * 1024) as hub:
            what = "tools" if scenario == "fat_pages" else "prompts"
            refused(await register(hub, "h", url), f"listing {what}", "exceeded")
            pages = (await stats(url))["methods"][f"{what}/list"]
            assert pages <= 8 * 1024 * 1024 // (200 * 1024) + 1, pages
            await assert_not_registered(hub, "h")
            await assert_healthy(hub)


# ------------------------------------------------------------------------------------------ tool definitions


@pytest.mark.parametrize("name", ["a/b", "has space", "ツール", "bell\x07", "nul\x00", "", "n" * 10_000, "x" * 129])
async def test_tool_names_outside_the_mcp_charset_are_refused_with_a_bounded_message(tmp_path: Path,
                                                                                      name: str) -> None:
    """The refusal used to quote the upstream's name whole (twice): a 10k-character name made a 20 KB problem
    (and log line, at every periodic re-sync)."""
    with hostile("bad_names", HOSTILE_NAME=json.dumps(name)) as url:
        async with running_hub(tmp_path) as hub:
            detail = refused(await register(hub, "h", url), "not a valid MCP tool name")
            assert "\x00" not in detail and "\x07" not in detail
            await assert_not_registered(hub, "h")


async def test_a_dotted_tool_name_is_accepted_under_the_prefix(tmp_path: Path) -> None:
    """Already correct: dots are in the MCP charset; `h.a.b` still routes to the upstream's `a.b`."""
    with hostile("bad_names", HOSTILE_NAME=json.dumps("a.b")) as url:
        async with running_hub(tmp_path) as hub:
            assert (await register(hub, "h", url)).status_code == 201
            async with hub.http() as http:
                tool = (await http.get("/api/v1/tools/h.a.b")).json()
            assert tool["name"] == "h.a.b"


async def test_a_tool_listed_twice_is_refused(tmp_path: Path) -> None:
    """Already correct: two definitions under one name could be switched at will."""
    with hostile("duplicate_names") as url:
        async with running_hub(tmp_path) as hub:
            refused(await register(hub, "h", url), "twice")


@pytest.mark.parametrize("shape", ["string", "list", "null", "number"])
async def test_an_input_schema_that_is_not_an_object_is_refused(tmp_path: Path, shape: str) -> None:
    """Already correct (for the caller): the SDK refuses the page; the hub says so, bounded."""
    with hostile("wrong_shapes", HOSTILE_SHAPE=shape) as url:
        async with running_hub(tmp_path) as hub:
            refused(await register(hub, "h", url), "listing tools")


async def test_annotations_of_the_wrong_types_are_refused(tmp_path: Path) -> None:
    with hostile("bad_annotations") as url:
        async with running_hub(tmp_path) as hub:
            refused(await register(hub, "h", url), "listing tools")


async def held_or_refused(hub: RunningHub, response: httpx.Response) -> bool:
    """True when the hub serves the bomb; else it refused the listing, or holds the tool for an admin's review."""
    if response.status_code != 201:
        refused(response)
        return False
    async with hub.http() as http:
        tool = (await http.get("/api/v1/tools/h.bomb")).json()
    if tool["state"] != "approved":
        assert tool["flags"], tool  # held because the scan found something: it says what
        return False
    return True


async def raw_call(hub: RunningHub, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A plain 2026-07-28 tools/call (no client-side output validation: what the hub itself answers)."""
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"}}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": name, "arguments": arguments, "_meta": meta}}
    headers = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": name,
               "Accept": "application/json, text/event-stream"}
    async with hub.http() as http:
        response = await http.post("/mcp", json=body, headers=headers)
    assert response.status_code == 200, response.text[:500]
    assert len(response.text) < MAX_MESSAGE
    return response.json()


@pytest.mark.parametrize("which", ["ref_cycle", "ref_root", "ref_mutual", "ref_remote", "deep", "huge_enum",
                                   "bad_keyword", "bad_pattern", "not_object_type"])
async def test_schema_bombs_in_the_input_schema_never_break_a_call(tmp_path: Path, which: str) -> None:
    """Whatever the upstream's schema, the hub refuses the listing (`deep`: past the JSON parser's nesting
    limit, which used to be a 500), holds the tool for review (`huge_enum`: oversized), or a call ends in a
    result (the upstream's, or an isError naming the problem), never an internal error."""
    with hostile("schema", HOSTILE_SCHEMA=which) as url:
        async with running_hub(tmp_path, upstream_timeout_s=5) as hub:
            if await held_or_refused(hub, await register(hub, "h", url)):
                for arguments in ({"a": "x"}, {"a": {"a": {"a": {}}}}, {}):
                    started = time.monotonic()
                    answer = await raw_call(hub, "h.bomb", arguments)
                    assert time.monotonic() - started < 5
                    assert "result" in answer, answer
            await assert_healthy(hub)


@pytest.mark.parametrize("which", ["ref_cycle", "ref_root", "ref_mutual", "ref_remote", "deep", "bad_keyword"])
async def test_schema_bombs_in_the_output_schema_never_break_a_call(tmp_path: Path, which: str) -> None:
    with hostile("schema", HOSTILE_SCHEMA=which, HOSTILE_SCHEMA_AT="outputSchema") as url:
        async with running_hub(tmp_path, upstream_timeout_s=5) as hub:
            if await held_or_refused(hub, await register(hub, "h", url)):
                assert "result" in await raw_call(hub, "h.bomb", {})
            await assert_healthy(hub)


async def test_a_huge_description_is_bounded(tmp_path: Path) -> None:
    """A 1 MB description (under the answer cap) is a tool no model should be handed whole."""
    with hostile("huge_description", HOSTILE_FAT_BYTES=str(1024 * 1024)) as url:
        async with running_hub(tmp_path, max_upstream_response_bytes=4 * 1024 * 1024) as hub:
            started = time.monotonic()
            response = await register(hub, "h", url)
            assert time.monotonic() - started < 10
            if response.status_code == 201:
                async with caller(hub) as client:
                    wordy = [t for t in (await client.list_tools()).tools if t.name == "h.wordy"]
                    assert not wordy or len(wordy[0].description or "") <= 64 * 1024
            else:
                refused(response)
            await assert_healthy(hub)


# ------------------------------------------------------------------------------------------ notifications


async def test_a_list_changed_flood_does_not_drive_resyncs_in_a_tight_loop(tmp_path: Path) -> None:
    """A 2026-07-28 upstream announcing list_changed thousands of times a second, each time with a changed
    tool: the hub re-lists it at a bounded rate (it used to re-sync back to back: list, hash, store, re-index,
    tell every client, as fast as the upstream answered), and the last change still lands."""
    with hostile("list_changed_flood") as url:
        async with running_hub(tmp_path) as hub:
            assert (await register(hub, "h", url)).status_code == 201
            before = (await stats(url))["methods"]["tools/list"]
            await asyncio.sleep(4)
            await assert_healthy(hub)
            listed = (await stats(url))["methods"]["tools/list"] - before
            assert 1 <= listed <= 8, listed  # about one re-sync a second
            async with hub.http() as http:
                description = (await http.get("/api/v1/tools/h.echo")).json()["description"]
            assert description.startswith("Echo the text back (")


# ------------------------------------------------------------------------------------------ answers to calls

# tool -> what the caller gets: "ok:<text>" (the upstream's answer), or "error" (an isError result or a protocol
# error, clear and bounded either way).
MISBEHAVIOURS = {
    "huge_error": "error", "dict_error": "error", "string_code": "error", "float_code": "error",
    "null_error": "error", "result_and_error": "error", "wrong_shape": "error",
    "result_list": "error", "unknown_content": "error", "echo_secret": "error", "drip": "error",
    "endless_sse": "error", "html": "error", "s401": "error", "s403": "error", "s429": "error", "s500": "error",
    "redirect": "error", "progress_unknown": "ok:fine", "sampling_anyway": "ok:asked anyway",
    "garbage_type": "any", "no_type": "any",
    # The SDK session drops an answer to another request (the call times out); the lean 2026-07-28 path takes
    # the one answer its one POST gets, whatever id it carries (harmless: the upstream could use the right one).
    "wrong_id": "any",
}


async def outcome(client: Client, name: str) -> tuple[str, str]:
    try:
        result = await client.call_tool(name, {})
    except MCPError as exc:
        return "error", exc.error.model_dump_json()
    text = " ".join(getattr(c, "text", "") for c in result.content)
    return ("error" if result.is_error else f"ok:{text}"), result.model_dump_json()


@pytest.mark.parametrize("era", ["modern", "legacy"])
async def test_misbehaving_answers_to_calls_give_clear_bounded_errors(tmp_path: Path, era: str) -> None:
    with hostile("plain", era, HOSTILE_REDIRECT="http://127.0.0.1:9/elsewhere") as url:
        async with running_hub(tmp_path, upstream_timeout_s=3, tool_rate_limit="") as hub:
            assert (await register(hub, "h", url, timeout_s=3)).status_code == 201
            async with caller(hub) as client:
                problems = []
                for name, expected in MISBEHAVIOURS.items():
                    started = time.monotonic()
                    got, shown = await outcome(client, f"h.{name}")
                    took = time.monotonic() - started
                    if took > 3 + 2 or len(shown) > MAX_MESSAGE or "upstream-secret" in shown \
                            or expected not in ("any", got):
                        problems.append((name, got, round(took, 1), len(shown), shown[:300]))
                    # one misbehaving call never takes the upstream's other tools down with it
                    fine = await client.call_tool("h.echo", {"text": "still here"})
                    if fine.is_error or fine.content[0].text != "still here":
                        problems.append((name, "broke echo", fine.model_dump_json()[:300]))
                assert not problems, "\n".join(map(str, problems))
            await assert_healthy(hub)


# ------------------------------------------------------------------------------------------ HTTP level


@pytest.mark.parametrize("era", ["modern", "legacy"])
async def test_redirects_are_not_followed_and_carry_no_credentials_elsewhere(tmp_path: Path, era: str) -> None:
    """Already correct: neither the SDK sessions nor the lean call path follow a redirect, so the upstream's
    credentials never reach the other host."""
    port = free_port()
    with listening_process([sys.executable, "-m", "tests.hostile_upstream", "http", str(port), "capture"], port,
                           "capture server"):
        elsewhere = f"http://127.0.0.1:{port}/mcp"
        with hostile("redirect_everything", era, HOSTILE_REDIRECT=elsewhere) as url:
            async with running_hub(tmp_path) as hub:
                refused(await register(hub, "h", url), "listing tools")
        with hostile("plain", era, HOSTILE_REDIRECT=elsewhere) as url:
            async with running_hub(tmp_path / "2") as hub:
                assert (await register(hub, "h", url)).status_code == 201
                async with caller(hub) as client:
                    got, shown = await outcome(client, "h.redirect")
                    assert got == "error" and "upstream-secret" not in shown
        assert sum((await stats(elsewhere))["methods"].values()) == 0


@pytest.mark.parametrize("status", ["401", "403", "429", "500"])
async def test_http_errors_with_bodies_are_named_by_status_only(tmp_path: Path, status: str) -> None:
    """Already correct: the refusal names the status, never the body (which echoes the credential here)."""
    with hostile("http_status", HOSTILE_STATUS=status) as url:
        async with running_hub(tmp_path) as hub:
            detail = refused(await register(hub, "h", url))
            assert "go away" not in detail


async def test_an_upstream_echoing_its_credential_in_a_handshake_error_is_redacted(tmp_path: Path) -> None:
    """The refusal (and each upstream's last connection error, which the public /readyz shows) quotes the
    upstream's own error message: the hub's credential for it, echoed back, used to be shown as is."""
    with hostile("echo_handshake") as url:
        async with running_hub(tmp_path) as hub:
            detail = refused(await register(hub, "h", url), "bad request; you sent ***")
            assert "0123456789" not in detail


async def test_server_requests_during_a_listing_are_refused_not_relayed(tmp_path: Path) -> None:
    """Already correct: a session-era upstream asking for sampling or elicitation while the hub lists its tools
    (no caller behind it) is told no, and the listing completes."""
    with hostile("sample_during_list", "legacy") as url:
        async with running_hub(tmp_path) as hub:
            assert (await register(hub, "h", url)).status_code == 201


# ------------------------------------------------------------------------------------------ stdio


def hostile_stdio(scenario: str, pidfile: Path | None = None) -> dict[str, Any]:
    env = {"HOSTILE_PIDFILE": str(pidfile)} if pidfile else {}
    return {"transport": "stdio", "command": [sys.executable, "-m", "tests.hostile_upstream", "stdio", scenario],
            "cwd": str(ROOT), "env": env, "timeout_s": 3}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(ChildProcessError):  # reaped or not, a zombie is no process
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_stdio_server_writing_garbage_lines_still_works(tmp_path: Path) -> None:
    """Already correct: junk, a NUL, invalid UTF-8, an answer to nobody's request and a half line around each
    real answer are skipped."""
    async with running_hub(tmp_path) as hub:
        assert (await register(hub, "g", **hostile_stdio("garbage"))).status_code == 201
        async with caller(hub) as client:
            result = await client.call_tool("g.echo", {"text": "x"})
            assert not result.is_error and result.content[0].text == "stdio"


async def test_a_stdio_server_flooding_stderr_cannot_fill_the_disk(tmp_path: Path) -> None:
    """The child used to write straight into .hub/upstreams/<name>.stderr.log: without bound."""
    from hub.adapters.mcp_stdio import MAX_STDERR_BYTES

    async with running_hub(tmp_path) as hub:
        assert (await register(hub, "loud", **hostile_stdio("stderr_flood"))).status_code == 201
        log = tmp_path / "hub" / "upstreams" / "loud.stderr.log"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and b"restarted" not in log.read_bytes()[:200]:
            await asyncio.sleep(0.2)
        async with caller(hub) as client:
            assert (await client.call_tool("loud.echo", {})).content[0].text == "stdio"
        await assert_healthy(hub)
        assert log.stat().st_size <= MAX_STDERR_BYTES + 256 * 1024
        assert b"stderr log restarted" in log.read_bytes()[:200]


@pytest.mark.parametrize("scenario", ["close_stdout", "forks"])
async def test_stdio_servers_that_will_not_die_are_killed(tmp_path: Path, scenario: str) -> None:
    """Already correct: a server that closes stdout but lives on (SIGTERM ignored), or forks a child that holds
    its pipes, fails the call clearly and is killed, process group and all, when the hub lets go of it."""
    pidfile = tmp_path / "pids"
    with http_upstream() as other:
        async with running_hub(tmp_path) as hub:
            assert (await register(hub, "w", **hostile_stdio(scenario, pidfile))).status_code == 201
            assert (await register(hub, "other", other)).status_code == 201
            async with caller(hub) as client:
                started = time.monotonic()
                result = await client.call_tool("w.echo", {"text": "x"})
                assert time.monotonic() - started < 3 + 2
                if scenario == "close_stdout":
                    assert result.is_error and "w" in result.content[0].text
                assert (await client.call_tool("other.echo", {"text": "fine"})).content[0].text == "fine"
            await assert_healthy(hub)
            async with hub.http() as http:
                assert (await http.delete("/api/v1/upstreams/w")).status_code == 204
    pids = [int(p) for p in pidfile.read_text().split()]
    assert pids
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert not [p for p in pids if alive(p)]
