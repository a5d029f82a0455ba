"""Approved agents' skills as MCP tools, and the hub as an A2A agent of its own (card, find_agents, call_tool)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from a2a.client import A2ACardResolver, Client, ClientConfig, create_client
from a2a.helpers import get_data_parts
from a2a.types import AgentCard, Message, Part, Role, SendMessageRequest
from a2a.utils.signing import create_signature_verifier
from google.protobuf.json_format import ParseDict
from mcp.shared.exceptions import MCPError

from tests.a2a_harness import A2A_HEADERS, AgentProcess, a2a_agent, approved_agent, rpc
from tests.gateway.e2e import audit, mcp_client, names, principal_token
from tests.harness import RunningHub, running_hub

AGENT = "echo"
TOOL = f"{AGENT}.echo"


@pytest.fixture(scope="module")
def agent() -> Iterator[AgentProcess]:
    with a2a_agent("--description", "Echoes the text you send it back to you, word for word.") as process:
        yield process


async def hub_verifier(hub: RunningHub) -> Any:
    async with hub.http(None) as http:
        jwks = (await http.get("/oauth/jwks")).json()
    keys = {k["kid"]: k for k in jwks["keys"]}
    return create_signature_verifier(key_provider=lambda kid, jku: jwt.PyJWK(keys[kid]), algorithms=["ES256"])


async def call_denied(client: Any, name: str, arguments: dict[str, Any]) -> str:
    """The error text of a call the hub must refuse (a protocol error or an error result)."""
    try:
        result = await client.call_tool(name, arguments)
    except MCPError as exc:
        return str(exc)
    assert result.is_error, result
    return result.content[0].text


async def test_skills_are_mcp_tools_of_the_granted(tmp_path: Path, agent: AgentProcess) -> None:
    async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
        await approved_agent(hub, agent, AGENT)
        owner_id, owner = await principal_token(hub, [f"agent:{AGENT}"])
        _, peer = await principal_token(hub, [f"agent:{AGENT}"])
        stranger_id, stranger = await principal_token(hub, ["agent:other"])

        async with mcp_client(hub, owner) as client:
            listed = {t.name: t for t in (await client.list_tools(cache_mode="bypass")).tools}
            assert TOOL in listed
            assert listed[TOOL].input_schema["required"] == ["message"]
            assert "word for word" in (listed[TOOL].description or "")

            result = await client.call_tool(TOOL, {"message": "hello"})
            assert not result.is_error, result
            assert result.content[0].text == "echo[anonymous]: hello"
            structured = result.structured_content
            assert structured["text"] == "echo[anonymous]: hello"
            assert structured["state"] == "TASK_STATE_COMPLETED"
            task_id = structured["task_id"]
            assert task_id and structured["context_id"]

            result = await client.call_tool(TOOL, {"message": "with data", "data": {"k": [1, 2]}})
            assert result.structured_content["data"] == [{"k": [1, 2]}]

            failed = await client.call_tool(TOOL, {"message": "fail"})
            assert failed.is_error and failed.structured_content["state"] == "TASK_STATE_FAILED"

            assert "Invalid arguments" in await call_denied(client, TOOL, {"text": "no message"})

        # the task the tool call created is the caller's on the A2A proxy too, and nobody else's
        async with hub.http(owner) as http:
            response = await rpc(http, f"/agents/{AGENT}/jsonrpc", "GetTask", {"id": task_id})
            assert response.json()["result"]["id"] == task_id, response.text
        async with hub.http(peer) as http:
            response = await rpc(http, f"/agents/{AGENT}/jsonrpc", "GetTask", {"id": task_id})
            assert response.json()["error"]["code"] == -32001, response.text
        async with mcp_client(hub, peer) as client:
            text = await call_denied(client, TOOL, {"message": "continue", "task_id": task_id})
            assert "Unknown task" in text

        async with mcp_client(hub, stranger) as client:
            assert TOOL not in await names(client)
            await call_denied(client, TOOL, {"message": "hello"})

        calls = await audit(hub, action="tools/call", target=TOOL)
        assert {r["principal"] for r in calls if r["decision"] == "allow"} >= {owner_id}
        assert any(r["principal"] == stranger_id and r["decision"] != "allow" for r in calls)
    assert (await agent.requests())["count"] > 0


async def test_streamed_status_becomes_progress(tmp_path: Path, agent: AgentProcess) -> None:
    async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
        await approved_agent(hub, agent, AGENT)
        _, token = await principal_token(hub, [f"agent:{AGENT}"])
        seen: list[tuple[float, str | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append((progress, message))

        async with mcp_client(hub, token) as client:
            result = await client.call_tool(TOOL, {"message": "slow 3"}, progress_callback=on_progress)
        assert not result.is_error, result
        assert result.content[0].text == "done after 3 steps"
        messages = [m for _, m in seen]
        steps = [m for m in messages if m and m.startswith("step ")]
        assert steps[:3] == ["step 1/3", "step 2/3", "step 3/3"], seen
        progress = [p for p, _ in seen]
        assert progress == sorted(set(progress)), seen  # strictly increasing


async def test_unapproved_or_quarantined_agents_have_no_tools(tmp_path: Path) -> None:
    with a2a_agent() as agent:
        async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
            async with hub.http() as admin:
                response = await admin.post("/api/v1/agents", json={"card_url": agent.card_url, "id": AGENT})
                assert response.status_code == 201, response.text
            _, token = await principal_token(hub, [f"agent:{AGENT}"])
            async with mcp_client(hub, token) as client:
                assert TOOL not in await names(client)
                await call_denied(client, TOOL, {"message": "hello"})
                async with hub.http() as admin:
                    assert (await admin.post(f"/api/v1/agents/{AGENT}/approve", json={})).status_code == 200
                    assert TOOL in await names(client)
                    await agent.set_card(description="Something else now.")
                    assert (await admin.post(f"/api/v1/agents/{AGENT}/refresh")).json()["state"] == "quarantined"
                assert TOOL not in await names(client)
                before = (await agent.requests())["count"]
                await call_denied(client, TOOL, {"message": "hello"})
                assert (await agent.requests())["count"] == before


async def test_each_progress_notification_describes_its_own_update(tmp_path: Path, agent: AgentProcess) -> None:
    """The final COMPLETED update carries no message: its progress notification must not repeat the previous
    update's text ("step 3/3") as if the agent were still at that step."""
    async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
        await approved_agent(hub, agent, AGENT)
        _, token = await principal_token(hub, [f"agent:{AGENT}"])
        seen: list[str | None] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append(message)

        async with mcp_client(hub, token) as client:
            assert not (await client.call_tool(TOOL, {"message": "slow 2"}, progress_callback=on_progress)).is_error
        assert seen[:2] == ["step 1/2", "step 2/2"], seen
        assert all(a != b for a, b in itertools.pairwise(seen)), seen


