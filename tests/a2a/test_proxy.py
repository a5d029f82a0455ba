"""A registered agent through the hub's A2A proxy, driven by the real a2a-sdk client and by raw requests:
the rewritten signed card, both bindings, streaming, task privacy, auth, push URLs, failures, the audit."""

from __future__ import annotations

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
from a2a.helpers import get_artifact_text, get_message_text
from a2a.types import (
    AgentCard,
    CancelTaskRequest,
    GetExtendedAgentCardRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    SubscribeToTaskRequest,
    TaskState,
)
from a2a.utils.errors import TaskNotFoundError
from a2a.utils.signing import InvalidSignaturesError, create_signature_verifier
from google.protobuf.json_format import ParseDict

from tests.a2a_harness import (
    A2A_HEADERS,
    AGENT_AUTH,
    AGENT_SECRET,
    AgentProcess,
    a2a_agent,
    approved_agent,
    rpc,
    user_message,
)
from tests.gateway.e2e import audit, principal_token
from tests.harness import RunningHub, running_hub

HUB_SCHEMES = ["hub_oauth_client_credentials", "hub_oauth_authorization_code"]  # one per OAuth flow
AGENT = "echo"
JSONRPC = f"/agents/{AGENT}/jsonrpc"
REST = f"/agents/{AGENT}/rest"
CARD = f"/agents/{AGENT}/.well-known/agent-card.json"
TASK_NOT_FOUND, INVALID_PARAMS, VERSION_NOT_SUPPORTED = -32001, -32602, -32009


@pytest.fixture(scope="module")
def agent() -> Iterator[AgentProcess]:
    with a2a_agent("--token", AGENT_SECRET, "--push", "--extended") as process:
        yield process


@asynccontextmanager
async def hub_with_agent(tmp_path: Path, agent: AgentProcess) -> AsyncIterator[RunningHub]:
    async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
        await approved_agent(hub, agent, AGENT, settings=AGENT_AUTH)
        yield hub


async def hub_verifier(hub: RunningHub) -> Any:
    async with hub.http(None) as http:
        jwks = (await http.get("/oauth/jwks")).json()
    keys = {k["kid"]: k for k in jwks["keys"]}
    return create_signature_verifier(key_provider=lambda kid, jku: jwt.PyJWK(keys[kid]), algorithms=["ES256"])


@asynccontextmanager
async def sdk_client(hub: RunningHub, token: str, *, streaming: bool = True,
                     bindings: list[str] | None = None) -> AsyncIterator[Client]:
    """An a2a-sdk client built from the agent's card as the hub serves it (signature checked)."""
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        card = await A2ACardResolver(http, f"{hub.url}/agents/{AGENT}").get_agent_card(
            signature_verifier=await hub_verifier(hub))
        client = await create_client(card, client_config=ClientConfig(
            httpx_client=http, streaming=streaming, supported_protocol_bindings=bindings or []))
        try:
            yield client
        finally:
            await client.close()


def request(text: str, *, return_immediately: bool = False) -> SendMessageRequest:
    return SendMessageRequest(
        message=Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=[Part(text=text)]),
        configuration=SendMessageConfiguration(return_immediately=return_immediately))


def error_code(response: httpx.Response) -> int:
    body = response.json()
    assert "error" in body, response.text
    return body["error"]["code"]


async def test_the_card_as_the_hub_serves_it(tmp_path: Path, agent: AgentProcess) -> None:
    async with hub_with_agent(tmp_path, agent) as hub:
        _, token = await principal_token(hub, [f"agent:{AGENT}"])
        async with hub.http(token) as http:
            response = await http.get(CARD)
            assert response.status_code == 200, response.text
            etag = response.headers["etag"]
            assert "max-age" in response.headers["cache-control"]
            assert (await http.get(CARD, headers={"If-None-Match": etag})).status_code == 304
            assert (await http.get(CARD, headers={"If-None-Match": 'W/"other"'})).status_code == 200
        doc = response.json()
        assert agent.url.split("//")[1] not in response.text  # nothing points at the agent itself
        assert [(i["protocolBinding"], i["url"]) for i in doc["supportedInterfaces"]] == [
            ("JSONRPC", f"{hub.url}/agents/{AGENT}/jsonrpc"), ("HTTP+JSON", f"{hub.url}/agents/{AGENT}/rest")]
        assert sorted(doc["securitySchemes"]) == sorted(HUB_SCHEMES)  # the agent's own bearer scheme is gone
        for scheme in doc["securitySchemes"].values():
            oauth = scheme["oauth2SecurityScheme"]
            assert oauth["oauth2MetadataUrl"] == f"{hub.url}/.well-known/oauth-authorization-server"
            assert all(flow["tokenUrl"] == f"{hub.url}/oauth/token" for flow in oauth["flows"].values())
        assert doc["securityRequirements"] == [{"schemes": {name: {}}} for name in HUB_SCHEMES]
        assert [s["id"] for s in doc["skills"]] == ["echo"]

        card = ParseDict(doc, AgentCard())
        assert len(card.signatures) == 1
        verifier = await hub_verifier(hub)
        verifier(card)
        card.description = "tampered"
        with pytest.raises(InvalidSignaturesError):
            verifier(card)


