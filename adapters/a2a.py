"""Reach a registered A2A agent: with the agent's own credentials, over guarded connections, in either
A2A 1.0 binding (JSON-RPC or HTTP+JSON).

Knows nothing of principals or policy: the gateway decides, the A2A surface relays bytes, and this module
opens the connection, adds the credentials and the `A2A-Version` header, and turns transport failures into
`AgentError` with a message safe to show a caller.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from hub.adapters.guarded_http import guarded_client, refusal

from hub.catalog.agents import AgentSettings
from hub.identity.fetch import FetchPolicy

JSONRPC, HTTP_JSON = "JSONRPC", "HTTP+JSON"
BINDINGS = (JSONRPC, HTTP_JSON)
VERSION = "1.0"
MAX_EVENT_BYTES = 4 * 1024 * 1024  # one SSE event; larger events end the stream


class AgentError(Exception):
    """The agent could not be reached or answered nonsense; the message is safe to show a caller."""

    def __init__(self, message: str, *, code: int = -32603, status: int = 502) -> None:
        super().__init__(message)
        self.code, self.status = code, status


def major_one(version: str) -> bool:
    return version.split(".", 1)[0] == "1"


def interfaces(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The first usable interface per binding, in the card's preference order."""
    found: dict[str, dict[str, Any]] = {}
    for item in card.get("supportedInterfaces", []):
        binding = item.get("protocolBinding")
        if binding in BINDINGS and binding not in found and major_one(str(item.get("protocolVersion", ""))):
            found[binding] = item
    return found


class ClientCredentials(httpx.Auth):
    """OAuth client credentials for the agent (RFC 6749 section 4.4), cached until shortly before expiry."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, scope: str | None,
                 http: httpx.AsyncClient) -> None:
        self.token_url, self.client_id, self.client_secret, self.scope = token_url, client_id, client_secret, scope
        self.http = http
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def _fetch(self) -> str:
        async with self._lock:
            if self._token and time.monotonic() < self._expires:
                return self._token
            data = {"grant_type": "client_credentials", **({"scope": self.scope} if self.scope else {})}
            try:
                response = await self.http.post(self.token_url, data=data, auth=(self.client_id, self.client_secret))
            except httpx.HTTPError as exc:
                raise AgentError(f"could not get the agent's access token: {_reason(exc)}") from None
            if response.status_code != 200:
                raise AgentError(f"the agent's token endpoint refused the hub's credentials "
                                 f"(HTTP {response.status_code})")
            try:
                body = response.json()
                token = str(body["access_token"])
            except (ValueError, KeyError, TypeError):
                raise AgentError("the agent's token endpoint answered without an access token") from None
            lifetime = float(body.get("expires_in", 300)) if str(body.get("expires_in", "")).isdigit() else 300.0
            self._token, self._expires = token, time.monotonic() + max(lifetime - 30, 5)
            return token

    async def async_auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {await self._fetch()}"
        response = yield request
        if response.status_code == 401:  # revoked or rotated early: one fresh token, one retry
            self._token = None
            request.headers["Authorization"] = f"Bearer {await self._fetch()}"
            yield request


class AgentConnection:
    """One registered agent's endpoint: a pooled, guarded HTTP client carrying the agent's credentials."""

    def __init__(self, agent_id: str, card: dict[str, Any], settings: AgentSettings, policy: FetchPolicy, *,
                 connect_timeout_s: float = 10.0, max_response_bytes: int = 8 * 1024 * 1024) -> None:
        self.agent_id = agent_id
        self.interfaces = interfaces(card)
        self.max_response_bytes = max_response_bytes
        self.timeout_s = settings.timeout_s
        auth = settings.auth
        headers = {"A2A-Version": VERSION, **(auth.headers if auth.type == "headers" else {})}
        timeout = httpx.Timeout(settings.timeout_s, connect=min(connect_timeout_s, settings.timeout_s))
        self.http = guarded_client(policy, timeout=timeout, headers=headers,
                                   limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))
        self.auth: httpx.Auth | None = None
        if auth.type == "oauth_client_credentials" and auth.token_url and auth.client_id:
            self.auth = ClientCredentials(auth.token_url, auth.client_id, auth.client_secret or "", auth.scope,
                                          self.http)

    def url(self, binding: str) -> str | None:
        item = self.interfaces.get(binding)
        return None if item is None else str(item["url"]).rstrip("/")

    async def open(self, binding: str, method: str, path: str = "", *, body: bytes | None = None,
                   params: dict[str, str] | None = None, headers: dict[str, str] | None = None,
                   read_timeout_s: float | None = None) -> httpx.Response:
        """Send one request to the agent's `binding` endpoint; the response is streamed (close it)."""
        base = self.url(binding)
        if base is None:
            raise AgentError(f"agent {self.agent_id} has no {binding} interface", code=-32601, status=404)
        timeout = httpx.Timeout(self.timeout_s, connect=self.http.timeout.connect,
                                read=read_timeout_s or self.timeout_s)
        request = self.http.build_request(method, base + path, content=body, params=params, timeout=timeout,
                                          headers={"Content-Type": "application/json", **(headers or {})}
                                          if body is not None else headers)
        try:
            return await self.http.send(request, stream=True, auth=self.auth or httpx.USE_CLIENT_DEFAULT)
        except httpx.TimeoutException:
            raise AgentError(f"agent {self.agent_id} did not answer in time", status=504) from None
        except httpx.HTTPError as exc:
            raise AgentError(f"agent {self.agent_id} is unreachable: {_reason(exc)}") from None

    async def read_json(self, response: httpx.Response) -> Any:
        """The whole (bounded) body of a non-streaming answer as JSON."""
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_response_bytes:
                    raise AgentError(f"agent {self.agent_id} answered more than {self.max_response_bytes} bytes")
        except httpx.TimeoutException:
            raise AgentError(f"agent {self.agent_id} did not answer in time", status=504) from None
        except httpx.HTTPError as exc:
            raise AgentError(f"agent {self.agent_id} broke off its answer: {_reason(exc)}") from None
        finally:
            await response.aclose()
        try:
            return json.loads(bytes(body))
        except ValueError:
            raise AgentError(f"agent {self.agent_id} answered something that is not JSON",
                             code=-32006) from None

    async def call(self, method: str, params: dict[str, Any], *, streaming: bool = False
                   ) -> AsyncIterator[dict[str, Any]]:
        """A2A `method` with `params` (ProtoJSON) over the preferred binding; yields each result object
        (one for a plain call, each stream frame for SendStreamingMessage). A2A errors raise AgentError
        carrying the agent's code."""
        binding = next(iter(self.interfaces), None)
        if binding == JSONRPC:
            body = json.dumps({"jsonrpc": "2.0", "id": str(uuid.uuid4()), "method": method, "params": params})
            response = await self.open(JSONRPC, "POST", body=body.encode(),
                                       headers={"Accept": "text/event-stream"} if streaming else None)
        elif binding == HTTP_JSON:
            verb, path = REST_CALLS[method]
            response = await self.open(HTTP_JSON, verb, path.format(**params),
                                       body=json.dumps(params).encode() if verb == "POST" else None)
        else:
            raise AgentError(f"agent {self.agent_id} offers no A2A 1.0 interface the hub speaks")
        if streaming and response.headers.get("content-type", "").startswith("text/event-stream"):
            try:
                async for data in sse_data(response, self.agent_id):
                    yield _unwrap(data, binding, self.agent_id)
            finally:
                await response.aclose()
            return
        if response.status_code >= 400 and binding == HTTP_JSON:
            await response.aclose()
            raise AgentError(f"agent {self.agent_id} refused the call (HTTP {response.status_code})")
        yield _unwrap(await self.read_json(response), binding, self.agent_id)

    async def close(self) -> None:
        await self.http.aclose()


