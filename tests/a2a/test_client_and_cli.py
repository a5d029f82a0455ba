"""`hub.client.HubClient` and `hub agents ...` against a real hub, the real fixture agent and a real MCP upstream: an
agent principal registers itself, the admin approves it on the command line, a caller finds it (search loads the
embedding model, a few seconds), talks to it through the hub's proxy and calls tools."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest
from a2a.helpers import get_artifact_text, get_message_text
from a2a.types import Task, TaskState

from hub.client import HubClient, HubError
from tests.a2a_harness import a2a_agent
from tests.harness import ADMIN_TOKEN, ROOT, RunningHub, http_upstream, running_hub
from tests.identity.oauth_helpers import create_principal, eventually

AGENT_TOKEN = "agent-secret"


async def hub_cli(hub: RunningHub, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "HUB_TOKEN": ADMIN_TOKEN}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "hub.cli", *args, "--url", hub.url, env=env,
                                                cwd=str(ROOT), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


def client(hub: RunningHub, principal: dict) -> HubClient:
    return HubClient(hub.url, client_id=principal["client_id"], client_secret=principal["client_secret"])


async def test_register_approve_find_send_stream_and_call(tmp_path):
    with a2a_agent("--token", AGENT_TOKEN) as agent, http_upstream() as upstream:
        async with running_hub(tmp_path, search=True, agent_allow_loopback=True) as hub:
            async with hub.http() as admin:
                response = await admin.post("/api/v1/upstreams", json={"name": "up", "transport": "http",
                                                                       "url": upstream, "auto_approve": True})
                assert response.status_code == 201, response.text
            # The agent announces itself with its own identity (no scopes needed), and how the hub reaches it.
            me = await create_principal(hub, name="echo agent", scopes=[])
            async with client(hub, me) as hub_as_agent:
                registered = await hub_as_agent.register(
                    card_url=agent.card_url, id="echo", purpose="echo tests",
                    settings={"auth": {"type": "headers", "headers": {"Authorization": f"Bearer {AGENT_TOKEN}"}}})
                assert registered["state"] == "pending" and registered["id"] == "echo"
                assert registered["card_url_via_hub"] == f"{hub.url}/agents/echo/.well-known/agent-card.json"
                mine = await hub_as_agent.agent("echo")  # the registrant sees its own agent, secrets masked
                assert mine["settings"]["auth"]["headers"] == {"Authorization": "***"}
                with pytest.raises(HubError) as refused:
                    await hub_as_agent.register(card_url=agent.card_url, id="bad id")
                assert refused.value.status == 422 and "id" in refused.value.detail

            caller = await create_principal(hub, name="caller", scopes=["agent:echo", "search", "tool:up.add"])
            async with client(hub, caller) as hub_as_caller:
                with pytest.raises(HubError) as pending:  # not approved yet: as if it did not exist
                    await hub_as_caller.send("echo", "hello")
                assert pending.value.status == 404 and "no agent 'echo'" in pending.value.detail

                code, out, _ = await hub_cli(hub, "agents", "approve", "echo")
                assert code == 0 and '"state": "approved"' in out and '"name": "Echo Agent"' in out

                async def found() -> bool:  # once the model is loaded (503 until then) and the agent indexed
                    try:
                        peers = await hub_as_caller.find_agents("echo my text back to me")
                    except HubError as exc:
                        assert exc.status == 503, exc
                        return False
                    return [p["id"] for p in peers] == ["echo"]

                assert await eventually(found, 60)
                peer = (await hub_as_caller.find_agents("echo my text back to me"))[0]
                assert peer["cardUrl"] == registered["card_url_via_hub"] and peer["skills"] == ["echo"]
                tools = await hub_as_caller.find_tools("add two numbers")
                assert [t["name"] for t in tools] == ["up.add"]  # only the tools this caller may use

                reply = await hub_as_caller.send(peer["id"], "hello")
                assert isinstance(reply, Task) and reply.status.state == TaskState.TASK_STATE_COMPLETED
                assert get_artifact_text(reply.artifacts[0]) == "echo[hub-credential]: hello"
                quick = await hub_as_caller.send("echo", "quick hi")
                assert get_message_text(quick) == "echo[hub-credential]: quick hi"

                kinds, steps, states = [], [], []
                async for event in hub_as_caller.stream("echo", "slow 3"):
                    kinds.append(event.WhichOneof("payload"))
                    if event.HasField("status_update"):
                        states.append(event.status_update.status.state)
                        if event.status_update.status.HasField("message"):
                            steps.append(get_message_text(event.status_update.status.message))
                assert kinds[0] == "task" and "artifact_update" in kinds
                assert steps == ["step 1/3", "step 2/3", "step 3/3"]
                assert states[-1] == TaskState.TASK_STATE_COMPLETED

                # Tools, through the hub's own A2A agent: an upstream's, and the agent's skill as a tool.
                result = await hub_as_caller.call_tool("up.add", {"a": 2, "b": 3})
                assert result["structuredContent"] == {"result": 5}
                result = await hub_as_caller.call_tool("echo.echo", {"message": "quick via tool"})
                assert result.get("isError") is not True
                assert result["structuredContent"]["text"] == "echo[hub-credential]: quick via tool"
                with pytest.raises(HubError, match=r"Unknown tool: nope\.nothing"):
                    await hub_as_caller.call_tool("nope.nothing", {})

                # The kill switch: the next call is refused by the hub.
                code, out, _ = await hub_cli(hub, "agents", "disable", "echo", "--reason", "incident 7")
                assert code == 0 and json.loads(out)["state"] == "disabled"
                with pytest.raises(HubError) as disabled:
                    await hub_as_caller.send("echo", "hello again")
                assert disabled.value.status == 404 and "Unknown agent: echo" in disabled.value.detail
                with pytest.raises(HubError) as disabled:
                    await hub_as_caller.send("echo", "hello again")
                assert disabled.value.status == 404 and "no agent 'echo'" in disabled.value.detail

            async with client(hub, me) as hub_as_agent:  # no search scope: a clear refusal
                with pytest.raises(HubError) as refused:
                    await hub_as_agent.find_agents("echo")
                assert refused.value.status == 403 and "search" in refused.value.detail
            seen = await agent.requests()  # every A2A request carried the agent's credential, never a caller's token
            assert seen["count"] >= 4 and set(seen["authorization"]) == {f"Bearer {AGENT_TOKEN}"}

            code, out, _ = await hub_cli(hub, "agents", "list", "--json")
            listed = {a["id"]: a for a in json.loads(out)["agents"]}
            assert code == 0 and listed["echo"]["state"] == "disabled" and listed["echo"]["registered_by"] == me["id"]
            assert listed["echo"]["state_reason"] == "incident 7"
            code, out, _ = await hub_cli(hub, "agents", "list")
            assert code == 0 and out.split()[:3] == ["echo", "disabled", "unsigned"]


async def test_cli_register_disable_remove_and_errors(tmp_path):
    with a2a_agent("--token", AGENT_TOKEN) as agent:
        async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
            code, out, err = await hub_cli(hub, "agents", "register", "--card-url", agent.card_url, "--id", "e2",
                                           "--owner", "team-a", "--header", f"Authorization: Bearer {AGENT_TOKEN}")
            assert code == 0, err
            assert json.loads(out)["state"] == "pending"
            code, out, _ = await hub_cli(hub, "agents", "show", "e2")
            shown = json.loads(out)
            assert code == 0 and shown["owner"] == "team-a"
            assert shown["settings"]["auth"] == {**shown["settings"]["auth"], "type": "headers",
                                                 "headers": {"Authorization": "***"}}
            async with HubClient(hub.url, token=ADMIN_TOKEN) as admin:  # a fixed token
                assert (await admin.agent("e2"))["card_hash"] == shown["card_hash"]

            code, _, err = await hub_cli(hub, "agents", "approve", "e2", "--card-hash", "sha256:stale")
            assert code == 1 and "409" in err
            code, out, _ = await hub_cli(hub, "agents", "approve", "e2", "--card-hash", shown["card_hash"])
            assert code == 0 and json.loads(out)["state"] == "approved"
            code, out, _ = await hub_cli(hub, "agents", "refresh", "e2")
            assert code == 0 and json.loads(out)["state"] == "approved"
            code, out, _ = await hub_cli(hub, "agents", "disable", "e2")
            assert code == 0 and json.loads(out)["state"] == "disabled"

            results = await asyncio.gather(*(hub_cli(hub, "agents", action, "ghost")
                                             for action in ("show", "approve", "disable", "refresh", "remove")))
            for code, _, err in results:
                assert code == 1 and "error 404: no agent 'ghost'" in err, err
            code, _, err = await hub_cli(hub, "agents", "register", "--card-file", str(tmp_path / "missing.json"))
            assert code == 1 and "cannot read the card" in err

            code, out, _ = await hub_cli(hub, "agents", "remove", "e2")
            assert code == 0 and out == ""
            code, out, _ = await hub_cli(hub, "agents", "list", "--json")
            assert code == 0 and json.loads(out) == {"agents": []}