# -- the hub's own A2A agent ----------------------------------------------------------------------------------


@asynccontextmanager
async def hub_client(hub: RunningHub, token: str) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        card = await A2ACardResolver(http, hub.url).get_agent_card(signature_verifier=await hub_verifier(hub))
        client = await create_client(card, client_config=ClientConfig(httpx_client=http, streaming=False))
        try:
            yield client
        finally:
            await client.close()


async def ask(client: Client, *parts: Part) -> dict[str, Any]:
    """One message to the hub; the data part of its reply."""
    message = Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=list(parts))
    [event] = [e async for e in client.send_message(SendMessageRequest(message=message))]
    [data] = get_data_parts(event.message.parts)
    return data


def data_part(value: dict[str, Any]) -> Part:
    part = Part()
    part.data.struct_value.update(value)
    return part


async def search_ready(hub: RunningHub, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    async with hub.http() as admin:
        while True:
            status = (await admin.get("/api/v1/search/status")).json()
            if status.get("state") == "ready" and status["indexed"] == status["total"] >= 1:
                return
            assert status.get("state") != "failed", status
            assert time.monotonic() < deadline, f"search did not become ready: {status}"
            await asyncio.sleep(0.1)


async def test_hub_card_is_public_and_signed(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub, hub.http(None) as http:
        response = await http.get("/.well-known/agent-card.json")
        assert response.status_code == 200, response.text
        assert (await http.get("/.well-known/agent-card.json",
                               headers={"If-None-Match": response.headers["etag"]})).status_code == 304
        doc = response.json()
        assert [s["id"] for s in doc["skills"]] == ["find_agents", "find_tools", "call_tool"]
        assert [(i["protocolBinding"], i["url"]) for i in doc["supportedInterfaces"]] == [
            ("JSONRPC", f"{hub.url}/a2a/jsonrpc"), ("HTTP+JSON", f"{hub.url}/a2a/rest")]
        card = ParseDict(doc, AgentCard())
        assert len(card.signatures) == 1
        (await hub_verifier(hub))(card)

        # the card is public; the endpoints are not
        response = await rpc(http, "/a2a/jsonrpc", "SendMessage", {"message": {
            "role": "ROLE_USER", "messageId": "m", "parts": [{"text": "anything"}]}})
        assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
        response = await http.post("/a2a/rest/message:send", headers=A2A_HEADERS, json={"message": {
            "role": "ROLE_USER", "messageId": "m", "parts": [{"text": "anything"}]}})
        assert response.status_code == 401


async def test_hub_agent_finds_agents(tmp_path: Path, agent: AgentProcess) -> None:
    async with running_hub(tmp_path, agent_allow_loopback=True, search=True) as hub:
        await approved_agent(hub, agent, AGENT)
        await search_ready(hub)
        _, finder = await principal_token(hub, ["search", f"agent:{AGENT}"])
        _, blind = await principal_token(hub, ["search"])
        _, mute = await principal_token(hub, [f"agent:{AGENT}"])

        async with hub_client(hub, finder) as client:
            deadline = time.monotonic() + 30
            while True:  # the approval reaches the index in the background
                answer = await ask(client, Part(text="an agent that echoes text"))
                found = [r for r in answer["results"] if r.get("kind") == "agent"]
                if found or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert answer["query"] == "an agent that echoes text"
            assert [r["id"] for r in found] == [AGENT], answer
            assert found[0]["cardUrl"] == f"{hub.url}/agents/{AGENT}/.well-known/agent-card.json"
            assert found[0]["skills"] == ["echo"]

            tools_only = await ask(client, data_part({"skill": "find_tools", "query": "an agent that echoes text"}))
            assert all(r["kind"] == "tool" for r in tools_only["results"])

            refused = await ask(client, data_part({"skill": "teleport"}))
            assert refused["error"] == "ValueError" and "find_agents" in refused["message"]

        async with hub_client(hub, blind) as client:
            answer = await ask(client, Part(text="an agent that echoes text"))
            assert not [r for r in answer["results"] if r.get("kind") == "agent"], answer

        async with hub_client(hub, mute) as client:  # no search scope
            answer = await ask(client, Part(text="an agent that echoes text"))
            assert answer["error"] == "Forbidden", answer

        assert await audit(hub, action="search")


async def test_hub_agent_calls_tools_the_caller_may_use(tmp_path: Path, agent: AgentProcess) -> None:
    async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
        await approved_agent(hub, agent, AGENT)
        caller_id, caller = await principal_token(hub, [f"agent:{AGENT}"])
        stranger_id, stranger = await principal_token(hub, ["agent:other"])

        async with hub_client(hub, caller) as client:
            called = await ask(client, data_part({"skill": "call_tool", "name": TOOL,
                                                  "arguments": {"message": "via the hub"}}))
            assert called["structuredContent"]["text"] == "echo[anonymous]: via the hub", called
            bad = await ask(client, data_part({"skill": "call_tool", "name": TOOL}))
            assert bad.get("isError") is True and "Invalid arguments" in bad["content"][0]["text"], bad

        # a tool the caller may not use is answered like any other refusal (a data part naming the error),
        # not as an internal error of the hub
        async with hub_client(hub, stranger) as client:
            refused = await ask(client, data_part({"skill": "call_tool", "name": TOOL,
                                                   "arguments": {"message": "sneaky"}}))
            assert refused.get("error") == "NotFound" and TOOL in refused.get("message", ""), refused

        calls = await audit(hub, action="tools/call", target=TOOL)
        assert [r["decision"] for r in calls if r["principal"] == caller_id][:1] == ["allow"]
        assert [r["decision"] for r in calls if r["principal"] == stranger_id] == ["deny"]