# Methods the hub itself originates over HTTP+JSON (for agents offering only that binding).
REST_CALLS = {
    "SendMessage": ("POST", "/message:send"),
    "SendStreamingMessage": ("POST", "/message:stream"),
    "GetTask": ("GET", "/tasks/{id}"),
    "CancelTask": ("POST", "/tasks/{id}:cancel"),
    "GetExtendedAgentCard": ("GET", "/extendedAgentCard"),
}


def _unwrap(data: Any, binding: str, agent_id: str) -> dict[str, Any]:
    if binding == JSONRPC:
        if not isinstance(data, dict):
            raise AgentError(f"agent {agent_id} answered an invalid JSON-RPC message", code=-32006)
        if isinstance(data.get("error"), dict):
            error = data["error"]
            code = error.get("code") if isinstance(error.get("code"), int) else -32603
            raise AgentError(f"agent {agent_id}: {str(error.get('message', 'error'))[:300]}", code=code, status=200)
        data = data.get("result")
    if not isinstance(data, dict):
        raise AgentError(f"agent {agent_id} answered an invalid result", code=-32006)
    return data


async def sse_data(response: httpx.Response, agent_id: str) -> AsyncIterator[Any]:
    """The JSON `data` of each server-sent event as it arrives (events are bounded in size)."""
    async for event in sse_events(response, agent_id):
        try:
            yield json.loads(event)
        except ValueError:
            raise AgentError(f"agent {agent_id} sent an event that is not JSON", code=-32006) from None


async def sse_events(response: httpx.Response, agent_id: str) -> AsyncIterator[str]:
    """Each event's `data` field (multi-line data joined by newlines), per the SSE framing rules."""
    buffer = b""
    data: list[str] = []
    try:
        async for chunk in response.aiter_bytes():
            buffer += chunk
            if len(buffer) > MAX_EVENT_BYTES:
                raise AgentError(f"agent {agent_id} sent an event larger than {MAX_EVENT_BYTES} bytes")
            *lines, buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                if not line:
                    if data:
                        yield "\n".join(data)
                    data = []
                elif line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
    except httpx.TimeoutException:
        raise AgentError(f"agent {agent_id} went quiet mid-stream", status=504) from None
    except httpx.HTTPError as exc:
        raise AgentError(f"agent {agent_id} broke off the stream: {_reason(exc)}") from None
    if data:
        yield "\n".join(data)


def _reason(exc: BaseException) -> str:
    why = refusal(exc)
    if why:
        return why
    return {httpx.ConnectError: "connection failed", httpx.RemoteProtocolError: "protocol error"}.get(
        type(exc), type(exc).__name__)
