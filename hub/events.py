"""Event bus: carries catalog changes to whoever reacts (MCP list_changed, the search index, other replicas).

In-process by default. A NATS JetStream bus with the same interface is the multi-replica option.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("hub.events")

TOOLS_CHANGED = "catalog.tools_changed"
PROMPTS_CHANGED = "catalog.prompts_changed"
RESOURCES_CHANGED = "catalog.resources_changed"
TOOL_QUARANTINED = "catalog.tool_quarantined"  # data: tool, upstream, approved_hash, definition_hash


@dataclass(frozen=True)
class Event:
    topic: str
    data: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Event], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    async def publish(self, event: Event) -> None:
        """Deliver to every handler; one failing handler never stops the others or the publisher."""
        handlers = self._handlers.get(event.topic, [])
        results = await asyncio.gather(*(h(event) for h in handlers), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.warning("event handler for %s failed: %s", event.topic, result)