async def test_cards_name_the_client_credentials_flow(tmp_path: Path, agent: AgentProcess) -> None:
    """Agents and services get their hub tokens by client credentials: the cards must say so, next to the
    authorization code flow for users (OAuthFlows holds one flow, so each needs a scheme of its own)."""
    async with hub_with_agent(tmp_path, agent) as hub:
        _, token = await principal_token(hub, [f"agent:{AGENT}"])
        async with hub.http(token) as http:
            for path in (CARD, "/.well-known/agent-card.json"):
                doc = (await http.get(path)).json()
                flows = {name: flow for scheme in doc["securitySchemes"].values()
                         for name, flow in scheme.get("oauth2SecurityScheme", {}).get("flows", {}).items()}
                assert flows.get("authorizationCode", {}).get("pkceRequired") is True, (path, flows)
                assert flows.get("clientCredentials", {}).get("tokenUrl") == f"{hub.url}/oauth/token", (path, flows)


async def test_extended_card_is_rewritten_and_signed(tmp_path: Path, agent: AgentProcess) -> None:
    """The hub fetched the agent's extended card with the agent's credentials; callers get it rewritten."""
    async with hub_with_agent(tmp_path, agent) as hub:
        _, token = await principal_token(hub, [f"agent:{AGENT}"])
        async with hub.http(token) as http:
            public = (await http.get(CARD)).json()
        assert public["capabilities"]["extendedAgentCard"] is True
        assert [s["id"] for s in public["skills"]] == ["echo"]
        for binding in ("JSONRPC", "HTTP+JSON"):
            async with sdk_client(hub, token, streaming=False, bindings=[binding]) as client:
                extended = await client.get_extended_agent_card(GetExtendedAgentCardRequest())
            assert [s.id for s in extended.skills] == ["echo", "secret"], binding
            assert [i.url for i in extended.supported_interfaces] == [f"{hub.url}{JSONRPC}", f"{hub.url}{REST}"]
            assert sorted(extended.security_schemes) == sorted(HUB_SCHEMES)
            (await hub_verifier(hub))(extended)


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
async def test_sdk_client_through_the_hub(tmp_path: Path, agent: AgentProcess, binding: str) -> None:
    async with hub_with_agent(tmp_path, agent) as hub:
        _, token = await principal_token(hub, [f"agent:{AGENT}"])
        async with sdk_client(hub, token, streaming=False, bindings=[binding]) as plain:
            [event] = [e async for e in plain.send_message(request("hello"))]
            assert event.task.status.state == TaskState.TASK_STATE_COMPLETED
            assert get_artifact_text(event.task.artifacts[0]) == "echo[hub-credential]: hello"
            task = await plain.get_task(GetTaskRequest(id=event.task.id))
            assert task.id == event.task.id and task.status.state == TaskState.TASK_STATE_COMPLETED

            [event] = [e async for e in plain.send_message(request("quick reply"))]
            assert get_message_text(event.message) == "echo[hub-credential]: quick reply"

        async with sdk_client(hub, token, bindings=[binding]) as streaming:
            kinds, steps, states = [], [], []
            async for event in streaming.send_message(request("slow 3")):
                kinds.append(event.WhichOneof("payload"))
                if event.HasField("status_update"):
                    states.append(event.status_update.status.state)
                    if event.status_update.status.state == TaskState.TASK_STATE_WORKING:
                        steps.append(get_message_text(event.status_update.status.message))
            assert kinds[0] == "task" and "artifact_update" in kinds
            assert steps == ["step 1/3", "step 2/3", "step 3/3"]
            assert states[-1] == TaskState.TASK_STATE_COMPLETED

        async with hub.http(token) as http:
            await http.get(CARD)  # the card is served per caller, and so audited
        records = await audit(hub, action="a2a/SendMessage")
        assert len(records) == 2 and {r["decision"] for r in records} == {"allow"}
        assert [r["action"] for r in await audit(hub, action="a2a/SendStreamingMessage")] == [
            "a2a/SendStreamingMessage"]


