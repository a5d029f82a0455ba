"""The agent registry through the REST API: registration by URL and by card, signatures, SSRF, who may
register and see what, approval and quarantine on a changed card."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.a2a_harness import (
    AgentProcess,
    a2a_agent,
    approve_agent,
    approved_agent,
    ec_jwk,
    register_agent,
    rpc,
    user_message,
    write_jwk,
)
from tests.gateway.e2e import principal_token
from tests.harness import RunningHub, running_hub

KID = "agent-key-1"


@pytest.fixture(scope="module")
def agent() -> Iterator[AgentProcess]:
    with a2a_agent() as process:
        yield process


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """(private JWK, public JWKS, the private key's file) of the signed agent."""
    private, jwks = ec_jwk(KID)
    return private, jwks, write_jwk(tmp_path_factory.mktemp("keys"), private)


@pytest.fixture(scope="module")
def signed_agent(signing_key: tuple[dict[str, Any], dict[str, Any], Path]) -> Iterator[AgentProcess]:
    with a2a_agent("--sign-jwk", str(signing_key[2]), "--name", "Signed Agent") as process:
        yield process


async def fetch_card(agent: AgentProcess) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(agent.card_url)
    response.raise_for_status()
    return response.json()


async def agent_ids(hub: RunningHub, token: str | None = None) -> list[str]:
    async with (hub.http(token) if token else hub.http()) as http:
        response = await http.get("/api/v1/agents")
    assert response.status_code == 200, response.text
    return [a["id"] for a in response.json()["agents"]]


async def hub_card(hub: RunningHub, token: str, agent_id: str) -> httpx.Response:
    async with hub.http(token) as http:
        return await http.get(f"/agents/{agent_id}/.well-known/agent-card.json")


async def test_register_by_url_is_pending_until_approved(tmp_path: Path, agent: AgentProcess) -> None:
    async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
        response = await register_agent(hub, card_url=agent.card_url, id="echo")
        assert response.status_code == 201, response.text
        registered = response.json()
        assert registered["state"] == "pending" and registered["signature"] == "unsigned"
        assert registered["card_hash"].startswith("sha256:")
        assert registered["card_url_via_hub"] == f"{hub.url}/agents/echo/.well-known/agent-card.json"

        _, token = await principal_token(hub, ["agent:echo"])
        assert (await hub_card(hub, token, "echo")).status_code == 404
        async with hub.http(token) as http:
            assert (await http.get("/api/v1/agents/echo")).status_code == 404
            response = await rpc(http, "/agents/echo/jsonrpc", "SendMessage", {"message": user_message("hi")})
            assert response.status_code == 404

        response = await approve_agent(hub, "echo", registered["card_hash"])
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "approved"
        card = await hub_card(hub, token, "echo")
        assert card.status_code == 200, card.text
        assert card.json()["name"] == "Echo Agent"
        async with hub.http(token) as http:
            summary = (await http.get("/api/v1/agents/echo")).json()
        assert summary["state"] == "approved" and [s["id"] for s in summary["skills"]] == ["echo"]
        assert "settings" not in summary and "card_url" not in summary  # no agent URLs or credentials


async def test_register_by_card_json(tmp_path: Path, agent: AgentProcess) -> None:
    card = await fetch_card(agent)
    async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
        response = await register_agent(hub, card=card)
        assert response.status_code == 201, response.text
        registered = response.json()
        assert registered["id"] == "echo-agent"  # derived from the card's name
        assert registered["state"] == "pending"
        async with hub.http() as admin:
            view = (await admin.get("/api/v1/agents/echo-agent")).json()
        assert view["card_url"] is None and view["card"]["description"] == card["description"]
        assert view["card_hash"] == registered["card_hash"]

        await approve_agent(hub, "echo-agent")
        _, token = await principal_token(hub, ["agent:echo-agent"])
        async with hub.http(token) as http:
            response = await rpc(http, "/agents/echo-agent/jsonrpc", "SendMessage",
                                 {"message": user_message("quick inline")})
        assert response.status_code == 200, response.text
        assert response.json()["result"]["message"]["parts"] == [{"text": "echo[anonymous]: quick inline"}]


async def test_signature_verified_with_a_pinned_key(tmp_path: Path, signed_agent: AgentProcess,
                                                    signing_key: tuple[dict[str, Any], dict[str, Any], Path]
                                                    ) -> None:
    async with running_hub(tmp_path, agent_allow_loopback=True, agent_keys=signing_key[1]["keys"],
                           agent_require_signature=True) as hub:
        response = await register_agent(hub, card_url=signed_agent.card_url, id="signed")
        assert response.status_code == 201, response.text
        assert response.json()["signature"] == "verified"
        assert response.json()["signature_kid"] == KID


async def test_signature_by_an_unpinned_key_is_untrusted(tmp_path: Path, signed_agent: AgentProcess) -> None:
    _, other = ec_jwk("someone-else")
    async with running_hub(tmp_path, agent_allow_loopback=True, agent_keys=other["keys"]) as hub:
        response = await register_agent(hub, card_url=signed_agent.card_url, id="signed")
        assert response.status_code == 201, response.text
        assert response.json()["signature"] == "untrusted"
        assert response.json()["signature_kid"] is None


async def test_tampered_signed_card_is_refused(tmp_path: Path, signed_agent: AgentProcess,
                                               signing_key: tuple[dict[str, Any], dict[str, Any], Path]) -> None:
    card = await fetch_card(signed_agent)
    assert card["signatures"]
    card["description"] = "Now also wires money anywhere."
    async with running_hub(tmp_path, agent_allow_loopback=True, agent_keys=signing_key[1]["keys"]) as hub:
        response = await register_agent(hub, card=card, id="tampered")
        assert response.status_code == 422, response.text
        assert "signature" in response.json()["detail"]
        assert await agent_ids(hub) == []


async def test_unsigned_card_refused_when_signatures_are_required(tmp_path: Path, agent: AgentProcess,
                                                                  signed_agent: AgentProcess) -> None:
    async with running_hub(tmp_path, agent_allow_loopback=True, agent_require_signature=True) as hub:
        response = await register_agent(hub, card_url=agent.card_url, id="echo")
        assert response.status_code == 422, response.text
        assert "unsigned" in response.json()["detail"]
        # a signed card whose key is not pinned is no better
        response = await register_agent(hub, card_url=signed_agent.card_url, id="signed")
        assert response.status_code == 422, response.text
        assert "untrusted" in response.json()["detail"]
        assert await agent_ids(hub) == []


async def test_private_and_loopback_card_urls_are_never_fetched(tmp_path: Path, agent: AgentProcess) -> None:
    before = (await agent.requests())["card_requests"]
    async with running_hub(tmp_path) as hub:  # agent_allow_loopback defaults to False
        for url in (agent.card_url, f"http://localhost:{agent.url.rsplit(':', 1)[1]}/.well-known/agent-card.json",
                    "http://169.254.169.254/latest/meta-data/", "https://169.254.169.254/.well-known/agent-card.json",
                    "http://10.0.0.1/.well-known/agent-card.json", "https://10.0.0.1/.well-known/agent-card.json"):
            started = time.monotonic()
            response = await register_agent(hub, card_url=url)
            assert response.status_code == 422, (url, response.text)
            assert "could not fetch the card" in response.json()["detail"], url
            assert time.monotonic() - started < 5, url  # refused, not a connection attempt that times out
        assert await agent_ids(hub) == []
    assert (await agent.requests())["card_requests"] == before


async def test_inline_card_naming_loopback_endpoints_is_not_called(tmp_path: Path, agent: AgentProcess) -> None:
    """A card given inline names its endpoints itself: the hub still only connects where the policy allows."""
    card = await fetch_card(agent)
    before = (await agent.requests())["count"]
    async with running_hub(tmp_path) as hub:
        response = await register_agent(hub, card=card, id="inline")
        if response.status_code == 201:  # accepted, but calls must not reach the loopback agent
            assert (await approve_agent(hub, "inline")).status_code == 200
            _, token = await principal_token(hub, ["agent:inline"])
            async with hub.http(token) as http:
                response = await rpc(http, "/agents/inline/jsonrpc", "SendMessage",
                                     {"message": user_message("quick")})
            assert "error" in response.json(), response.text
            assert "not allowed" in response.json()["error"]["message"]
        else:
            assert response.status_code == 422, response.text
    assert (await agent.requests())["count"] == before


async def test_cards_that_are_not_a2a_1_0_are_refused(tmp_path: Path, agent: AgentProcess) -> None:
    legacy = {"name": "Old", "description": "0.3", "url": "https://old.example.com/a2a", "version": "1",
              "protocolVersion": "0.3.0", "capabilities": {}, "defaultInputModes": ["text/plain"],
              "defaultOutputModes": ["text/plain"],
              "skills": [{"id": "s", "name": "S", "description": "A skill", "tags": ["s"]}]}
    grpc_only = await fetch_card(agent)
    for iface in grpc_only["supportedInterfaces"]:
        iface["protocolBinding"] = "GRPC"
    async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
        response = await register_agent(hub, card={"name": "x"})
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert detail.startswith("invalid agent card: missing required field(s)")
        assert "supportedInterfaces" in detail and "version" in detail

        response = await register_agent(hub, card=legacy)
        assert response.status_code == 422, response.text
        assert "A2A 0.3 cards are not accepted" in response.json()["detail"]

        response = await register_agent(hub, card=grpc_only)
        assert response.status_code == 422, response.text
        assert "no JSONRPC or HTTP+JSON interface" in response.json()["detail"]

        response = await register_agent(hub, card=["not", "an", "object"])
        assert response.status_code == 422, response.text
        assert await agent_ids(hub) == []


async def test_environment_must_match_the_hub(tmp_path: Path, agent: AgentProcess) -> None:
    async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
        response = await register_agent(hub, card_url=agent.card_url, id="echo", environment="prod")
        assert response.status_code == 422, response.text
        assert "dev environment" in response.json()["detail"]
        assert await agent_ids(hub) == []
        response = await register_agent(hub, card_url=agent.card_url, id="echo", environment="dev")
        assert response.status_code == 201, response.text


async def test_self_registration_and_ownership(tmp_path: Path, agent: AgentProcess) -> None:
    async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
        me, mine = await principal_token(hub, [])
        _, other = await principal_token(hub, [])
        response = await register_agent(hub, mine, card_url=agent.card_url, id="self",
                                        settings={"auth": {"type": "headers", "headers": {"X-Key": "s3cret"}}})
        assert response.status_code == 201, response.text
        assert response.json()["state"] == "pending"

        async with hub.http(mine) as http:
            view = (await http.get("/api/v1/agents/self")).json()
        assert view["registered_by"] == me and view["owner"] == me
        assert view["settings"]["auth"]["headers"] == {"X-Key": "***"}  # the registrant never reads secrets back
        assert await agent_ids(hub, mine) == ["self"]

        # a registrant cannot approve its own agent
        async with hub.http(mine) as http:
            response = await http.post("/api/v1/agents/self/approve", json={})
        assert response.status_code == 403, response.text

        # nobody else may take the id over, with or without settings
        response = await register_agent(hub, other, card_url=agent.card_url, id="self")
        assert response.status_code == 409, response.text
        response = await register_agent(hub, other, card_url=agent.card_url, id="self", settings={})
        assert response.status_code == 409, response.text
        assert await agent_ids(hub, other) == []
        async with hub.http(other) as http:
            assert (await http.get("/api/v1/agents/self")).status_code == 404
            assert (await http.post("/api/v1/agents/self/refresh")).status_code == 404
            assert (await http.delete("/api/v1/agents/self")).status_code == 404
        async with hub.http() as admin:
            view = (await admin.get("/api/v1/agents/self")).json()
        assert view["registered_by"] == me and view["settings"]["auth"]["headers"] == {"X-Key": "***"}

        # the registrant may re-register (200, not a new agent)
        response = await register_agent(hub, mine, card_url=agent.card_url, id="self", purpose="testing")
        assert response.status_code == 200, response.text
        async with hub.http(mine) as http:
            assert (await http.get("/api/v1/agents/self")).json()["purpose"] == "testing"
            assert (await http.delete("/api/v1/agents/self")).status_code == 204
        assert await agent_ids(hub) == []

    async with running_hub(tmp_path / "anon", agent_allow_loopback=True) as hub:
        response = await register_agent(hub, None, card_url=agent.card_url, id="anon")
        assert response.status_code in (401, 403), response.text


async def test_listing_shows_only_what_the_caller_may_see(tmp_path: Path, agent: AgentProcess) -> None:
    async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
        await approved_agent(hub, agent, "seen")
        response = await register_agent(hub, card_url=agent.card_url, id="waiting")
        assert response.status_code == 201, response.text
        response = await register_agent(hub, card_url=agent.card_url, id="off")
        assert response.status_code == 201, response.text
        await approve_agent(hub, "off")
        async with hub.http() as admin:
            assert (await admin.post("/api/v1/agents/off/disable", json={"reason": "test"})).status_code == 200

        _, granted = await principal_token(hub, ["agent:seen", "agent:waiting", "agent:off"])
        _, ungranted = await principal_token(hub, ["search"])
        assert await agent_ids(hub) == ["off", "seen", "waiting"]
        assert await agent_ids(hub, granted) == ["seen"]
        assert await agent_ids(hub, ungranted) == []
        async with hub.http(granted) as http:
            [summary] = (await http.get("/api/v1/agents")).json()["agents"]
        assert summary["card_url_via_hub"] == f"{hub.url}/agents/seen/.well-known/agent-card.json"
        assert "settings" not in summary and "card" not in summary
        assert (await hub_card(hub, granted, "off")).status_code == 404
        assert (await hub_card(hub, ungranted, "seen")).status_code == 404


async def test_changed_card_quarantines_until_reapproved(tmp_path: Path) -> None:
    with a2a_agent("--description", "The original agent.") as agent:
        async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
            registered = await approved_agent(hub, agent, "moving")
            _, token = await principal_token(hub, ["agent:moving"])
            assert (await hub_card(hub, token, "moving")).json()["description"] == "The original agent."

            await agent.set_card(description="A new and different agent.")
            async with hub.http() as admin:
                response = await admin.post("/api/v1/agents/moving/refresh")
            assert response.status_code == 200, response.text
            refreshed = response.json()
            assert refreshed["state"] == "quarantined"
            assert refreshed["card_hash"] != registered["card_hash"]
            assert refreshed["approved_hash"] == registered["card_hash"]

            assert (await hub_card(hub, token, "moving")).status_code == 404
            async with hub.http(token) as http:
                response = await rpc(http, "/agents/moving/jsonrpc", "SendMessage", {"message": user_message("hi")})
                assert response.status_code == 404, response.text
                response = await http.post("/agents/moving/rest/message:send", json={"message": user_message("hi")},
                                           headers={"A2A-Version": "1.0"})
                assert response.status_code == 404, response.text
            assert await agent_ids(hub, token) == []

            # approving the card that was approved before is stale: the admin must look at the new one
            response = await approve_agent(hub, "moving", registered["card_hash"])
            assert response.status_code == 409, response.text
            assert (await hub_card(hub, token, "moving")).status_code == 404

            response = await approve_agent(hub, "moving", refreshed["card_hash"])
            assert response.status_code == 200, response.text
            card = await hub_card(hub, token, "moving")
            assert card.status_code == 200, card.text
            assert card.json()["description"] == "A new and different agent."


async def test_card_changed_back_is_approved_again(tmp_path: Path) -> None:
    with a2a_agent() as agent:
        async with running_hub(tmp_path, agent_allow_loopback=True) as hub:
            registered = await approved_agent(hub, agent, "flip")
            original = (await fetch_card(agent))["description"]
            await agent.set_card(description="Briefly something else.")
            async with hub.http() as admin:
                assert (await admin.post("/api/v1/agents/flip/refresh")).json()["state"] == "quarantined"
                await agent.set_card(description=original)
                back = (await admin.post("/api/v1/agents/flip/refresh")).json()
            assert back["state"] == "approved" and back["card_hash"] == registered["card_hash"]
