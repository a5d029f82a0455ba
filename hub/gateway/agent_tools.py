"""Approved agents' skills as MCP tools (`<agent id>.<skill id>`), so MCP clients can delegate to A2A agents.

A call sends one A2A message to the agent (streamed when the agent streams, so each status update becomes an
MCP progress notification) and answers the agent's final message or artifacts as the tool result. The task
the call creates is recorded as the caller's, like any task created through the A2A proxy. Visibility is
the agent's: `agent:<id>` on an approved agent.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

import mcp.types as types

from hub.adapters.a2a import AgentError
from hub.catalog.agents import AgentRecord
from hub.catalog.entities import TOOL_NAME_RE
from hub.gateway.meta import MetaTool
from hub.identity.principal import Principal

if TYPE_CHECKING:
    from hub.adapters.mcp import Relay
    from hub.gateway.agents import AgentGate

MAX_RESULT_CHARS = 200_000

INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "message": {"type": "string", "minLength": 1, "maxLength": 100_000,
                    "description": "What to ask the agent, in words."},
        "data": {"type": "object", "description": "Structured input for the agent (sent as a data part)."},
        "context_id": {"type": "string", "maxLength": 200,
                       "description": "Continue an earlier conversation (the contextId of an earlier answer)."},
        "task_id": {"type": "string", "maxLength": 200,
                    "description": "Continue a task of yours that asked for more input."},
    },
    "required": ["message"],
    "additionalProperties": False,
}
OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string"}, "data": {"type": "array"}, "state": {"type": "string"},
        "task_id": {"type": "string"}, "context_id": {"type": "string"},
    },
    "required": ["text"],
}


def skill_tool_name(agent_id: str, skill_id: str) -> str | None:
    name = f"{agent_id}.{re.sub(r'[^A-Za-z0-9_-]+', '_', skill_id).strip('_')}"
    return name if TOOL_NAME_RE.match(name) else None


class AgentTools:
    def __init__(self, gate: AgentGate) -> None:
        self.gate = gate

    def _skills(self, record: AgentRecord) -> dict[str, dict[str, Any]]:
        if not record.settings.expose_tools:
            return {}
        found: dict[str, dict[str, Any]] = {}
        for skill in record.card.get("skills", []):
            name = skill_tool_name(record.id, str(skill.get("id", "")))
            if name and name not in found and name not in self.gate.gateway.federation.tools:
                found[name] = skill  # an upstream's tool of the same name wins: names never change owner
        return found

    def _tool(self, record: AgentRecord, name: str, skill: dict[str, Any]) -> types.Tool:
        examples = "; ".join(str(e)[:120] for e in (skill.get("examples") or [])[:3])
        description = (f"{str(skill.get('description', ''))[:2000]} (A2A agent {record.name}: "
                       f"{record.description[:300]})" + (f" Examples: {examples}" if examples else ""))
        return types.Tool(name=name, title=str(skill.get("name") or name)[:200], description=description,
                          input_schema=INPUT_SCHEMA, output_schema=OUTPUT_SCHEMA,
                          annotations=types.ToolAnnotations(read_only_hint=False, open_world_hint=True))

    def listed(self, principal: Principal) -> list[tuple[str, types.Tool]]:
        return [(name, self._tool(record, name, skill)) for record in self.gate.visible_agents(principal)
                for name, skill in self._skills(record).items()]

    def get(self, name: str) -> MetaTool | None:
        agent_id, dot, _ = name.partition(".")
        record = self.gate.registry.agents.get(agent_id) if dot else None
        if record is None:
            return None
        skill = self._skills(record).get(name)
        if skill is None:
            return None

        async def call(principal: Principal, arguments: dict[str, Any], relay: Relay | None = None
                       ) -> types.CallToolResult:
            return await self.call(principal, record, str(skill.get("id")), arguments, relay)

        return MetaTool(self._tool(record, name, skill), lambda p: self.gate.visible(p, record), call,
                        takes_relay=True)

    async def call(self, principal: Principal, record: AgentRecord, skill_id: str, arguments: dict[str, Any],
                   relay: Relay | None) -> types.CallToolResult:
        task_id = arguments.get("task_id")
        if task_id and not await self.gate.owns(principal, record.id, task_id):
            return _error(f"Unknown task {task_id[:200]} of agent {record.id}")
        parts: list[dict[str, Any]] = [{"text": arguments["message"]}]
        if isinstance(arguments.get("data"), dict):
            parts.append({"data": arguments["data"]})
        message: dict[str, Any] = {"role": "ROLE_USER", "messageId": str(uuid.uuid4()), "parts": parts,
                                   "metadata": {"skill": skill_id}}
        for key, field in (("context_id", "contextId"), ("task_id", "taskId")):
            if arguments.get(key):
                message[field] = arguments[key]
        connection = self.gate.registry.connection(record.id)
        streaming = bool(record.card.get("capabilities", {}).get("streaming"))
        answer = _Answer()
        try:
            async for frame in connection.call("SendStreamingMessage" if streaming else "SendMessage",
                                               {"message": message}, streaming=streaming):
                seen = answer.take(frame)
                if seen and not await self.gate.claim(principal, record.id, seen):
                    return _error(f"Agent {record.id} answered with a task that is not yours")
                if relay is not None and answer.progress_text:
                    await relay.progress(answer.steps, None, answer.progress_text)
                    answer.progress_text = None
        except AgentError as exc:
            return _error(f"Agent {record.id}: {exc}")
        return answer.result(record.id)


class _Answer:
    """Folds A2A results and stream frames into one tool result."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.data: list[Any] = []
        self.state = ""
        self.task_id = ""
        self.context_id = ""
        self.steps = 0
        self.progress_text: str | None = None
        self.status_text = ""

    def _parts(self, parts: list[Any]) -> None:
        for part in parts or []:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    self.texts.append(part["text"])
                elif "data" in part:
                    self.data.append(part["data"])

    def take(self, frame: dict[str, Any]) -> set[str]:
        seen: set[str] = set()
        if isinstance(frame.get("message"), dict):
            message = frame["message"]
            self._parts(message.get("parts", []))
            self.context_id = message.get("contextId", self.context_id)
            if message.get("taskId"):
                seen.add(message["taskId"])
        task = frame.get("task")
        if isinstance(task, dict):
            self.task_id, self.context_id = task.get("id", ""), task.get("contextId", self.context_id)
            self.state = task.get("status", {}).get("state", self.state)
            seen.add(self.task_id)
            for artifact in task.get("artifacts", []) or []:
                self._parts(artifact.get("parts", []))
            self._status(task.get("status", {}))
        update = frame.get("statusUpdate")
        if isinstance(update, dict):
            seen.add(update.get("taskId", ""))
            self.state = update.get("status", {}).get("state", self.state)
            self.steps += 1
            own = self._status(update.get("status", {}))
            self.progress_text = own or self.state  # each notification describes its own update
        artifact = frame.get("artifactUpdate")
        if isinstance(artifact, dict):
            seen.add(artifact.get("taskId", ""))
            self._parts(artifact.get("artifact", {}).get("parts", []))
        return {s for s in seen if s}

    def _status(self, status: dict[str, Any]) -> str:
        """The status message's text (kept as the result's fallback text); "" when it carries none."""
        message = status.get("message")
        if not isinstance(message, dict):
            return ""
        texts = [p["text"] for p in message.get("parts", []) if isinstance(p, dict) and "text" in p]
        text = " ".join(texts)[:500]
        if text:
            self.status_text = text
        return text

    def result(self, agent_id: str) -> types.CallToolResult:
        text = "\n".join(self.texts) or self.status_text or f"(agent {agent_id} answered without text)"
        text = text[:MAX_RESULT_CHARS]
        failed = self.state in ("TASK_STATE_FAILED", "TASK_STATE_REJECTED", "TASK_STATE_CANCELED")
        if self.state in ("TASK_STATE_INPUT_REQUIRED", "TASK_STATE_AUTH_REQUIRED"):
            text += f"\n(the agent needs more input: call again with task_id {self.task_id})"
        structured = {"text": text, "data": self.data, "state": self.state, "task_id": self.task_id,
                      "context_id": self.context_id}
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                    structured_content=structured, is_error=failed)


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)
