"""The gateway: the single point where every list and call is decided before it reaches an adapter.

Surfaces call the gateway; the gateway consults the caller's Principal and the catalog, applies the
rules (visibility, kill switches, pinned definitions, rate limits, risky-call approval, input and output
guards, the upstream's circuit breaker), calls the upstream through its adapter and audits the outcome
before the caller hears of it. Deny by default: what a principal may not use is indistinguishable from
what does not exist.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mcp.types as types
from mcp.shared.exceptions import MCPError

from hub.adapters.mcp import Relay, UpstreamError
from hub.catalog.entities import ToolRecord, ToolState
from hub.catalog.sync import Federation
from hub.gateway.access import AccessRequests
from hub.gateway.agent_tools import AgentTools
from hub.gateway.agents import AgentGate
from hub.gateway.approvals import STATE_PREFIX, CallApprovals, preview
from hub.gateway.audit import AuditEntry, AuditLog, argument_digest
from hub.gateway.breaker import Breakers
from hub.gateway.discovery import Discovery
from hub.gateway.errors import Forbidden, InvalidCursor, NotFound, RateLimited, Unavailable
from hub.gateway.meta import CALL_TOOL, MetaTool, MetaTools
from hub.gateway.policy import may_use_tool, may_use_upstream
from hub.gateway.ratelimit import Limiter, Rate, RateLimitUnavailable
from hub.gateway.validation import validate_arguments, validate_output
from hub.identity.principal import Principal
from hub.search.search import Search

log = logging.getLogger("hub.gateway")

__all__ = ["Forbidden", "Gateway", "InvalidCursor", "NotFound", "RateLimited", "Rules", "Unavailable", "error_result"]


def encode_cursor(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("invalid cursor") from None


def is_risky(record: ToolRecord) -> bool:
    """High risk by an admin's word, else when the annotations claim destructive and not read-only."""
    if record.policy.risk is not None:
        return record.policy.risk == "high"
    annotations = record.annotations or {}
    return annotations.get("destructiveHint") is True and annotations.get("readOnlyHint") is not True


@dataclass(frozen=True)
class Rules:
    """The gateway's configurable limits (from Settings)."""

    principal_rate: Rate | None = None  # every call by one principal
    tool_rate: Rate | None = None  # calls of one tool by one principal (a tool's policy may override)


@lru_cache(maxsize=1024)
def _policy_rate(text: str) -> Rate:
    """A tool policy's rate, parsed once (the policy was validated when an admin set it)."""
    return Rate.parse(text)


