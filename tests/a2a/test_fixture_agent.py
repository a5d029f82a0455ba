"""The fixture A2A agent, driven by the real a2a-sdk client: signed card, bearer auth, messages, tasks, cancel."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from a2a.client import A2ACardResolver, ClientConfig, create_client
from a2a.helpers import get_artifact_text, get_data_parts, get_message_text, new_data_part
from a2a.types import (
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    TaskPushNotificationConfig,
    TaskState,
)
from a2a.utils.signing import InvalidSignaturesError, create_signature_verifier

from tests.a2a_harness import a2a_agent, ec_jwk, write_jwk

TOKEN = "t"


def request(text: str, *extra: Part, return_immediately: bool = False) -> SendMessageRequest:
    message = Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=[Part(text=text), *extra])
    return SendMessageRequest(message=message,
                              configuration=SendMessageConfiguration(return_immediately=return_immediately))


async def test_signed_agent_with_token(tmp_path: Path) -> None:
    private, jwks = ec_jwk("agent-key")
    public = jwt.PyJWK(jwks["keys"][0]).key
    verifier = create_signature_verifier(key_provider=lambda kid, jku: public, algorithms=["ES256"])

    with a2a_agent("--token", TOKEN, "--sign-jwk", str(write_jwk(tmp_path, private))) as agent:
        async with httpx.AsyncClient(timeout=30) as anon:
            raw = (await anon.get(agent.card_url)).json()  # the card is public
            assert raw["name"] == "Echo Agent"
            assert [i["protocolBinding"] for i in raw["supportedInterfaces"]] == ["JSONRPC", "HTTP+JSON"]
            assert raw["supportedInterfaces"][0]["url"] == f"{agent.url}/a2a/jsonrpc"
            assert raw["securitySchemes"] == {"bearer": {"httpAuthSecurityScheme": {"scheme": "Bearer"}}}
            assert raw["capabilities"]["streaming"] is True
            body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
                    "params": {"message": {"role": "ROLE_USER", "messageId": "m1", "parts": [{"text": "quick"}]}}}
            r = await anon.post(agent.jsonrpc_url, json=body, headers={"A2A-Version": "1.0"})
            assert r.status_code == 401 and r.json()["error"] == "unauthorized"
            r = await anon.post(f"{agent.rest_url}/message:send", json=body["params"],
                                headers={"A2A-Version": "1.0", "Authorization": "Bearer wrong"})
            assert r.status_code == 401

        async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            card = await A2ACardResolver(http, agent.url).get_agent_card(signature_verifier=verifier)
            assert card.description == "Echoes what you say back to you."
            assert [s.id for s in card.skills] == ["echo"]
            tampered = type(card)()
            tampered.CopyFrom(card)
            tampered.description = "tampered"
            with pytest.raises(InvalidSignaturesError):
                verifier(tampered)

            client = await create_client(card, client_config=ClientConfig(httpx_client=http))
            plain = await create_client(card, client_config=ClientConfig(httpx_client=http, streaming=False))

            events = [ev async for ev in plain.send_message(request("quick hi"))]
            assert [ev.WhichOneof("payload") for ev in events] == ["message"]
            assert get_message_text(events[0].message) == "echo[hub-credential]: quick hi"

            kinds, steps, states = [], [], []
            async for ev in client.send_message(request("slow 3")):
                kinds.append(ev.WhichOneof("payload"))
                if ev.HasField("status_update"):
                    states.append(ev.status_update.status.state)
                    if ev.status_update.status.state == TaskState.TASK_STATE_WORKING:
                        steps.append(get_message_text(ev.status_update.status.message))
                elif ev.HasField("artifact_update"):
                    assert get_artifact_text(ev.artifact_update.artifact) == "done after 3 steps"
            assert kinds[0] == "task" and "artifact_update" in kinds
            assert steps == ["step 1/3", "step 2/3", "step 3/3"]
            assert states[-1] == TaskState.TASK_STATE_COMPLETED

            [ev] = [ev async for ev in plain.send_message(request("hello", Part(data=new_data_part({"k": "v"}).data)))]
            assert ev.task.status.state == TaskState.TASK_STATE_COMPLETED
            task = await client.get_task(GetTaskRequest(id=ev.task.id))
            assert task.status.state == TaskState.TASK_STATE_COMPLETED
            [artifact] = task.artifacts
            assert get_artifact_text(artifact) == "echo[hub-credential]: hello"
            assert get_data_parts(artifact.parts) == [{"k": "v"}]

            [ev] = [ev async for ev in plain.send_message(request("fail"))]
            assert ev.task.status.state == TaskState.TASK_STATE_FAILED

            [ev] = [ev async for ev in plain.send_message(request("slow 40", return_immediately=True))]
            assert ev.task.status.state not in (TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_CANCELED)
            canceled = await client.cancel_task(CancelTaskRequest(id=ev.task.id))
            assert canceled.status.state == TaskState.TASK_STATE_CANCELED
            again = await client.get_task(GetTaskRequest(id=ev.task.id))
            assert again.status.state == TaskState.TASK_STATE_CANCELED
            assert not again.artifacts

            await agent.set_card(description="A changed agent.", skills=["echo:Echo:Echo text back", "new:New:Added"])
            changed = await A2ACardResolver(http, agent.url).get_agent_card(signature_verifier=verifier)
            assert changed.description == "A changed agent."
            assert [s.id for s in changed.skills] == ["echo", "new"]
            await client.close()
            await plain.close()

        seen = await agent.requests()
        assert seen["count"] == len(seen["authorization"]) >= 8
        assert seen["authorization"][:2] == [None, "Bearer wrong"]
        assert set(seen["authorization"][2:]) == {f"Bearer {TOKEN}"}


async def test_rest_first_extended_push() -> None:
    with a2a_agent("--bindings", "HTTP+JSON,JSONRPC", "--extended", "--push", "--name", "Rest Agent",
                   "--skill", "a:A:First", "--skill", "b:B:Second: with colon", "--tags", "x,y") as agent:
        async with httpx.AsyncClient(timeout=30) as http:
            card = await A2ACardResolver(http, agent.url).get_agent_card()
            assert [i.protocol_binding for i in card.supported_interfaces] == ["HTTP+JSON", "JSONRPC"]
            assert not card.security_schemes and not card.signatures
            assert [(s.id, s.description, list(s.tags)) for s in card.skills] == [
                ("a", "First", ["x", "y"]), ("b", "Second: with colon", ["x", "y"])]
            assert card.capabilities.extended_agent_card and card.capabilities.push_notifications

            client = await create_client(card, client_config=ClientConfig(
                httpx_client=http, streaming=False, supported_protocol_bindings=["HTTP+JSON"]))
            [ev] = [ev async for ev in client.send_message(request("hi"))]
            assert get_artifact_text(ev.task.artifacts[0]) == "echo[anonymous]: hi"

            extended = await client.get_extended_agent_card(GetExtendedAgentCardRequest())
            assert [s.id for s in extended.skills] == ["a", "b", "secret"]

            task_id = ev.task.id
            created = await client.create_task_push_notification_config(
                TaskPushNotificationConfig(task_id=task_id, id="p1", url="http://127.0.0.1:9/hook"))
            assert created.id == "p1"
            got = await client.get_task_push_notification_config(
                GetTaskPushNotificationConfigRequest(task_id=task_id, id="p1"))
            assert got.url == "http://127.0.0.1:9/hook"
            listed = await client.list_task_push_notification_configs(
                ListTaskPushNotificationConfigsRequest(task_id=task_id))
            assert [c.id for c in listed.configs] == ["p1"]
            await client.delete_task_push_notification_config(
                DeleteTaskPushNotificationConfigRequest(task_id=task_id, id="p1"))
            listed = await client.list_task_push_notification_configs(
                ListTaskPushNotificationConfigsRequest(task_id=task_id))
            assert not listed.configs
            await client.close()
