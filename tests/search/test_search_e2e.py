"""Semantic search end to end: real upstreams, the real model, the real index, principals with real grants."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from hub.search import search as search_module
from tests.gateway.e2e import GW, approve, audit, is_, mcp_client, names, principal_token, register, tool
from tests.gateway.test_cli import hub_cli
from tests.harness import RunningHub, http_upstream, running_hub
from tests.identity.oauth_helpers import eventually

CORPUS = "tests.fixtures.corpus_server"

DOCS = [
    {"name": "pdf_to_text", "description": "Extract the plain text from a PDF document.",
     "parameters": {"type": "object", "properties": {"url": {"type": "string", "description": "the PDF's URL"}},
                    "required": ["url"]}},
    {"name": "summarize_document", "description": "Summarize a long document into a few sentences."},
    {"name": "translate_text", "description": "Translate text from one language into another."},
    {"name": "send_email", "description": "Send an email message to a recipient."},
]
# Many close decoys in another upstream: a post-filter over a global top-k would lose the allowed entries.
OPS = [{"name": f"pdf_tool_{i}", "description": f"Variant {i} of a tool that reads PDF files and extracts their text."}
       for i in range(40)] + [
    {"name": "weather_forecast", "description": "Weather forecast for a city for the next days."},
    {"name": "restart_server", "description": "Restart a server in the data center."},
]


def corpus(tmp_path: Path, name: str, rows: list[dict[str, Any]]) -> str:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return str(path)


async def add_upstream(hub: RunningHub, name: str, url: str) -> None:
    async with hub.http() as http:
        response = await http.post("/api/v1/upstreams", json={"name": name, "transport": "http", "url": url,
                                                               "auto_approve": True})
    assert response.status_code == 201, response.text


async def indexed(hub: RunningHub, at_least: int, timeout: float = 120) -> dict[str, Any]:
    """Wait until the background indexer has caught up with a catalog of at least this many entries."""
    deadline = time.monotonic() + timeout
    async with hub.http() as http:
        while True:
            status = (await http.get("/readyz")).json().get("search", {})
            if status.get("state") == "ready" and status["indexed"] == status["total"] >= at_least:
                return status
            assert status.get("state") != "failed", status
            assert time.monotonic() < deadline, f"search did not catch up: {status}"
            await asyncio.sleep(0.1)


async def search(hub: RunningHub, token: str, q: str, **params: str) -> list[dict[str, Any]]:
    async with hub.http(token) as http:
        response = await http.get("/api/v1/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()["results"]


@pytest.mark.parametrize("qdrant_url", [None, ":memory:"], ids=["edge", "qdrant-client"])
async def test_each_principal_ranks_only_what_it_may_see(tmp_path: Path, qdrant_url: str | None) -> None:
    with http_upstream(CORPUS, corpus(tmp_path, "docs", DOCS)) as docs_url, \
            http_upstream(CORPUS, corpus(tmp_path, "ops", OPS)) as ops_url:
        async with running_hub(tmp_path, search=True, qdrant_url=qdrant_url) as hub:
            await add_upstream(hub, "docs", docs_url)
            await add_upstream(hub, "ops", ops_url)
            await indexed(hub, len(DOCS) + len(OPS))
            _, reader = await principal_token(hub, ["search", "upstream:docs"])
            _, narrow = await principal_token(hub, ["search", "tool:ops.weather_forecast", "tool:docs.send_email"])

            query = "get the text out of a PDF file"
            admin = await search(hub, "test-admin-token-0123456789", query, limit="50")
            decoys = {f"ops.pdf_tool_{i}" for i in range(40)}
            assert len(admin) == len(DOCS) + len(OPS)
            assert {r["name"] for r in admin[:5]} <= decoys | {"docs.pdf_to_text"}

            seen = await search(hub, reader, query, limit="10")
            assert seen[0]["name"] == "docs.pdf_to_text"
            assert {r["name"] for r in seen} == {f"docs.{t['name']}" for t in DOCS}  # all four, nothing else

            # Both of narrow's tools rank below 40 decoys globally, yet both come back: ranked within its grants.
            seen = await search(hub, narrow, query, limit="2")
            assert {r["name"] for r in seen} == {"ops.weather_forecast", "docs.send_email"}
            assert (await search(hub, narrow, "will it rain in Paris tomorrow", limit="1"))[0]["name"] == \
                "ops.weather_forecast"
            assert all(set(r) == {"kind", "name", "title", "description", "score"} for r in seen)


async def test_the_embedded_index_is_optimised_in_the_background_with_the_same_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "OPTIMIZE_AFTER", 20)
    with http_upstream(CORPUS, corpus(tmp_path, "ops", OPS)) as ops_url:
        async with running_hub(tmp_path, search=True) as hub:
            admin = "test-admin-token-0123456789"
            await add_upstream(hub, "ops", ops_url)
            await indexed(hub, len(OPS))
            before = await search(hub, admin, "get the text out of a PDF file", limit="50")
            async with hub.http() as http:
                for _ in range(600):  # a child process optimises a copy; the hub then swaps it in
                    status = (await http.get("/readyz")).json()["search"]
                    if status.get("optimized") and not status.get("optimizing"):
                        break
                    await asyncio.sleep(0.1)
            assert status.get("optimized") == 1, status
            after = await search(hub, admin, "get the text out of a PDF file", limit="50")
            assert [(r["name"], round(r["score"], 4)) for r in after] == \
                [(r["name"], round(r["score"], 4)) for r in before]
            assert (tmp_path / "hub" / "search.current").read_text().startswith("search-")


async def test_quarantine_and_kill_switches_leave_results_at_once(tmp_path: Path) -> None:
    with http_upstream(GW) as gw_url, http_upstream(CORPUS, corpus(tmp_path, "docs", DOCS)) as docs_url:
        async with running_hub(tmp_path, search=True) as hub:
            await register(hub, gw_url, auto_approve=True)
            await add_upstream(hub, "docs", docs_url)
            before = await indexed(hub, len(DOCS) + 8)
            admin = "test-admin-token-0123456789"
            assert (await search(hub, admin, "say hello to someone by name", limit="1"))[0]["name"] == "gw.greet"

            async def state() -> str:
                return (await tool(hub, "gw.greet"))["state"]

            # The upstream redefines greet: quarantined, and gone from search without waiting for the indexer.
            async with mcp_client(hub, admin) as client:
                result = await client.call_tool("gw.redefine", {"description": "Greet a person by their name.",
                                                                "extra_argument": False})
                assert not result.is_error
            assert await eventually(lambda: is_(state, "quarantined"), 10)
            assert "gw.greet" not in {r["name"] for r in await search(hub, admin, "say hello to someone", limit="50")}
            after = await indexed(hub, len(DOCS) + 8)
            assert after["embedded"] == before["embedded"] + 1  # only the changed definition was re-embedded
            # Approving the new definition makes it searchable within moments, with nothing more to embed.
            assert (await approve(hub, "gw.greet")).status_code == 200

            async def found() -> bool:
                hits = await search(hub, admin, "greet a person by their name", limit="1")
                return hits[0]["name"] == "gw.greet"

            assert await eventually(found, 10)
            assert (await indexed(hub, len(DOCS) + 8))["embedded"] == after["embedded"]

            # A disabled tool, then a disabled upstream, leave the results immediately.
            async with hub.http() as http:
                assert (await http.post("/api/v1/tools/docs.pdf_to_text/disable", json={})).status_code == 200
            results = {r["name"] for r in await search(hub, admin, "extract text from a PDF", limit="50")}
            assert "docs.pdf_to_text" not in results and "docs.summarize_document" in results
            async with hub.http() as http:
                assert (await http.post("/api/v1/upstreams/docs/disable")).status_code == 200
            results = {r["name"] for r in await search(hub, admin, "extract text from a PDF", limit="50")}
            assert not {n for n in results if n.startswith("docs.")}
            async with hub.http() as http:
                assert (await http.post("/api/v1/upstreams/docs/enable")).status_code == 200
            results = {r["name"] for r in await search(hub, admin, "summarize a document", limit="50")}
            assert "docs.summarize_document" in results


async def test_restart_embeds_nothing_already_indexed(tmp_path: Path) -> None:
    with http_upstream(CORPUS, corpus(tmp_path, "docs", DOCS)) as docs_url:
        async with running_hub(tmp_path, search=True) as hub:
            await add_upstream(hub, "docs", docs_url)
            # The CLI's progress bar follows the indexer to the end.
            code, _, err = await hub_cli(hub, "search", "status", "--wait", "--timeout", "120")
            assert code == 0 and "indexing" in err and f"{len(DOCS)}/{len(DOCS)}" in err
            first = await indexed(hub, len(DOCS))
            assert first["embedded"] == len(DOCS)
            code, out, _ = await hub_cli(hub, "search", "send a message by email", "--limit", "2")
            assert code == 0 and out.splitlines()[0].split()[1] == "docs.send_email" and len(out.splitlines()) == 2
            admin = "test-admin-token-0123456789"
            before = await search(hub, admin, "translate into French", limit="4")
        async with running_hub(tmp_path, search=True) as hub:
            again = await indexed(hub, len(DOCS))
            assert again["embedded"] == 0 and again["indexed"] == len(DOCS)
            # The ranking's feedback step reads the vectors it did not embed back from the index: same answer.
            after = await search(hub, admin, "translate into French", limit="4")
            assert after[0]["name"] == "docs.translate_text"
            assert [(r["name"], round(r["score"], 3)) for r in after] == \
                [(r["name"], round(r["score"], 3)) for r in before]


async def test_mcp_find_tools_and_discovery_mode(tmp_path: Path) -> None:
    with http_upstream(CORPUS, corpus(tmp_path, "docs", DOCS)) as docs_url, \
            http_upstream(CORPUS, corpus(tmp_path, "ops", OPS)) as ops_url:
        async with running_hub(tmp_path, search=True, discovery_threshold=10) as hub:
            await add_upstream(hub, "docs", docs_url)
            await add_upstream(hub, "ops", ops_url)
            await indexed(hub, len(DOCS) + len(OPS))
            _, few = await principal_token(hub, ["search", "upstream:docs"])
            _, many = await principal_token(hub, ["search", "upstream:docs", "upstream:ops"])
            _, blind = await principal_token(hub, ["upstream:docs"])

            async with mcp_client(hub, few) as client:
                listed = await names(client)
                assert "hub.find_tools" in listed and "docs.pdf_to_text" in listed and "hub.call_tool" not in listed
                result = await client.call_tool("hub.find_tools", {"query": "email someone", "limit": 2})
                found = result.structured_content["tools"]
                assert found[0]["name"] == "docs.send_email" and found[0]["inputSchema"]["type"] == "object"
                assert len(found) == 2

            # Past the threshold the list is the meta-tools; hub.call_tool reaches a found tool.
            async with mcp_client(hub, many) as client:
                assert await names(client) == ["hub.call_tool", "hub.find_agents", "hub.find_tools",
                                                "hub.request_access"]
                found = (await client.call_tool("hub.find_tools", {"query": "PDF to text"})).structured_content
                assert len(found["tools"]) == 10
                result = await client.call_tool("hub.call_tool", {"name": "docs.pdf_to_text",
                                                                  "arguments": {"url": "http://x/a.pdf"}})
                assert not result.is_error and result.content[0].text == "pdf_to_text"
                # Arguments are checked against the found tool's schema, as for a direct call.
                bad = await client.call_tool("hub.call_tool", {"name": "docs.pdf_to_text", "arguments": {}})
                assert bad.is_error and "url" in bad.content[0].text
                assert (await client.call_tool("hub.find_agents", {"query": "negotiate"})).structured_content == {
                    "agents": []}
            records = await audit(hub, action="tools/call", target="docs.pdf_to_text")
            assert [r["outcome"] for r in records if r["decision"] == "allow"] == ["ok"]

            async with mcp_client(hub, few) as client:  # no call-through for what the caller may not use
                with pytest.raises(Exception, match="Unknown tool"):
                    await client.call_tool("hub.call_tool", {"name": "ops.restart_server"})

            async with mcp_client(hub, blind) as client:  # no search scope: no search tools, and a full list
                listed = await names(client)
                assert "hub.find_tools" not in listed and "docs.pdf_to_text" in listed
            async with hub.http(blind) as http:
                response = await http.get("/api/v1/search", params={"q": "pdf"})
            assert response.status_code == 403 and response.json()["required_scopes"] == ["search"]


async def test_search_input_is_validated_and_failures_are_clear(tmp_path: Path) -> None:
    async with running_hub(tmp_path, search=True, search_model=str(tmp_path / "no-such-model"),
                           tool_rate_limit="1/m") as hub, \
            hub.http() as http:
        for params, status in [({}, 400), ({"q": "x" * 1001}, 400), ({"q": "pdf", "kind": "file"}, 400),
                               ({"q": "pdf", "limit": "0"}, 400), ({"q": "pdf", "limit": "51"}, 400),
                               ({"q": "pdf", "limit": "ten"}, 400)]:
            response = await http.get("/api/v1/search", params=params)
            assert response.status_code == status, (params, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        deadline = time.monotonic() + 60
        while (await http.get("/readyz")).json()["search"]["state"] != "failed":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        response = await http.get("/api/v1/search", params={"q": "pdf"})
        assert response.status_code == 503 and "Search is unavailable" in response.json()["detail"]
        assert "Traceback" not in response.text
        response = await http.get("/api/v1/search", params={"q": "pdf"})  # searches count against the limits
        assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1


async def test_an_unreachable_qdrant_server_is_a_clear_503(tmp_path: Path) -> None:
    async with running_hub(tmp_path, search=True, qdrant_url="http://127.0.0.1:9") as hub, hub.http() as http:
        deadline = time.monotonic() + 60
        while (status := (await http.get("/readyz")).json())["search"]["state"] != "failed":
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.1)
        assert status["status"] == "ready"  # the rest of the hub serves on
        response = await http.get("/api/v1/search", params={"q": "pdf"})
        assert response.status_code == 503 and response.json()["detail"].startswith("Search is unavailable")
