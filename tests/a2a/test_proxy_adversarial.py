"""Adversarial input on the hub's A2A proxy: paths that try to leave the agent's endpoint, malformed JSON-RPC
envelopes, and another caller's tasks named the way agents also accept them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.a2a.recording import approve_inline_agent, recording_agent, rpc_error
from tests.a2a_harness import (
    A2A_HEADERS,
    AGENT_AUTH,
    AGENT_SECRET,
    a2a_agent,
    approved_agent,
    rpc,
    user_message,
)
from tests.gateway.e2e import principal_token
from tests.harness import running_hub

TASK_NOT_FOUND, INVALID_PARAMS = -32001, -32602


async def test_rest_proxy_paths_stay_under_the_agents_endpoint(tmp_path: Path) -> None:
    """A decoded "#", "?" or ".." in a tenant must not move the relayed request elsewhere on the agent's host
    (with the hub's credentials, and its answer handed back)."""
    async with recording_agent() as agent, running_hub(tmp_path, agent_allow_loopback=True) as hub:
        await approve_inline_agent(hub, "rec", agent.card())
        _, token = await principal_token(hub, ["agent:rec"])
        async with hub.http(token) as http:
            listed = await http.get("/agents/rec/rest/tasks", headers=A2A_HEADERS)
            assert listed.status_code == 200, listed.text
            assert agent.seen == [("GET", b"/svc/a2a/rest/tasks")]
            for verb, path in (("GET", "..%23/tasks"), ("GET", "internal%23/tasks"), ("GET", "internal%3F/tasks"),
                               ("GET", "%2E%2E/tasks"), ("POST", "..%3F/message:send"),
                               ("POST", "admin%23/message:send")):
                agent.seen.clear()
                body = {"message": user_message("hi")} if verb == "POST" else None
                response = await http.request(verb, f"/agents/rec/rest/{path}", headers=A2A_HEADERS, json=body)
                assert response.status_code < 500, (path, response.text)
                for method, raw in agent.seen:
                    assert raw.startswith(b"/svc/a2a/rest/"), (path, method, raw)
                    assert b"/../" not in raw and not raw.endswith(b"/.."), (path, method, raw)


async def test_malformed_json_rpc_envelopes_are_answered_by_the_hub_alone(tmp_path: Path) -> None:
    async with recording_agent() as agent, running_hub(tmp_path, agent_allow_loopback=True) as hub:
        await approve_inline_agent(hub, "rec", agent.card())
        _, token = await principal_token(hub, ["agent:rec"])
        path = "/agents/rec/jsonrpc"
        async with hub.http(token) as http:
            for body, code in (
                (b"{not json", -32700),
                (b"[]", -32600),  # batches were removed from the protocol
                (json.dumps([{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "t"}}]).encode(),
                 -32600),
                (json.dumps({"id": 1, "method": "GetTask", "params": {"id": "t"}}).encode(), -32600),
                (json.dumps({"jsonrpc": "1.0", "id": 1, "method": "GetTask"}).encode(), -32600),
                (json.dumps({"jsonrpc": "2.0", "id": 1, "method": 5}).encode(), -32600),
                (json.dumps({"jsonrpc": "2.0", "id": {"x": 1}, "method": "GetTask"}).encode(), -32600),
                (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": ["t"]}).encode(), -32602),
                (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {}}).encode(), -32601),
            ):
                response = await http.post(path, content=body, headers={**A2A_HEADERS,
                                                                        "content-type": "application/json"})
                assert rpc_error(response) == code, (body, response.text)
        assert agent.seen == []


async def test_task_privacy_holds_for_snake_case_field_names(tmp_path: Path) -> None:
    """ProtoJSON parsers accept `task_id` as well as `taskId`: the hub must check what the agent will read."""
    with a2a_agent("--token", AGENT_SECRET, "--push") as agent:
        async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
            await approved_agent(hub, agent, "echo", settings=AGENT_AUTH)
            _, victim = await principal_token(hub, ["agent:echo"])
            _, attacker = await principal_token(hub, ["agent:echo"])
            path = "/agents/echo/jsonrpc"
            async with hub.http(victim) as http:
                sent = await rpc(http, path, "SendMessage", {"message": user_message("quarterly numbers")})
                task = sent.json()["result"]["task"]["id"]
                hook = await rpc(http, path, "CreateTaskPushNotificationConfig", {
                    "taskId": task, "id": "mine", "url": "http://127.0.0.1:9/victim", "token": "victim-push-secret"})
                assert hook.json()["result"]["id"] == "mine", hook.text
            before = (await agent.requests())["count"]
            async with hub.http(attacker) as http:
                for method, params in (
                    ("ListTaskPushNotificationConfigs", {"task_id": task}),
                    ("GetTaskPushNotificationConfig", {"task_id": task, "id": "mine"}),
                    ("DeleteTaskPushNotificationConfig", {"task_id": task, "id": "mine"}),
                    ("CreateTaskPushNotificationConfig", {"task_id": task, "id": "theirs",
                                                          "url": "http://127.0.0.1:9/attacker"}),
                    ("SendMessage", {"message": {**user_message("more"), "task_id": task}}),
                    ("SendMessage", {"message": {**user_message("see"), "reference_task_ids": [task]}}),
                ):
                    response = await rpc(http, path, method, params)
                    assert rpc_error(response) == TASK_NOT_FOUND, (method, params, response.text)
                    assert "victim-push-secret" not in response.text
                response = await rpc(http, path, "SendMessage", {
                    "message": user_message("hello"),
                    "configuration": {"task_push_notification_config": {"url": "http://169.254.169.254/x"}}})
                assert rpc_error(response) == INVALID_PARAMS, response.text
                rest = await http.post("/agents/echo/rest/message:send", headers=A2A_HEADERS,
                                       json={"message": {**user_message("more"), "task_id": task}})
                assert rest.status_code == 404, rest.text
            assert (await agent.requests())["count"] == before  # none of it reached the agent
            async with hub.http(victim) as http:
                hooks = await rpc(http, path, "ListTaskPushNotificationConfigs", {"taskId": task})
                assert [c["id"] for c in hooks.json()["result"]["configs"]] == ["mine"]