async def test_tasks_belong_to_their_creator(tmp_path: Path, agent: AgentProcess) -> None:
    async with hub_with_agent(tmp_path, agent) as hub:
        creator_id, creator = await principal_token(hub, [f"agent:{AGENT}"])
        other_id, other = await principal_token(hub, [f"agent:{AGENT}"])
        async with sdk_client(hub, creator, streaming=False) as client:
            [done] = [e async for e in client.send_message(request("hello"))]
            [running] = [e async for e in client.send_message(request("slow 40", return_immediately=True))]
            assert running.task.status.state not in (TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_CANCELED)
            task_ids = {done.task.id, running.task.id}

            async with hub.http(other) as http:
                for task_id in task_ids:
                    for method in ("GetTask", "CancelTask", "SubscribeToTask"):
                        response = await rpc(http, JSONRPC, method, {"id": task_id})
                        assert error_code(response) == TASK_NOT_FOUND, (method, response.text)
                    # continuing someone else's task is refused as well
                    response = await rpc(http, JSONRPC, "SendMessage",
                                         {"message": user_message("more", taskId=task_id)})
                    assert error_code(response) == TASK_NOT_FOUND, response.text
                    for verb, path in (("GET", f"/tasks/{task_id}"), ("POST", f"/tasks/{task_id}:cancel"),
                                       ("GET", f"/tasks/{task_id}:subscribe")):
                        response = await http.request(verb, REST + path, headers=A2A_HEADERS)
                        assert response.status_code == 404, (verb, path, response.text)
                listed = await rpc(http, JSONRPC, "ListTasks", {})
                assert listed.status_code == 200, listed.text
                assert listed.json()["result"].get("tasks", []) == []
                rest_listed = await http.get(f"{REST}/tasks", headers=A2A_HEADERS)
                assert rest_listed.status_code == 200, rest_listed.text
                assert rest_listed.json().get("tasks", []) == []

            async with hub.http(creator) as http:
                listed = await rpc(http, JSONRPC, "ListTasks", {})
                assert {t["id"] for t in listed.json()["result"]["tasks"]} >= task_ids

            with pytest.raises(TaskNotFoundError):  # the SDK sees the same answer as a typed error
                async with sdk_client(hub, other, streaming=False) as other_client:
                    await other_client.get_task(GetTaskRequest(id=done.task.id))

            # the creator may follow its own running task
            [short] = [e async for e in client.send_message(request("slow 4", return_immediately=True))]
            async with sdk_client(hub, creator) as streaming:
                states = [e.status_update.status.state
                          async for e in streaming.subscribe(SubscribeToTaskRequest(id=short.task.id))
                          if e.HasField("status_update")]
            assert states and states[-1] == TaskState.TASK_STATE_COMPLETED

            started = time.monotonic()
            canceled = await client.cancel_task(CancelTaskRequest(id=running.task.id))
            assert canceled.status.state == TaskState.TASK_STATE_CANCELED
            assert time.monotonic() - started < 3
            again = await client.get_task(GetTaskRequest(id=running.task.id))
            assert again.status.state == TaskState.TASK_STATE_CANCELED

        denied = [r for r in await audit(hub, action="a2a/GetTask") if r["principal"] == other_id]
        assert denied and {r["decision"] for r in denied} == {"deny"}
        allowed = [r for r in await audit(hub, action="a2a/GetTask") if r["principal"] == creator_id]
        assert allowed and {r["decision"] for r in allowed} == {"allow"}