class Gateway:
    def __init__(
        self,
        federation: Federation,
        *,
        audit: AuditLog,
        limiter: Limiter,
        breakers: Breakers,
        approvals: CallApprovals,
        access: AccessRequests,
        rules: Rules | None = None,
        page_size: int = 100,
        approval_url: str = "",
        search: Search | None = None,
        discovery: str = "auto",
        discovery_threshold: int = 200,
    ) -> None:
        self.federation = federation
        self.audit = audit
        self.limiter = limiter
        self.breakers = breakers
        self.approvals = approvals
        self.access = access
        self.rules = rules or Rules()
        self.page_size = page_size
        self.approval_url = approval_url
        self.agents: AgentGate | None = None  # the A2A registry's decisions, once attached
        self.agent_tools: AgentTools | None = None
        self.discovery = Discovery(self, search, mode=discovery, threshold=discovery_threshold)
        self.meta = MetaTools(self)

    def attach_agents(self, gate: AgentGate) -> None:
        """Registered A2A agents: searchable, and their skills listed and called as tools."""
        self.agents = gate
        self.agent_tools = AgentTools(gate)

    def _meta_tool(self, name: str) -> MetaTool | None:
        meta = self.meta.get(name)
        if meta is None and self.agent_tools is not None and name not in self.federation.tools:
            meta = self.agent_tools.get(name)
        return meta

    # ------------------------------------------------------------------------------ visibility

    def visible(self, principal: Principal, record: ToolRecord) -> bool:
        return (record.state == ToolState.approved
                and record.upstream not in self.federation.disabled_upstreams
                and may_use_tool(principal, record.name, record.upstream))

    def visible_tools(self, principal: Principal) -> list[ToolRecord]:
        tools = self.federation.tools
        return [tools[name] for name in sorted(tools) if self.visible(principal, tools[name])]

    def _tool_defs(self, principal: Principal) -> list[tuple[str, types.Tool]]:
        defs = self.federation.tool_defs
        visible = self.visible_tools(principal)
        if self.discovery.replaces_list(principal, len(visible)):
            return sorted(self.meta.listed(principal, discovery=True), key=lambda item: item[0])
        listed = [(r.name, defs[r.name]) for r in visible] + self.meta.listed(principal)
        if self.agent_tools is not None:
            listed += self.agent_tools.listed(principal)
        return sorted(listed, key=lambda item: item[0])

    def list_tools(
        self, principal: Principal, cursor: str | None = None, limit: int | None = None
    ) -> tuple[list[types.Tool], str | None]:
        """One page of the caller's tools, in name order; the cursor is opaque (the last name seen)."""
        after = decode_cursor(cursor) if cursor else None
        size = max(1, min(limit or self.page_size, self.page_size))
        listed = [item for item in self._tool_defs(principal) if after is None or item[0] > after]
        page = listed[:size]
        next_cursor = encode_cursor(page[-1][0]) if len(listed) > size else None
        return [tool for _, tool in page], next_cursor

    def tool(self, principal: Principal, name: str) -> ToolRecord:
        record = self.federation.tools.get(name)
        if record is None or not self.visible(principal, record):
            raise NotFound(f"Unknown tool: {name}")
        return record

    def can_call_directly(self, record: ToolRecord) -> bool:
        """Whether a stateless call of this tool can skip the SDK machinery end to end."""
        client = self.federation.client(record.upstream)
        return client is not None and client.can_call_directly(record.input_schema)

    def input_schema(self, name: str) -> dict[str, Any] | None:
        meta = self._meta_tool(name)
        if meta is not None:
            return meta.tool.input_schema
        record = self.federation.tools.get(name)
        return record.input_schema if record is not None else None

    # ------------------------------------------------------------------------------ calls

    async def rate_limit(self, principal: Principal, name: str, record: ToolRecord | None, *,
                         rate: Rate | None = None) -> None:
        """The principal's bucket and its bucket for `name`: the tool's policy rate, else `rate` (an agent's),
        else the hub's per-tool rate. Raises RateLimited (or RateLimitUnavailable)."""
        checks: list[tuple[str, Rate]] = []
        if self.rules.principal_rate is not None:
            checks.append((f"p:{principal.id}", self.rules.principal_rate))
        tool_rate = rate or self.rules.tool_rate
        if record is not None and record.policy.rate_limit:
            tool_rate = _policy_rate(record.policy.rate_limit)
        if tool_rate is not None:
            checks.append((f"t:{principal.id}:{name}", tool_rate))
        if not checks:
            return
        decision = await self.limiter.take(checks)
        if not decision.allowed:
            raise RateLimited(f"Rate limit exceeded for {name}; retry in {decision.retry_after_s:.1f} s", decision)

    async def call_tool(
        self,
        principal: Principal,
        name: str,
        arguments: dict[str, Any] | None,
        *,
        relay: Relay | None = None,
        meta: dict[str, Any] | None = None,
        input_responses: dict[str, Any] | None = None,
        request_state: str | None = None,
        trace_id: str | None = None,
    ) -> types.CallToolResult | types.InputRequiredResult:
        """Decide, call, audit. Raises NotFound (-32602), RateLimited, Unavailable; else a result."""
        started = time.perf_counter()
        arguments = arguments or {}
        if name == CALL_TOOL and self.meta.tools[CALL_TOOL].visible(principal):
            # A call through the discovery meta-tool is decided and audited as the call of the tool it names.
            problem = validate_arguments(self.meta.tools[CALL_TOOL].tool.input_schema, arguments)
            if problem is not None or arguments["name"] == CALL_TOOL:
                return error_result(f"Invalid arguments for {CALL_TOOL}: {problem or 'it cannot call itself'}")
            return await self.call_tool(principal, arguments["name"], arguments.get("arguments"), relay=relay,
                                        meta=meta, input_responses=input_responses, request_state=request_state,
                                        trace_id=trace_id)
        digest = argument_digest(arguments)
        entry = dict(principal=principal.id, action="tools/call", target=name[:300], argument_digest=digest,
                     trace_id=trace_id)

        async def audit(decision: str, outcome: str | None = None, **extra: Any) -> None:
            await self.audit.record(AuditEntry(**entry, decision=decision, outcome=outcome,  # type: ignore[arg-type]
                                               latency_ms=round((time.perf_counter() - started) * 1000, 3),
                                               **extra))

        if not self.federation.fresh:
            await audit("unavailable")
            raise Unavailable("the hub cannot confirm the tool catalog right now; retry shortly")
        meta_tool = self._meta_tool(name)
        record = None if meta_tool is not None else self.federation.tools.get(name)
        visible = (meta_tool is not None and meta_tool.visible(principal)) or (
            record is not None and self.visible(principal, record))
        try:
            await self.rate_limit(principal, name, record if visible else None)
        except RateLimited:
            await audit("rate_limited")
            raise
        except RateLimitUnavailable as exc:
            await audit("unavailable", detail={"why": "rate limiter unreachable"})
            raise Unavailable(str(exc)) from None
        if not visible:
            await audit("deny")
            raise NotFound(f"Unknown tool: {name}")
        definition = {"definition_hash": record.definition_hash} if record is not None else {}
        schema = meta_tool.tool.input_schema if meta_tool is not None else record.input_schema if record else {}
        problem = validate_arguments(schema, arguments)
        if problem is not None:
            await audit("invalid", detail={"problem": problem[:300]}, **definition)
            return error_result(f"Invalid arguments for {name}: {problem}")
        if meta_tool is not None:
            result = await (meta_tool.call(principal, arguments, relay) if meta_tool.takes_relay  # type: ignore[call-arg]
                            else meta_tool.call(principal, arguments))
            await audit("allow", "error" if result.is_error else "ok")
            return result
        assert record is not None

        if is_risky(record):
            verdict = await self._approval(principal, record, arguments, digest, relay, request_state)
            if isinstance(verdict, types.InputRequiredResult):
                await audit("approval_pending", **definition)
                return verdict
            if verdict is not None:
                await audit("approval_denied", **definition)
                return verdict
            input_responses = request_state = None  # the hub's own round trip: nothing for the upstream

        client = self.federation.client(record.upstream)
        if client is None:
            await audit("allow", "unavailable", **definition)
            return error_result(f"Tool {name} is unavailable: its upstream is not connected")
        breaker = self.breakers.get(record.upstream)
        if not breaker.allow():
            await audit("allow", "circuit_open", **definition)
            return error_result(f"Tool {name} is unavailable: its upstream is failing; retry in "
                                f"{max(breaker.retry_after_s, 0.1):.0f} s")
        timeout = record.policy.timeout_s or client.spec.timeout_s
        attempts = 2 if record.policy.idempotent else 1
        for attempt in range(attempts):
            try:
                result = await client.call_tool(
                    record.upstream_tool, arguments, relay=relay, meta=meta,
                    input_responses=input_responses, request_state=request_state,
                    timeout=timeout, input_schema=record.input_schema,
                )
            except UpstreamError as exc:
                breaker.failure()
                if attempt + 1 < attempts and breaker.allow():
                    log.info("retrying idempotent %s after: %s", name, exc)
                    continue
                log.info("call %s by %s failed: %s", name, principal.id, exc)
                await audit("allow", "upstream_error", **definition)
                return error_result(str(exc))
            except MCPError:
                breaker.success()  # a protocol error: the upstream is up and answering
                await audit("allow", "protocol_error", **definition)
                raise
            except asyncio.CancelledError:
                breaker.release()  # no verdict on the upstream's health
                # The caller went away (or the hub is stopping): nobody gets the answer, but the log shows the call.
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.shield(audit("allow", "cancelled", **definition))
                raise
            except BaseException:
                breaker.release()
                raise
            breaker.success()
            break
        if isinstance(result, types.CallToolResult) and not result.is_error and record.output_schema:
            problem = validate_output(record.output_schema, result.structured_content)
            if problem is not None:
                await audit("allow", "invalid_output", detail={"problem": problem[:300]}, **definition)
                return error_result(f"Tool {name} returned output that does not match its output schema: {problem}")
        outcome = "input_required" if isinstance(result, types.InputRequiredResult) else (
            "error" if result.is_error else "ok")
        await audit("allow", outcome, **definition)
        return result

    async def _approval(
        self, principal: Principal, record: ToolRecord, arguments: dict[str, Any], digest: str,
        relay: Relay | None, request_state: str | None,
    ) -> types.CallToolResult | types.InputRequiredResult | None:
        """None once an admin approved this call; else what to answer (a refusal, or input_required)."""
        approval_id = None
        told: asyncio.Task[None] | None = None
        if request_state and request_state.startswith(STATE_PREFIX):
            approval_id = self.approvals.unseal(request_state, principal.id, record.name, digest)
            if approval_id is None:
                return error_result("This approval does not belong to this call; call the tool again")
        if approval_id is None:
            approval = await self.approvals.open(principal.id, record.name, record.definition_hash, digest,
                                                 preview(arguments))
            approval_id = approval.id
            url = f"{self.approval_url}/{approval.id}"
            message = (f"An administrator must approve this call of {record.name} (approval {approval.id}); "
                       f"the call waits up to {self.approvals.timeout_s:.0f} s.")
            elicit = relay is not None and "elicitation" in relay.capabilities
            if elicit and relay is not None and not relay.drives_input:
                # 2026-07-28: hand the approval to the client; its retry resumes the wait here.
                request = types.ElicitRequest(params=types.ElicitRequestURLParams(message=message, url=url))
                return types.InputRequiredResult(input_requests={"hub_approval": request},
                                                 request_state=self.approvals.seal(approval))
            if elicit and relay is not None:
                # Session era: tell the user where the decision is made while the call waits.
                params = types.ElicitRequestURLParams(message=message, url=url, elicitation_id=approval.id)
                told = asyncio.create_task(_tell(relay, params))
        try:
            decided = await self.approvals.wait(approval_id)
        finally:
            if told is not None:
                told.cancel()
        if decided.state == "approved":
            return None
        why = {"denied": "an administrator denied this call", "expired": "no administrator approved it in time"}
        return error_result(f"Call of {record.name} refused: {why.get(decided.state, decided.state)}"
                            + (f" ({decided.reason})" if decided.reason and decided.state == "denied" else ""))

    async def audit_decision(self, principal_id: str, action: str, target: str | None, decision: str,
                             detail: dict[str, Any] | None = None) -> None:
        """An admin's or principal's decision outside a call (approvals, kill switches, requests)."""
        await self.audit.record(AuditEntry(principal=principal_id, action=action, target=target,
                                           decision=decision, outcome=None, latency_ms=None,
                                           definition_hash=None, argument_digest=None, trace_id=None,
                                           detail=detail))

    # ------------------------------------------------------------------------------ prompts

    def _upstream_visible(self, principal: Principal, upstream: str) -> bool:
        return upstream not in self.federation.disabled_upstreams and may_use_upstream(principal, upstream)

    def list_prompts(self, principal: Principal) -> list[types.Prompt]:
        prompts = self.federation.prompts
        return [prompts[n].prompt for n in sorted(prompts) if self._upstream_visible(principal, prompts[n].upstream)]

    async def get_prompt(
        self, principal: Principal, name: str, arguments: dict[str, str] | None, *, relay: Relay | None = None,
        meta: dict[str, Any] | None = None, input_responses: dict[str, Any] | None = None,
        request_state: str | None = None,
    ) -> types.GetPromptResult | types.InputRequiredResult:
        async def run() -> Any:
            upstream, upstream_name = self.prompt_target(principal, name)
            return await self._client(upstream).get_prompt(
                upstream_name, arguments, relay=relay, meta=meta, input_responses=input_responses,
                request_state=request_state)

        return await self._audited(principal, "prompts/get", name, run)

    async def _audited(self, principal: Principal, action: str, target: str, run: Any) -> Any:
        """Run a prompt or resource read and audit its decision and outcome (before the caller hears)."""
        started = time.perf_counter()
        decision, outcome = "allow", "ok"
        try:
            return await run()
        except NotFound:
            decision, outcome = "deny", None
            raise
        except UpstreamError as exc:
            outcome = "upstream_error"
            raise Unavailable(str(exc)) from None
        except Unavailable:
            outcome = "unavailable"
            raise
        except MCPError:
            outcome = "protocol_error"
            raise
        finally:
            await self.audit.record(AuditEntry(
                principal=principal.id, action=action, target=target[:300], decision=decision, outcome=outcome,
                latency_ms=round((time.perf_counter() - started) * 1000, 3)))

    # ------------------------------------------------------------------------------ resources

    def list_resources(self, principal: Principal) -> list[types.Resource]:
        resources = self.federation.resources
        return [resources[u][1] for u in sorted(resources) if self._upstream_visible(principal, resources[u][0])]

    def list_resource_templates(self, principal: Principal) -> list[types.ResourceTemplate]:
        return [t.template for t in self.federation.templates if self._upstream_visible(principal, t.upstream)]

    def prompt_target(self, principal: Principal, name: str) -> tuple[str, str]:
        """(upstream, the upstream's own prompt name) for a prompt the caller may use."""
        entry = self.federation.prompts.get(name)
        if entry is None or not self._upstream_visible(principal, entry.upstream):
            raise NotFound(f"Unknown prompt: {name}")
        return entry.upstream, entry.upstream_name

    def resource_upstream(self, principal: Principal, uri: str) -> str:
        upstream = self.federation.resource_upstream(uri)
        if upstream is None or not self._upstream_visible(principal, upstream):
            raise NotFound(f"Unknown resource: {uri}")
        return upstream

    async def read_resource(
        self, principal: Principal, uri: str, *, relay: Relay | None = None, meta: dict[str, Any] | None = None,
        input_responses: dict[str, Any] | None = None, request_state: str | None = None,
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        async def run() -> Any:
            client = self._client(self.resource_upstream(principal, uri))
            return await client.read_resource(uri, relay=relay, meta=meta, input_responses=input_responses,
                                              request_state=request_state)

        return await self._audited(principal, "resources/read", uri, run)

    async def on_upstream(self, principal: Principal, upstream: str, operation: Any, what: str) -> Any:
        """Another request (completion, subscribe) routed to an upstream the caller may use."""
        if not self._upstream_visible(principal, upstream):
            raise NotFound(f"Unknown target: {what}")
        try:
            return await self._client(upstream).session_call(operation, what)
        except UpstreamError as exc:
            raise Unavailable(str(exc)) from None

    def upstream_health(self) -> dict[str, dict[str, Any]]:
        """Each upstream's connection health and circuit state, for operators."""
        circuits = self.breakers.states()
        return {name: {**health, "circuit": circuits.get(name, "closed")}
                for name, health in self.federation.health().items()}

    async def remove_upstream(self, name: str) -> bool:
        """Unregister an upstream; a later one of the same name starts with a closed circuit."""
        self.breakers.discard(name)
        return await self.federation.unregister(name)

    def _client(self, upstream: str) -> Any:
        client = self.federation.client(upstream)
        if client is None:
            raise Unavailable(f"upstream {upstream!r} is not connected")
        return client


async def _tell(relay: Relay, params: types.ElicitRequestURLParams) -> None:
    try:
        await relay.elicitation(params)
    except Exception as exc:  # the client may not take it; the call still waits for the admin
        log.debug("approval elicitation not delivered: %s", exc)


def error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)
