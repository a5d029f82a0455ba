"""The gateway's decisions on A2A agents: who may see an agent's card, talk to it, and read which tasks.

Same rules as for tools: an agent is visible to a principal holding `agent:<id>` (or admin) once an admin
approved its card, and what a principal may not see is indistinguishable from what does not exist. Every
card view and every A2A call is rate limited in the caller's buckets and audited. Tasks belong to the
principal whose call created them (the hub talks to each agent with one credential of its own, so the
agent cannot tell callers apart: the hub must).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from hub.adapters.guarded_http import check_url
from hub.catalog.agents import AgentRecord
from hub.catalog.entities import ToolState
from hub.catalog.registry import AgentRegistry
from hub.gateway.audit import AuditEntry
from hub.gateway.errors import NotFound, RateLimited, Unavailable
from hub.gateway.policy import may_use_agent
from hub.gateway.ratelimit import Rate, RateLimitUnavailable
from hub.identity.fetch import FetchError
from hub.identity.principal import Principal

if TYPE_CHECKING:
    from hub.gateway.gateway import Gateway


@dataclass
class Admission:
    """An admitted A2A call: the agent, and how to audit the outcome once it is known."""

    agent: AgentRecord
    audit: Callable[..., Awaitable[None]]


class AgentGate:
    def __init__(self, gateway: Gateway, registry: AgentRegistry, *, base_url: str, agent_rate: Rate | None = None
                 ) -> None:
        self.gateway = gateway
        self.registry = registry
        self.base_url = base_url.rstrip("/")
        self.agent_rate = agent_rate  # calls of one agent by one principal

    def card_url(self, agent_id: str) -> str:
        """Where a caller gets the agent's card (with the hub's proxy as its interfaces)."""
        return f"{self.base_url}/agents/{agent_id}/.well-known/agent-card.json"

    def visible(self, principal: Principal, record: AgentRecord) -> bool:
        return record.state == ToolState.approved and may_use_agent(principal, record.id)

    def visible_agents(self, principal: Principal) -> list[AgentRecord]:
        agents = self.registry.agents
        return [agents[i] for i in sorted(agents) if self.visible(principal, agents[i])]

    def agent(self, principal: Principal, agent_id: str) -> AgentRecord:
        record = self.registry.agents.get(agent_id)
        if record is None or not self.visible(principal, record):
            raise NotFound(f"Unknown agent: {agent_id}")
        return record

    async def admit(self, principal: Principal, agent_id: str, action: str, *, trace_id: str | None = None,
                    detail: dict[str, Any] | None = None) -> Admission:
        """Decide one A2A operation; raises NotFound, RateLimited or Unavailable (each audited)."""
        started = time.perf_counter()
        target = agent_id[:300]

        async def audit(decision: str, outcome: str | None = None, **extra: Any) -> None:
            await self.gateway.audit.record(AuditEntry(
                principal=principal.id, action=action, target=target, decision=decision, outcome=outcome,
                latency_ms=round((time.perf_counter() - started) * 1000, 3), trace_id=trace_id,
                definition_hash=record.card_hash if record is not None else None,
                detail={**(detail or {}), **extra} or None))

        record = self.registry.agents.get(agent_id)
        visible = record is not None and self.visible(principal, record)
        try:
            await self.gateway.rate_limit(principal, f"agent:{agent_id}", None, rate=self.agent_rate)
        except RateLimited:
            await audit("rate_limited")
            raise
        except RateLimitUnavailable as exc:
            await audit("unavailable")
            raise Unavailable(str(exc)) from None
        if not visible:
            record = None
            await audit("deny")
            raise NotFound(f"Unknown agent: {agent_id}")
        assert record is not None
        return Admission(record, audit)

    # -- relaying (the A2A surface reaches an agent only through here, after `admit`) ----------------

    def speaks(self, agent_id: str, binding: str) -> bool:
        return binding in self.registry.connection(agent_id).interfaces

    async def relay(self, admission: Admission, binding: str, method: str, path: str = "", **kwargs: Any
                    ) -> httpx.Response:
        """Send an admitted request to the agent with its own credentials; the response streams (close it)."""
        return await self.registry.connection(admission.agent.id).open(binding, method, path, **kwargs)

    async def answer(self, admission: Admission, response: httpx.Response) -> Any:
        """A non-streaming answer's JSON (bounded in size)."""
        return await self.registry.connection(admission.agent.id).read_json(response)

    async def push_url_refusal(self, url: str) -> str | None:
        """Why a push-notification URL may not be handed to an agent (checked like card URLs), or None."""
        try:
            await check_url(url, self.registry.settings.policy)
        except FetchError as exc:
            return str(exc)
        return None

    # -- task ownership ---------------------------------------------------------------------------

    async def owns(self, principal: Principal, agent_id: str, task_id: str) -> bool:
        if "\x00" in task_id:  # no task has one (see claim); PostgreSQL would refuse the lookup
            return False
        return await self.registry.store.task_owner(agent_id, task_id) == principal.id

    async def claim(self, principal: Principal, agent_id: str, task_ids: set[str]) -> bool:
        """Record the caller as the creator of tasks it just saw created; False if any belongs to another."""
        ok = True
        for task_id in task_ids:
            if len(task_id) > 200 or "\x00" in task_id:
                return False
            ok = await self.registry.store.claim_task(agent_id, task_id, principal.id) == principal.id and ok
        return ok

    async def owned(self, principal: Principal, agent_id: str, task_ids: list[str]) -> set[str]:
        owners = await self.registry.store.owners(agent_id, [t for t in task_ids if "\x00" not in t])
        return {task for task, owner in owners.items() if owner == principal.id}