async def test_grants_tokens_and_versions(tmp_path: Path, agent: AgentProcess) -> None:
    first = (await agent.requests())["count"]
    async with hub_with_agent(tmp_path, agent) as hub:
        allowed_id, allowed = await principal_token(hub, [f"agent:{AGENT}"])
        denied_id, denied = await principal_token(hub, ["search", "agent:someone-else"])
        send = {"message": user_message("quick hi")}

        async with hub.http(allowed) as http:
            response = await rpc(http, JSONRPC, "SendMessage", send)
            assert response.status_code == 200 and "result" in response.json(), response.text
            # no (or a 0.x) A2A-Version header: VersionNotSupported, and nothing reaches the agent
            response = await rpc(http, JSONRPC, "SendMessage", send, headers={})
            assert response.status_code == 200 and error_code(response) == VERSION_NOT_SUPPORTED
            response = await rpc(http, JSONRPC, "SendMessage", send, headers={"A2A-Version": "0.3"})
            assert error_code(response) == VERSION_NOT_SUPPORTED
            response = await http.post(f"{REST}/message:send", json=send)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["status"] == "FAILED_PRECONDITION"
            # 0.3 method names are not A2A 1.0
            response = await rpc(http, JSONRPC, "message/send", send)
            assert error_code(response) == -32601

        async with hub.http(denied) as http:
            assert (await http.get(CARD)).status_code == 404
            response = await rpc(http, JSONRPC, "SendMessage", send)
            assert response.status_code == 404, response.text
            response = await http.post(f"{REST}/message:send", json=send, headers=A2A_HEADERS)
            assert response.status_code == 404, response.text
            # indistinguishable from an agent that does not exist
            missing = await rpc(http, "/agents/no-such-agent/jsonrpc", "SendMessage", send)
            assert missing.status_code == 404
            assert (await http.get("/agents/no-such-agent/.well-known/agent-card.json")).status_code == 404

        async with hub.http(None) as http:
            for response in (await rpc(http, JSONRPC, "SendMessage", send),
                             await http.post(f"{REST}/message:send", json=send, headers=A2A_HEADERS)):
                assert response.status_code == 401, response.text
                assert response.headers["www-authenticate"].startswith("Bearer")
            assert (await http.get(CARD)).status_code in (401, 404)
        async with hub.http("not-a-token") as http:
            assert (await rpc(http, JSONRPC, "SendMessage", send)).status_code == 401

        allows = await audit(hub, action="a2a/SendMessage", decision="allow")
        assert [r["principal"] for r in allows] == [allowed_id]
        assert allows[0]["target"] == AGENT and allows[0]["outcome"] == "ok"
        denies = await audit(hub, action="a2a/SendMessage", decision="deny")
        assert {r["principal"] for r in denies} == {denied_id}
        assert sorted(r["target"] for r in denies) == [AGENT, AGENT, "no-such-agent"]
        assert await audit(hub, action="a2a/card", principal=denied_id, decision="deny")

    seen = (await agent.requests())["authorization"][first:]
    assert seen and set(seen) == {f"Bearer {AGENT_SECRET}"}  # never a caller's token


async def test_push_notification_urls_are_checked(tmp_path: Path, agent: AgentProcess) -> None:
    async with hub_with_agent(tmp_path, agent) as hub:
        _, token = await principal_token(hub, [f"agent:{AGENT}"])
        async with hub.http(token) as http:
            before = (await agent.requests())["count"]
            for url in ("http://169.254.169.254/x", "http://10.0.0.1/hook", "file:///etc/passwd"):
                response = await rpc(http, JSONRPC, "SendMessage", {
                    "message": user_message("hello"),
                    "configuration": {"taskPushNotificationConfig": {"url": url}}})
                assert error_code(response) == INVALID_PARAMS, (url, response.text)
            assert (await agent.requests())["count"] == before

            response = await rpc(http, JSONRPC, "SendMessage", {"message": user_message("hello")})
            task_id = response.json()["result"]["task"]["id"]
            before = (await agent.requests())["count"]
            response = await rpc(http, JSONRPC, "CreateTaskPushNotificationConfig",
                                 {"taskId": task_id, "id": "p1", "url": "http://169.254.169.254/x"})
            assert error_code(response) == INVALID_PARAMS, response.text
            assert "push notification URL refused" in response.json()["error"]["message"]
            response = await http.post(f"{REST}/tasks/{task_id}/pushNotificationConfigs",
                                       json={"id": "p2", "url": "http://169.254.169.254/x"}, headers=A2A_HEADERS)
            assert response.status_code == 400, response.text
            assert (await agent.requests())["count"] == before

            # an allowed URL goes through to the agent
            response = await rpc(http, JSONRPC, "CreateTaskPushNotificationConfig",
                                 {"taskId": task_id, "id": "p3", "url": "http://127.0.0.1:9/hook"})
            assert response.json().get("result", {}).get("id") == "p3", response.text


