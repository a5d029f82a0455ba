"""Upstream MCP servers: connect (Streamable HTTP of either era, stdio, in-process), list, call, relay.

The adapter knows nothing of principals or policy. Its sessions are mcp_pool.SessionPool's; this module
is the operations on them, and the lean 2026-07-28 tools/call path (mcp_direct) beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import mcp.types as types
from hub.adapters import mcp_direct
from hub.adapters.mcp_pool import Limits, Relay, SessionPool
from hub.adapters.mcp_session import UpstreamError, bounded, clip, describe
from mcp import Client
from mcp.client._input_required import run_input_required_driver
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError

from hub.catalog.entities import Transport

__all__ = ["Limits", "Relay", "UpstreamClient", "UpstreamError"]  # what the hub uses of its upstreams

log = logging.getLogger("hub.adapters.mcp")

MAX_LIST_PAGES = 200  # bound a misbehaving upstream's pagination
RESERVED_META_PREFIX = "io.modelcontextprotocol/"
PROGRESS_KEYS = frozenset({"progressToken", "progress_token"})  # wire name, and the SDK's Python name


class UpstreamClient(SessionPool):
    """Everything the hub does with one upstream MCP server: list, call, read, relay."""

    async def _guard(self, operation: Callable[[], Awaitable[Any]], what: str, timeout: float | None = None,
                     *, native: bool = False) -> Any:
        """Run one upstream operation with a deadline; turn transport failures into clear UpstreamErrors.

        `native`: the operation starts no anyio task group (the direct call path), so asyncio's own deadline
        serves, at a quarter of an anyio cancel scope's cost per call."""
        limit = timeout or self.limits.timeout_s
        self._overflowed = False
        try:
            if native:
                async with asyncio.timeout(limit):
                    return await operation()
            with anyio.fail_after(limit):
                return await operation()
        except MCPError as exc:
            if self._overflowed:
                raise self._too_large(what) from None
            if exc.code == types.CONNECTION_CLOSED:
                raise UpstreamError(f"{what}: upstream {self.name!r} closed the connection") from None
            raise bounded(exc, self.redact) from None  # a protocol error from the upstream: the surface passes it on
        except (UpstreamError, mcp_direct.FallBack):  # FallBack: the caller retries through the SDK session
            raise
        except TimeoutError:
            if self._overflowed:
                raise self._too_large(what) from None
            raise UpstreamError(f"{what}: upstream {self.name!r} did not answer within {limit:g} s") from None
        except Exception as exc:
            if self._overflowed:
                raise self._too_large(what) from None
            why = self.redact(describe(exc))
            log.warning("upstream %s failed during %s: %s", self.name, what, why)
            raise UpstreamError(f"{what}: upstream {self.name!r} failed ({why})") from None

    def _too_large(self, what: str) -> UpstreamError:
        return UpstreamError(f"{what}: upstream response exceeded {self.limits.max_response_bytes} bytes")

    async def _list_all(self, method: str) -> list[Any]:
        async def walk() -> list[Any]:
            async with self.lease() as client:
                items: list[Any] = []
                cursor: str | None = None
                seen: set[str] = set()
                size, limit = 0, self.limits.max_listing_bytes
                for _ in range(MAX_LIST_PAGES):
                    if method == "tools":
                        page = await client.list_tools(cursor=cursor, cache_mode="bypass")
                        items += page.tools
                    elif method == "prompts":
                        page = await client.list_prompts(cursor=cursor, cache_mode="bypass")
                        items += page.prompts
                    elif method == "resources":
                        page = await client.list_resources(cursor=cursor, cache_mode="bypass")
                        items += page.resources
                    else:
                        page = await client.list_resource_templates(cursor=cursor, cache_mode="bypass")
                        items += page.resource_templates
                    size += len(page.model_dump_json(by_alias=True, exclude_none=True))
                    if size > limit:
                        raise UpstreamError(f"listing {method}: upstream {self.name!r} exceeded {limit} bytes")
                    cursor = page.next_cursor
                    if not cursor:
                        return items
                    if cursor in seen:  # it would only page round in circles until MAX_LIST_PAGES
                        raise UpstreamError(f"listing {method}: upstream {self.name!r} repeated a cursor")
                    seen.add(cursor)
                raise UpstreamError(f"upstream {self.name!r} paginated {method} past {MAX_LIST_PAGES} pages")

        try:
            return await self._guard(walk, f"listing {method}")
        except MCPError as exc:  # no caller to pass a protocol error on to: the listing failed
            raise UpstreamError(f"listing {method}: upstream {self.name!r} answered with an error "
                                f"({clip(self.redact(exc.error.message), 300)})") from None

    async def capabilities(self) -> types.ServerCapabilities | None:
        async def get() -> types.ServerCapabilities | None:
            async with self.lease() as client:
                return client.server_capabilities

        return await self._guard(get, "connecting")

    async def list_tools(self) -> list[types.Tool]:
        return await self._list_all("tools")

    async def list_prompts(self) -> list[types.Prompt]:
        return await self._list_all("prompts")

    async def list_resources(self) -> list[types.Resource]:
        return await self._list_all("resources")

    async def list_resource_templates(self) -> list[types.ResourceTemplate]:
        return await self._list_all("resource templates")

    async def _interactive(
        self,
        request: Callable[[Client, Any, str | None], Awaitable[Any]],
        *,
        relay: Relay | None,
        input_responses: dict[str, Any] | None,
        request_state: str | None,
        what: str,
        timeout: float | None = None,
    ) -> Any:
        """tools/call, prompts/get, resources/read: one leased session; input_required rounds are either
        fulfilled through a session-era caller or handed back to a 2026-07-28 caller."""

        async def run() -> Any:
            async with self.lease(relay) as client:

                async def send(responses: Any, state: str | None) -> Any:
                    return await request(client, responses, state)

                first = await send(input_responses, request_state)
                if isinstance(first, types.InputRequiredResult) and relay is not None and relay.drives_input:
                    return await _drive(client.session, first, send)
                return first

        result = await self._guard(run, what, timeout)
        self._check_size(result)
        return result

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None, *, relay: Relay | None = None,
        meta: dict[str, Any] | None = None, input_responses: dict[str, Any] | None = None,
        request_state: str | None = None, timeout: float | None = None,
        input_schema: dict[str, Any] | None = None,
    ) -> types.CallToolResult | types.InputRequiredResult:
        if self.can_call_directly(input_schema) and not (relay and relay.drives_input):
            assert self._poster is not None and self._modern_version is not None
            poster, url, version = self._poster, self.spec.url or "", self._modern_version

            async def direct() -> Any:
                async with self._slots:
                    return await mcp_direct.call_tool(
                        poster, url, version, name, arguments, relay=relay, meta=_forwardable(meta), caller_meta=meta,
                        input_responses=input_responses, request_state=request_state,
                    )

            with contextlib.suppress(mcp_direct.FallBack):
                return await self._guard(direct, f"calling {name!r}", timeout, native=True)
        progress = relay.progress if relay is not None else None

        async def request(client: Client, responses: Any, state: str | None) -> Any:
            kwargs = dict(progress_callback=progress, input_responses=responses, request_state=state,
                          meta=_forwardable(meta), allow_input_required=True)
            try:
                return await client.session.call_tool(name, arguments, **kwargs)
            except MCPError as exc:
                if exc.error.code != types.HEADER_MISMATCH:
                    raise
                # 2026-07-28 Mcp-Param-* headers come from the listed schema: list, then resend once.
                await _refresh_listing(client)
                return await client.session.call_tool(name, arguments, **kwargs)

        return await self._interactive(request, relay=relay, input_responses=input_responses,
                                       request_state=request_state, what=f"calling {name!r}", timeout=timeout)

    async def get_prompt(
        self, name: str, arguments: dict[str, str] | None, *, relay: Relay | None = None,
        meta: dict[str, Any] | None = None, input_responses: dict[str, Any] | None = None,
        request_state: str | None = None,
    ) -> types.GetPromptResult | types.InputRequiredResult:
        async def request(client: Client, responses: Any, state: str | None) -> Any:
            return await client.session.get_prompt(name, arguments, meta=_forwardable(meta), input_responses=responses,
                                                   request_state=state, allow_input_required=True)

        return await self._interactive(request, relay=relay, input_responses=input_responses,
                                       request_state=request_state, what=f"getting prompt {name!r}")

    async def read_resource(
        self, uri: str, *, relay: Relay | None = None, meta: dict[str, Any] | None = None,
        input_responses: dict[str, Any] | None = None, request_state: str | None = None,
    ) -> types.ReadResourceResult | types.InputRequiredResult:
        async def request(client: Client, responses: Any, state: str | None) -> Any:
            return await client.session.read_resource(uri, meta=_forwardable(meta), input_responses=responses,
                                                      request_state=state, allow_input_required=True)

        return await self._interactive(request, relay=relay, input_responses=input_responses,
                                       request_state=request_state, what="reading a resource")

    async def session_call(self, operation: Callable[[Client], Awaitable[Any]], what: str) -> Any:
        """Any other request (completion, subscribe, set level) on a pooled session."""

        async def run() -> Any:
            async with self.lease() as client:
                return await operation(client)

        return await self._guard(run, what)

    def _check_size(self, result: Any) -> None:
        """stdio and in-process answers are not bounded by the HTTP transport cap: bound them here."""
        if self.spec.transport == Transport.http:
            return
        size = len(result.model_dump_json(by_alias=True, exclude_none=True))
        if size > self.limits.max_response_bytes:
            raise UpstreamError(f"upstream response exceeded {self.limits.max_response_bytes} bytes")


async def _refresh_listing(client: Client) -> None:
    cursor: str | None = None
    for _ in range(MAX_LIST_PAGES):
        page = await client.list_tools(cursor=cursor, cache_mode="bypass")
        cursor = page.next_cursor
        if not cursor:
            return


async def _drive(
    session: Any, first: types.InputRequiredResult, send: Callable[[Any, str | None], Awaitable[Any]]
) -> Any:
    """Fulfil an upstream's input_required rounds through the caller (sampling/elicitation/roots relay)."""

    async def dispatch(key: str, request: Any) -> Any:
        meta = request.params.meta if request.params else None
        ctx = ClientRequestContext(session=session, request_id=key, meta=meta)
        return await session.dispatch_input_request(ctx, request)

    return await run_input_required_driver(first, dispatch=dispatch, retry=send)


def _forwardable(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """The caller's _meta minus protocol-reserved keys and its progress token (the hub's client sets its own)."""
    if not meta:
        return None
    kept = {k: v for k, v in meta.items() if not k.startswith(RESERVED_META_PREFIX) and k not in PROGRESS_KEYS}
    return kept or None
