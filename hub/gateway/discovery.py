"""Discovery: semantic search over what a caller may use, and the discovery mode of tools/list.

The gateway feeds the index (every tool as an Entry whose grants and state are the query's filter) and
decides every search here: the `search` scope, rate limits, the audit record, and a last check of each
hit against the live catalog, which closes the moment between a quarantine and the index's update.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.catalog.entities import ToolRecord
from hub.gateway.audit import AuditEntry, argument_digest
from hub.gateway.errors import Forbidden, RateLimited, Unavailable
from hub.gateway.policy import agent_grants, may_search, search_grants, tool_grants
from hub.gateway.ratelimit import RateLimitUnavailable
from hub.identity.principal import Principal
from hub.search.documents import Entry, agent_texts, texts
from hub.search.index import Scope
from hub.search.search import Search

if TYPE_CHECKING:
    from hub.gateway.gateway import Gateway

ALL_KINDS = ("tool", "agent", "skill")


class Discovery:
    def __init__(self, gateway: Gateway, search: Search | None, *, mode: str = "auto", threshold: int = 200) -> None:
        self.gateway = gateway
        self.search = search
        self.mode = mode  # off | on | auto (on past `threshold` visible tools)
        self.threshold = threshold
        self._tool_entries: dict[str, tuple[ToolRecord, str, Entry]] = {}
        if search is not None:
            search.add_source(self.tool_entries)
            search.add_source(self.agent_entries)

    def can_search(self, principal: Principal) -> bool:
        return self.search is not None and may_search(principal)

    def replaces_list(self, principal: Principal, visible: int) -> bool:
        """Whether tools/list shows the search meta-tools instead of this caller's (many) tools."""
        if self.mode == "off" or not self.can_search(principal):
            return False
        return self.mode == "on" or visible > self.threshold

    def tool_entries(self) -> list[Entry]:
        """The catalog's tools as search entries (the index keeps their state and grants as the filter).

        Entries are kept per tool record: a reload keeps the records of unchanged tools, so a large catalog's
        texts are not rebuilt each time the indexer looks."""
        federation = self.gateway.federation
        disabled = federation.disabled_upstreams
        entries: dict[str, tuple[ToolRecord, str, Entry]] = {}
        for r in federation.tools.values():
            state = "disabled" if r.upstream in disabled else r.state.value
            cached = self._tool_entries.get(r.name)
            if cached is None or cached[0] is not r or cached[1] != state:
                cached = (r, state, Entry(kind="tool", key=r.name, source=r.upstream, state=state,
                                          grants=tool_grants(r.name, r.upstream), name=r.name, title=r.title,
                                          description=r.description or "",
                                          texts=texts(r.name, r.title, r.description, r.input_schema)))
            entries[r.name] = cached
        self._tool_entries = entries
        return [entry for _, _, entry in entries.values()]

    def agent_entries(self) -> list[Entry]:
        """Registered agents as search entries (their skills folded into the text)."""
        gate = self.gateway.agents
        if gate is None:
            return []
        return [Entry(kind="agent", key=a.id, source=f"agent:{a.id}", state=a.state.value, grants=agent_grants(a.id),
                      name=a.id, title=a.name, description=a.description,
                      texts=agent_texts(a.name, a.description, a.card.get("skills", [])))
                for a in gate.registry.agents.values()]

    async def find(self, principal: Principal, text: str, *, kinds: tuple[str, ...] = ALL_KINDS, limit: int = 10,
                   trace_id: str | None = None) -> list[dict[str, Any]]:
        """Ranked search over what this caller may use. Raises Forbidden, RateLimited, SearchUnavailable."""
        started = time.perf_counter()
        found = 0

        async def audit(decision: str, outcome: str | None) -> None:
            await self.gateway.audit.record(AuditEntry(
                principal=principal.id, action="search", target=",".join(kinds), decision=decision, outcome=outcome,
                argument_digest=argument_digest({"query": text}), trace_id=trace_id,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                detail={"results": found} if decision == "allow" else None))

        if self.search is None or not may_search(principal):
            await audit("deny", None)
            raise Forbidden("searching the catalog needs the 'search' scope")
        try:
            await self.gateway.rate_limit(principal, "hub.search", None)
        except RateLimited:
            await audit("rate_limited", None)
            raise
        except RateLimitUnavailable as exc:
            await audit("unavailable", None)
            raise Unavailable(str(exc)) from None
        scope = Scope(kinds=kinds, grants=search_grants(principal),
                      hidden_sources=self.gateway.federation.disabled_upstreams)
        try:
            hits = await self.search.find(text, scope, limit + 10)
        except Exception:
            await audit("allow", "unavailable")
            raise
        results = []
        for hit in hits:
            result = self._result(principal, hit.payload, hit.score)
            if result is not None:
                results.append(result)
            if len(results) == limit:
                break
        found = len(results)
        await audit("allow", "ok")
        return results

    def _result(self, principal: Principal, payload: Mapping[str, Any], score: float) -> dict[str, Any] | None:
        if payload.get("kind") == "agent":
            gate = self.gateway.agents
            agent = None if gate is None else gate.registry.agents.get(payload.get("key", ""))
            if agent is None or gate is None or not gate.visible(principal, agent):
                return None
            return {"kind": "agent", "id": agent.id, "title": agent.name, "description": agent.description,
                    "skills": [s.get("id") for s in agent.card.get("skills", [])],
                    "cardUrl": gate.card_url(agent.id), "score": round(score, 6)}
        if payload.get("kind") != "tool":
            return None  # only kinds the gateway can check are answered (fail closed)
        record = self.gateway.federation.tools.get(payload.get("key", ""))
        if record is None or not self.gateway.visible(principal, record):
            return None
        return {"kind": "tool", "name": record.name, "title": record.title, "description": record.description,
                "inputSchema": record.input_schema, "score": round(score, 6)}