async def test_unreachable_agent_fails_fast_and_clearly(tmp_path: Path) -> None:
    async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
        with a2a_agent() as gone:
            await approved_agent(hub, gone, "gone")
        _, token = await principal_token(hub, ["agent:gone"])
        async with hub.http(token) as http:
            started = time.monotonic()
            response = await rpc(http, "/agents/gone/jsonrpc", "SendMessage", {"message": user_message("hi")})
            assert time.monotonic() - started < 5
            assert response.status_code in (502, 503, 504), response.text
            error = response.json()["error"]
            assert error["code"] == -32603 and "unreachable" in error["message"]

            started = time.monotonic()
            response = await http.post("/agents/gone/jsonrpc", headers={**A2A_HEADERS, "Accept": "text/event-stream"},
                                       json={"jsonrpc": "2.0", "id": 1, "method": "SendStreamingMessage",
                                             "params": {"message": user_message("slow 2")}})
            assert time.monotonic() - started < 5
            assert "unreachable" in response.text, response.text

            response = await http.post("/agents/gone/rest/message:send", json={"message": user_message("hi")},
                                       headers=A2A_HEADERS)
            assert response.status_code == 502, response.text
            assert "unreachable" in response.json()["error"]["message"]
        records = await audit(hub, action="a2a/SendMessage")
        assert records and {r["outcome"] for r in records} == {"upstream_error"}

        # re-fetching the card fails too: the approved card stays in force and the error is reported
        async with hub.http() as admin:
            response = await admin.post("/api/v1/agents/gone/refresh")
            assert response.status_code == 502, response.text
            view = (await admin.get("/api/v1/agents/gone")).json()
        assert view["state"] == "approved" and "could not fetch the card" in view["refresh_error"]


async def test_agent_settings_changes_take_effect(tmp_path: Path, agent: AgentProcess) -> None:
    async with hub_with_agent(tmp_path, agent) as hub:
        _, token = await principal_token(hub, [f"agent:{AGENT}"])
        send = {"message": user_message("quick hi")}
        async with hub.http(token) as http, hub.http() as admin:
            assert "result" in (await rpc(http, JSONRPC, "SendMessage", send)).json()
            wrong = {"auth": {"type": "headers", "headers": {"Authorization": "Bearer wrong"}}}
            assert (await admin.put(f"/api/v1/agents/{AGENT}/settings", json=wrong)).status_code == 200
            before = (await agent.requests())["count"]
            response = await rpc(http, JSONRPC, "SendMessage", send)
            assert response.status_code != 200 or "error" in response.json(), response.text
            assert (await agent.requests())["authorization"][before:] == ["Bearer wrong"]
            assert (await admin.put(f"/api/v1/agents/{AGENT}/settings", json=AGENT_AUTH)).status_code == 200
            response = await rpc(http, JSONRPC, "SendMessage", send)
            assert "result" in response.json(), response.text
            view = (await admin.get(f"/api/v1/agents/{AGENT}")).json()
        assert view["settings"]["auth"]["headers"] == {"Authorization": "***"}


async def test_agent_refusing_the_hub_credentials_is_not_the_callers_401(tmp_path: Path, agent: AgentProcess
                                                                          ) -> None:
    """The caller's hub token is fine; the agent refused the hub's own credential. The caller must get an A2A
    error about the agent (a JSON-RPC error object on /jsonrpc), never a bare 401 that reads as its own token
    being rejected."""
    async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
        await approved_agent(hub, agent, AGENT)  # no credentials for the agent
        _, token = await principal_token(hub, [f"agent:{AGENT}"])
        async with hub.http(token) as http:
            response = await rpc(http, JSONRPC, "SendMessage", {"message": user_message("quick hi")})
            assert response.status_code != 401, (response.status_code, response.text)
            body = response.json()
            assert body.get("jsonrpc") == "2.0" and isinstance(body.get("error", {}).get("code"), int), body
            response = await http.post(f"{REST}/message:send", json={"message": user_message("quick hi")},
                                       headers=A2A_HEADERS)
            assert response.status_code != 401, (response.status_code, response.text)
