"""A small client for agents and services that use a hub: announce an agent, find peers and tools, talk to
agents through the hub's A2A proxy, call tools.

    from hub.client import HubClient

    async with HubClient("http://127.0.0.1:8000", client_id=..., client_secret=...) as hub:  # or token=...
        await hub.register(card_url="https://me.example/.well-known/agent-card.json")  # {"id", "state", ...}
        peers = await hub.find_agents("translate legal documents")  # ranked, only what you may see
        tools = await hub.find_tools("convert currencies")
        reply = await hub.send(peers[0]["id"], "hello")  # the final Task or Message (a2a-sdk protobuf)
        async for event in hub.stream(peers[0]["id"], "slow 3"):  # StreamResponse events as they arrive
            ...
        result = await hub.call_tool("clock.now", {})  # the tool's CallToolResult as a dict

Credentials: OAuth client credentials (the token is fetched from `{base}/oauth/token` and renewed before it
expires, or after a 401), or a fixed `token`. Agent cards are checked against the hub's signing keys
(`{base}/oauth/jwks`) before use. Every failure raises `HubError`.

Tool calls go through the hub's own A2A skill `call_tool`; its data parts carry numbers as doubles, so whole
numbers in arguments and results arrive as floats (`3` as `3.0`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx
import jwt
from a2a.client import A2ACardResolver, AgentCardResolutionError, Client, ClientConfig, create_client
from a2a.helpers import get_data_parts, new_data_part
from a2a.types import AgentCard, Message, Part, Role, SendMessageRequest, StreamResponse, Task
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH
from a2a.utils.errors import A2AError
from a2a.utils.signing import SignatureVerificationError, create_signature_verifier

__all__ = ["HubClient", "HubError"]


class HubError(Exception):
    """A refusal or failure: `status` is the HTTP status (None for an A2A protocol error), `detail` the reason."""

    def __init__(self, status: int | None, detail: str, body: Any = None) -> None:
        super().__init__(f"{status}: {detail}" if status else detail)
        self.status, self.detail, self.body = status, detail, body


class _Bearer(httpx.Auth):
    def __init__(self, hub: HubClient) -> None:
        self.hub = hub

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.hub._access_token()}"
        response = yield request
        if response.status_code == 401 and self.hub._credentials is not None:  # revoked or expired early
            request.headers["Authorization"] = f"Bearer {await self.hub._access_token(renew=True)}"
            yield request


class HubClient:
    def __init__(self, base_url: str, *, client_id: str | None = None, client_secret: str | None = None,
                 token: str | None = None, scope: str | None = None, timeout: float = 60.0) -> None:
        if (token is None) == (client_id is None or client_secret is None):
            raise ValueError("give either token or client_id and client_secret")
        self.base_url = base_url.rstrip("/")
        self._credentials = (client_id, client_secret) if client_id and client_secret else None
        self._scope = scope
        self._token, self._expires = token, float("inf")
        self._lock = asyncio.Lock()
        self._jwks: dict[str, Any] | None = None
        self._clients: dict[tuple[str, bool], Client] = {}
        self.http = httpx.AsyncClient(base_url=self.base_url, auth=_Bearer(self),
                                      timeout=httpx.Timeout(timeout, read=max(timeout, 300.0)))

    async def __aenter__(self) -> HubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- REST -------------------------------------------------------------------------------------

    async def register(self, *, card_url: str | None = None, card: dict[str, Any] | None = None,
                       **fields: Any) -> dict[str, Any]:
        """Register (or update) an agent; `fields`: id, owner, purpose, environment, settings. New agents are
        `pending` until an admin approves them."""
        body = {k: v for k, v in {"card_url": card_url, "card": card, **fields}.items() if v is not None}
        return await self._json("POST", "/api/v1/agents", json=body)

    async def agent(self, agent_id: str) -> dict[str, Any]:
        return await self._json("GET", f"/api/v1/agents/{agent_id}")

    async def find_agents(self, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """Agents you may talk to, best match first: `{"id", "title", "description", "skills", "cardUrl", ...}`."""
        return await self._search(query, "agent", limit)

    async def find_tools(self, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """Tools you may call, best match first: `{"name", "title", "description", "score", ...}`."""
        return await self._search(query, "tool", limit)

    async def _search(self, query: str, kind: str, limit: int) -> list[dict[str, Any]]:
        found = await self._json("GET", "/api/v1/search", params={"q": query, "kind": kind, "limit": str(limit)})
        return [r for r in found["results"] if r.get("kind") == kind]

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise HubError(None, f"cannot reach the hub at {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise _problem(response)
        return None if response.status_code == 204 else response.json()

    # -- A2A --------------------------------------------------------------------------------------

    async def send(self, agent_id: str, message: str | Message, *, data: dict[str, Any] | None = None
                   ) -> Task | Message:
        """Send one message to a registered agent through the hub and wait for its answer."""
        async with aclosing(self._send(agent_id, message, data, streaming=False)) as events:
            async for event in events:
                return event.task if event.HasField("task") else event.message
        raise HubError(None, f"agent {agent_id} sent no answer")

    async def stream(self, agent_id: str, message: str | Message, *, data: dict[str, Any] | None = None
                     ) -> AsyncIterator[StreamResponse]:
        """Send a message and yield the agent's events (task, status and artifact updates) as they arrive."""
        async for event in self._send(agent_id, message, data, streaming=True):
            yield event

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a tool through the hub: its result (`content`, `structuredContent`, `isError`)."""
        request = {"skill": "call_tool", "name": name, "arguments": arguments or {}}
        reply = await self._hub_skill(request)
        if "error" in reply:
            raise HubError(None, str(reply.get("message") or reply["error"]), reply)
        return reply

    async def _hub_skill(self, request: dict[str, Any]) -> dict[str, Any]:
        message = Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=[new_data_part(request)])
        reply = await self.send("", message)
        for value in get_data_parts(reply.parts if isinstance(reply, Message) else []):
            if isinstance(value, dict):
                return value
        raise HubError(None, "the hub answered without a data part")

    async def _send(self, agent_id: str, message: str | Message, data: dict[str, Any] | None, *, streaming: bool
                    ) -> AsyncIterator[StreamResponse]:
        if isinstance(message, str):
            parts = [Part(text=message)] + ([new_data_part(data)] if data is not None else [])
            message = Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=parts)
        client = await self._client(agent_id, streaming)
        try:
            async for event in client.send_message(SendMessageRequest(message=message)):
                yield event
        except (A2AError, httpx.HTTPError) as exc:
            self._clients.pop((agent_id, streaming), None)  # the card may have changed: resolve it again
            cause = exc.__cause__
            if isinstance(cause, httpx.HTTPStatusError):  # the hub refused the call (unknown agent, rate limit)
                raise _problem(cause.response) from exc
            raise HubError(None, f"{agent_id or 'hub'}: {exc}") from exc

    async def card(self, agent_id: str) -> AgentCard:
        """An agent's card as the hub serves it to you (its endpoints are the hub's), signature checked;
        `""` for the hub's own card."""
        path = f"/agents/{agent_id}{AGENT_CARD_WELL_KNOWN_PATH}" if agent_id else AGENT_CARD_WELL_KNOWN_PATH
        try:
            return await self._resolve(path, await self._keys())
        except SignatureVerificationError:
            pass  # perhaps signed by a key the hub rotated in since its JWKS was fetched
        try:
            return await self._resolve(path, await self._keys(renew=True))
        except SignatureVerificationError as exc:
            raise HubError(None, f"the card of {agent_id or 'the hub'} is not signed by the hub: {exc}") from exc

    async def _resolve(self, path: str, jwks: dict[str, Any]) -> AgentCard:
        verifier = create_signature_verifier(lambda kid, jku: _key(jwks, kid), algorithms=["ES256"])
        try:
            return await A2ACardResolver(self.http, self.base_url).get_agent_card(
                relative_card_path=path, signature_verifier=verifier)
        except AgentCardResolutionError as exc:
            agent = path.split("/")[2] if path.startswith("/agents/") else "hub"
            detail = f"no agent {agent!r} you may use" if exc.status_code == 404 else str(exc)
            raise HubError(exc.status_code, detail) from exc

    async def _client(self, agent_id: str, streaming: bool) -> Client:
        client = self._clients.get((agent_id, streaming))
        if client is None:
            config = ClientConfig(httpx_client=self.http, streaming=streaming)
            client = self._clients[(agent_id, streaming)] = await create_client(await self.card(agent_id), config)
        return client

    async def _keys(self, renew: bool = False) -> dict[str, Any]:
        if self._jwks is None or renew:
            self._jwks = await self._json("GET", "/oauth/jwks")
        return self._jwks

    # -- credentials ------------------------------------------------------------------------------

    async def _access_token(self, renew: bool = False) -> str:
        async with self._lock:
            if self._credentials is not None and (renew or self._token is None or time.monotonic() > self._expires):
                form = {"grant_type": "client_credentials", **({"scope": self._scope} if self._scope else {})}
                try:
                    response = await self.http.post("/oauth/token", data=form, auth=self._credentials)
                except httpx.HTTPError as exc:
                    raise HubError(None, f"cannot reach the hub at {self.base_url}: {exc}") from exc
                if response.status_code != 200:
                    raise _problem(response)
                body = response.json()
                self._token = body["access_token"]
                lifetime = float(body.get("expires_in") or 300)
                self._expires = time.monotonic() + max(lifetime - min(60.0, lifetime / 5), 1.0)
            assert self._token is not None
            return self._token


def _key(jwks: dict[str, Any], kid: str | None) -> jwt.PyJWK:
    for key in jwks.get("keys", []):
        if key.get("kid") == kid:
            return jwt.PyJWK(key)
    raise jwt.PyJWKError(f"the hub has no signing key {kid!r}")


def _problem(response: httpx.Response) -> HubError:
    """A HubError from an RFC 9457 problem (REST), an OAuth error or an A2A error (JSON-RPC or HTTP+JSON)."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        error = body.get("error")
        detail = (body.get("detail") or body.get("error_description") or body.get("title")
                  or (error.get("message") if isinstance(error, dict) else error))
        for error in body.get("errors") or []:
            detail = f"{detail}; {error.get('field')}: {error.get('message')}"
    else:
        detail = body
    return HubError(response.status_code, str(detail or response.reason_phrase), body)
