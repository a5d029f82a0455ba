"""Agent cards as the hub serves them: its own, and each registered agent's rewritten to the hub's proxy.

Every served card names the hub's OAuth authorization server (callers authenticate to the hub, never to the
agent behind it) and is signed with the hub's current signing key (the key is in the hub's JWKS), so a
client can check that the card it holds is the one the hub serves. Signed cards are cached per card and key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    AuthorizationCodeOAuthFlow,
    ClientCredentialsOAuthFlow,
    OAuth2SecurityScheme,
    OAuthFlows,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)

from hub import __version__
from hub.catalog.agents import AgentRecord
from hub.catalog.cards import card_dict, parse_card, rewrite_card, sign_card
from hub.identity.keys import KeyRing

# One scheme per OAuth flow (a scheme holds one flow); either one satisfies the card's requirements.
SERVICE_SCHEME, USER_SCHEME = "hub_oauth_client_credentials", "hub_oauth_authorization_code"

HUB_SKILLS = [
    AgentSkill(id="find_agents", name="Find agents",
               description="Find the agents this caller may talk to that fit a need described in words; answers "
                           "ranked agents (id, name, description, card URL) as a data part.",
               tags=["discovery", "agents", "search"],
               examples=["an agent that can translate documents", '{"skill": "find_agents", "query": "weather"}']),
    AgentSkill(id="find_tools", name="Find tools",
               description="Find the MCP tools this caller may use that fit a need described in words; answers "
                           "ranked tools (name, description, input schema) as a data part.",
               tags=["discovery", "tools", "search", "mcp"],
               examples=["a tool to convert currencies", '{"skill": "find_tools", "query": "send an email"}']),
    AgentSkill(id="call_tool", name="Call a tool",
               description='Call one MCP tool through the hub: a data part {"skill": "call_tool", "name": ..., '
                           '"arguments": {...}}; answers the tool\'s result as a data part.',
               tags=["tools", "mcp"], examples=['{"skill": "call_tool", "name": "clock.now", "arguments": {}}']),
]


class CardServer:
    def __init__(self, base_url: str, keys: KeyRing) -> None:
        self.base_url = base_url.rstrip("/")
        self.keys = keys
        self._cache: dict[tuple[str, ...], tuple[bytes, str, dict[str, Any]]] = {}

    def security(self) -> tuple[dict[str, SecurityScheme], list[SecurityRequirement]]:
        """The hub's OAuth 2.1 server, as A2A security schemes: client credentials for agents and services,
        authorization code with PKCE for users."""
        token_url = f"{self.base_url}/oauth/token"
        metadata = f"{self.base_url}/.well-known/oauth-authorization-server"
        scopes = {"search": "discover agents and tools", "agent:<id>": "talk to one agent"}
        service = OAuthFlows(client_credentials=ClientCredentialsOAuthFlow(token_url=token_url, scopes=scopes))
        user = OAuthFlows(authorization_code=AuthorizationCodeOAuthFlow(
            authorization_url=f"{self.base_url}/oauth/authorize", token_url=token_url, scopes=scopes,
            pkce_required=True))
        description = "OAuth 2.1 access token issued by this hub (scopes agent:<id>, search, tool:<name>)"
        schemes = {
            name: SecurityScheme(oauth2_security_scheme=OAuth2SecurityScheme(
                description=description, oauth2_metadata_url=metadata, flows=flows))
            for name, flows in ((SERVICE_SCHEME, service), (USER_SCHEME, user))}
        return schemes, [SecurityRequirement(schemes={name: StringList(list=[])}) for name in schemes]

    def _signed(self, key: tuple[str, ...], build: Any) -> tuple[bytes, str, dict[str, Any]]:
        kid = self.keys.kid
        cached = self._cache.get((*key, kid))
        if cached is None:
            signed = sign_card(build(), self.keys.signing_key.as_dict(private=True), kid)
            data = card_dict(signed)
            body = json.dumps(data, separators=(",", ":")).encode()
            etag = 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            if len(self._cache) > 4096:
                self._cache.clear()
            cached = self._cache[(*key, kid)] = (body, etag, data)
        return cached

    # -- the hub's own card -----------------------------------------------------------------------

    def hub_card(self) -> AgentCard:
        schemes, requirements = self.security()
        return AgentCard(
            name="hub", version=__version__,
            description="A tool hub: finds the agents and MCP tools a caller may use by intent, calls tools, and "
                        "relays A2A traffic to registered agents under /agents/{id}/ through one policy point.",
            provider=AgentProvider(organization="hub", url=self.base_url),
            supported_interfaces=[
                AgentInterface(url=f"{self.base_url}/a2a/jsonrpc", protocol_binding="JSONRPC", protocol_version="1.0"),
                AgentInterface(url=f"{self.base_url}/a2a/rest", protocol_binding="HTTP+JSON", protocol_version="1.0"),
            ],
            capabilities=AgentCapabilities(streaming=True, push_notifications=False, extended_agent_card=False),
            default_input_modes=["text/plain", "application/json"],
            default_output_modes=["application/json", "text/plain"],
            skills=HUB_SKILLS, security_schemes=schemes, security_requirements=requirements)

    def hub_card_response(self) -> tuple[bytes, str]:
        body, etag, _ = self._signed(("hub",), self.hub_card)
        return body, etag

    # -- registered agents ------------------------------------------------------------------------

    def _rewritten(self, record: AgentRecord, document: dict[str, Any]) -> AgentCard:
        schemes, requirements = self.security()
        return rewrite_card(parse_card(document), proxy_base=f"{self.base_url}/agents/{record.id}",
                            security_schemes=schemes, security_requirements=requirements)

    def agent_card(self, record: AgentRecord) -> tuple[bytes, str]:
        body, etag, _ = self._signed(("agent", record.id, record.card_hash),
                                     lambda: self._rewritten(record, record.card))
        return body, etag

    def agent_card_url(self, agent_id: str) -> str:
        return f"{self.base_url}/agents/{agent_id}/.well-known/agent-card.json"

    def extended_card(self, record: AgentRecord) -> dict[str, Any] | None:
        if record.extended_card is None:
            return None
        extended = hashlib.sha256(json.dumps(record.extended_card, sort_keys=True).encode()).hexdigest()
        return self._signed(("extended", record.id, extended),
                            lambda: self._rewritten(record, record.extended_card or {}))[2]
