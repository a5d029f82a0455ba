"""Federation: keeps the catalog in step with what the upstreams offer.

Owns one `UpstreamClient` per registered upstream (and per first-party tool pack), imports their tools
into the store as `<prefix>.<tool>`, re-syncs on an upstream's list_changed and on a schedule, and
keeps the in-memory index the request path reads (the store is the truth; the index is its cache).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import mcp.types as types

from hub.adapters.mcp import Limits, UpstreamClient, UpstreamError
from hub.adapters.oauth import oauth_client_credentials
from hub.catalog.entities import TOOL_NAME_RE, SyncResult, ToolRecord, ToolState, Transport, UpstreamSpec
from hub.catalog.store import Conflict, NameCollision, Store
from hub.events import PROMPTS_CHANGED, RESOURCES_CHANGED, TOOL_QUARANTINED, TOOLS_CHANGED, Event, EventBus

log = logging.getLogger("hub.catalog.sync")

# Reloads read only the tools changed since the last one (a 100k catalog is not re-read for each change).
# The window re-reads the last minute too: a change committed late, or stamped by a replica whose clock
# lags, still lands; a full reload now and then covers anything beyond it.
CHANGE_WINDOW = timedelta(seconds=60)
FULL_RELOAD_S = 600.0
MAX_NAME_SHOWN = 140
MAX_SKIPPED_SHOWN = 50  # problems a re-sync result names (the log gives the count)


class RegistrationError(Exception):
    """A registration the hub refuses; the message says why."""


@dataclass(frozen=True)
class PromptEntry:
    upstream: str
    upstream_name: str
    prompt: types.Prompt  # as served by the hub (qualified name)


@dataclass(frozen=True)
class TemplateEntry:
    upstream: str
    template: types.ResourceTemplate
    pattern: re.Pattern[str]


def template_pattern(uri_template: str) -> re.Pattern[str]:
    """RFC 6570 level-1 matching, enough to route a read to the upstream that offers the template."""
    parts = re.split(r"(\{[^}]*\})", uri_template)
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$")


def _shown(name: str) -> str:
    """An upstream's tool name quoted in a refusal: it chose the name, so a megabyte would be quoted whole."""
    return repr(name[:MAX_NAME_SHOWN]) + ("…" if len(name) > MAX_NAME_SHOWN else "")


# Looks at a tool's definition and names what is suspicious about it (empty: nothing).
Screen = Callable[[ToolRecord], list[str]]


def to_record(spec: UpstreamSpec, tool: types.Tool) -> ToolRecord:
    """The catalog's record of an upstream's tool; approved only under the upstream's auto-approve policy."""
    wire = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
    return ToolRecord(
        state=ToolState.approved if spec.auto_approve else ToolState.pending,
        name=spec.qualify(tool.name),
        upstream=spec.name,
        upstream_tool=tool.name,
        title=wire.get("title"),
        description=wire.get("description"),
        input_schema=wire.get("inputSchema") or {"type": "object"},
        output_schema=wire.get("outputSchema"),
        annotations=wire.get("annotations"),
        meta=wire.get("_meta"),
    )


def to_tool(record: ToolRecord) -> types.Tool:
    wire: dict[str, Any] = {"name": record.name, "inputSchema": record.input_schema}
    for key, value in (("title", record.title), ("description", record.description),
                       ("outputSchema", record.output_schema), ("annotations", record.annotations),
                       ("_meta", record.meta)):
        if value is not None:
            wire[key] = value
    return types.Tool.model_validate(wire)


class Federation:
    def __init__(
        self,
        store: Store,
        events: EventBus,
        limits: Limits,
        *,
        data_dir: Path | None = None,
        packs: dict[str, Any] | None = None,
        sync_interval_s: float = 300.0,
        screen: Screen | None = None,
        watch_interval_s: float = 1.0,
    ) -> None:
        self.store = store
        self.events = events
        self.limits = limits
        self.data_dir = data_dir
        self.packs = packs or {}
        self.sync_interval_s = sync_interval_s
        self.screen = screen
        self.watch_interval_s = watch_interval_s
        self.disabled_upstreams: frozenset[str] = frozenset()
        self._mark: tuple[Any, ...] | None = None
        self._reloading = asyncio.Lock()  # one reload at a time: an older read never lands after a newer one
        self._watched_at = time.monotonic()
        self._watcher: asyncio.Task[None] | None = None
        self._registering: set[str] = set()  # being registered here: not for the watcher to connect
        self.clients: dict[str, UpstreamClient] = {}
        # The request path's view of the catalog, rebuilt from the store after every sync.
        self.tools: dict[str, ToolRecord] = {}
        self.tool_defs: dict[str, types.Tool] = {}
        self._tools_newest: datetime | None = None  # the newest updated_at the last reload saw
        self._full_reload_at = 0.0
        self.prompts: dict[str, PromptEntry] = {}
        self.resources: dict[str, tuple[str, types.Resource]] = {}
        self.templates: list[TemplateEntry] = []
        self._locks: dict[str, asyncio.Lock] = {}
        self._periodic: asyncio.Task[None] | None = None
        self._startup: list[asyncio.Task[None]] = []
        self._prompt_cache: dict[str, list[types.Prompt]] = {}
        self._resource_cache: dict[str, tuple[list[types.Resource], list[types.ResourceTemplate]]] = {}

    # ------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        for name in self.packs:
            if await self.store.get_upstream(name) is None:
                # The hub's own packs ship with it: their tools are approved as they are (and still pinned).
                spec = UpstreamSpec(name=name, transport=Transport.inprocess, auto_approve=True)
                with contextlib.suppress(Conflict):  # another replica registered it first
                    await self.store.add_upstream(spec)
        specs = await self.store.list_upstreams()
        for spec in specs:
            # Disabled ones too: the kill switch hides an upstream; lifting it must not need a restart.
            self.clients[spec.name] = self._client(spec)
        await self._reload_index()
        # Connect and re-sync in the background: a slow or dead upstream never delays start-up.
        self._startup = [asyncio.create_task(self._sync_quietly(s.name)) for s in specs if s.enabled]
        self._periodic = asyncio.create_task(self._sync_periodically())
        self._watcher = asyncio.create_task(self._watch())

    async def close(self) -> None:
        for task in [self._periodic, self._watcher, *self._startup]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(c.close() for c in self.clients.values()), return_exceptions=True)
        self.clients.clear()

    def _client(self, spec: UpstreamSpec) -> UpstreamClient:
        server = self.packs.get(spec.name) if spec.transport == Transport.inprocess else None
        stderr_dir = self.data_dir / "upstreams" if self.data_dir else None
        return UpstreamClient(spec, self.limits, on_change=self.sync, stderr_dir=stderr_dir, server=server,
                              http_auth=oauth_client_credentials(spec))

    async def _sync_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.sync_interval_s)
            for name in list(self.clients):
                if name not in self.disabled_upstreams:
                    await self._sync_quietly(name)

    async def _watch(self) -> None:
        """Follow changes other replicas (and admins on them) make: approvals, quarantines, kill switches."""
        while True:
            await asyncio.sleep(self.watch_interval_s)
            try:
                mark = await self.store.catalog_mark()
                if mark != self._mark:
                    await self._reconcile(await self._reload_index())
                    await self._announce(tools=True, prompts=True, resources=True)
                self._watched_at = time.monotonic()
            except Exception as exc:  # keep polling; `fresh` turns false and calls fail closed
                log.warning("catalog watch failed: %s", type(exc).__name__)

    async def _reconcile(self, specs: dict[str, UpstreamSpec]) -> None:
        """Connect upstreams registered on other replicas; let go of those removed there."""
        for name, spec in specs.items():
            if name not in self.clients and name not in self._registering:
                self.clients[name] = self._client(spec)
                if spec.enabled:
                    self._startup.append(asyncio.create_task(self._sync_quietly(name)))
        for name in [n for n in self.clients if n not in specs and n not in self._registering]:
            client = self.clients.pop(name)
            self._prompt_cache.pop(name, None)
            self._resource_cache.pop(name, None)
            await client.close()
        self._startup = [task for task in self._startup if not task.done()]

    @property
    def fresh(self) -> bool:
        """Whether this replica's view of the catalog is recent enough to decide calls on."""
        return time.monotonic() - self._watched_at < max(5.0, 5 * self.watch_interval_s)

    async def _sync_quietly(self, name: str) -> None:
        try:
            await self.sync(name)
        except (UpstreamError, RegistrationError) as exc:
            log.warning("sync of upstream %s failed: %s", name, exc)
        except Exception:
            log.exception("sync of upstream %s failed", name)

    # ------------------------------------------------------------------------------ registration

    async def register(self, spec: UpstreamSpec) -> SyncResult:
        """Add an upstream: connect, import its tools (refusing any name collision), persist."""
        taken = RegistrationError(f"an upstream named {spec.name!r} already exists")
        if spec.name in self.clients or spec.name in self._registering:  # (being registered: no await in between)
            raise taken
        if spec.transport == Transport.inprocess and spec.name not in self.packs:
            raise RegistrationError(f"no tool pack named {spec.name!r}")
        self._registering.add(spec.name)
        client: UpstreamClient | None = None
        try:
            if await self.store.get_upstream(spec.name) is not None:
                raise taken
            client = self._client(spec)
            tools = await client.list_tools()
            records = await self._records(spec, tools)
            # Prompts and resources too, before anything is stored: a listing that fails refuses the whole
            # registration (it used to leave the upstream registered behind a 502).
            await self._collect_extras(spec.name, client)
            try:
                await self.store.add_upstream(spec)
            except Conflict:
                raise taken from None
            try:
                result = await self.store.sync_tools(spec.name, records)
            except NameCollision as exc:
                await self.store.delete_upstream(spec.name)
                raise RegistrationError(str(exc)) from None
        except BaseException:
            self._registering.discard(spec.name)
            self._prompt_cache.pop(spec.name, None)
            self._resource_cache.pop(spec.name, None)
            if client is not None:
                await client.close()
            raise
        assert client is not None
        self.clients[spec.name] = client
        self._registering.discard(spec.name)
        await self._reload_index()
        await self._announce(tools=True, prompts=True, resources=True)
        return result

    async def unregister(self, name: str) -> bool:
        self._registering.add(name)  # the watcher must not reconnect it between these two steps
        try:
            client = self.clients.pop(name, None)
            if client is not None:
                await client.close()
            removed = await self.store.delete_upstream(name)
        finally:
            self._registering.discard(name)
        self._prompt_cache.pop(name, None)
        self._resource_cache.pop(name, None)
        await self._reload_index()
        await self._announce(tools=True, prompts=True, resources=True)
        return removed

    async def _records(self, spec: UpstreamSpec, tools: list[types.Tool],
                       skipped: list[str] | None = None) -> list[ToolRecord]:
        """The upstream's tools as records, hashed and screened: off the event loop (a 10k-tool upstream is a
        second of work, which would otherwise stall every call in flight).

        A tool with an invalid name, or listed twice, refuses the whole listing when `skipped` is None (a
        registration: the operator hears at once). On a re-sync it is left out and named in `skipped`: one
        bad entry must not hold back the rest of the upstream's changes, or a changed definition could
        hide behind it and never be quarantined."""
        return await asyncio.to_thread(self._to_records, spec, tools, skipped)

    def _to_records(self, spec: UpstreamSpec, tools: list[types.Tool],
                    skipped: list[str] | None) -> list[ToolRecord]:
        records: dict[str, ToolRecord] = {}
        twice: set[str] = set()
        for tool in tools:
            record = to_record(spec, tool)
            problem = None
            if not tool.name or not TOOL_NAME_RE.match(record.name):  # (unprefixed, "" would pass as "h.")
                problem = (f"tool {_shown(tool.name)} of upstream {spec.name!r} would be named {_shown(record.name)}, "
                           "which is not a valid MCP tool name (1-128 of A-Z a-z 0-9 . _ -)")
            elif record.name in records or record.name in twice:
                problem = f"upstream {spec.name!r} lists tool {_shown(tool.name)} twice"
                if records.pop(record.name, None) is not None:  # neither copy: which one was meant is unknown
                    twice.add(record.name)
            if problem is not None:
                if skipped is None:
                    raise RegistrationError(problem)
                skipped.append(problem)
                continue
            if self.screen is not None:
                record.flags = self.screen(record)
            records[record.name] = record
        return list(records.values())

    # ------------------------------------------------------------------------------ sync

    async def sync(self, name: str) -> SyncResult:
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            if name in self._registering and name not in self.clients:
                return SyncResult()  # announced mid-registration: it is listing the upstream itself
            client = self.clients.get(name)
            spec = await self.store.get_upstream(name)
            if client is None or spec is None:
                raise RegistrationError(f"no upstream named {name!r}")
            tools = await client.list_tools()
            skipped: list[str] = []
            try:
                result = await self.store.sync_tools(name, await self._records(spec, tools, skipped))
            except NameCollision as exc:
                raise RegistrationError(str(exc)) from None
            if skipped:
                result.skipped = skipped[:MAX_SKIPPED_SHOWN]
                log.warning("upstream %s: %d tool(s) left out of the re-sync: %s", name, len(skipped),
                            "; ".join(skipped[:5]))
            extras_changed = await self._collect_extras(name, client)
            if result.any or extras_changed:
                await self._reload_index()
                await self._announce(tools=result.any, prompts=extras_changed, resources=extras_changed)
            for qualified in result.quarantined:
                record = self.tools.get(qualified)
                log.warning("tool %s quarantined: %s", qualified, record.state_reason if record else "changed")
                await self.events.publish(Event(TOOL_QUARANTINED, {
                    "tool": qualified, "upstream": name,
                    "approved_hash": record.approved_hash if record else None,
                    "definition_hash": record.definition_hash if record else None,
                }))
            return result

    async def set_upstream_enabled(self, name: str, enabled: bool) -> UpstreamSpec | None:
        """The upstream kill switch: a disabled upstream's tools, prompts and resources disappear."""
        spec = await self.store.get_upstream(name)
        if spec is None:
            return None
        spec = spec.model_copy(update={"enabled": enabled})
        await self.store.update_upstream(spec)
        await self._reload_index()
        await self._announce(tools=True, prompts=True, resources=True)
        return spec

    async def refresh(self) -> None:
        """Re-read the catalog now (after a change made through this replica) and tell list_changed."""
        await self._reload_index()
        await self._announce(tools=True, prompts=False, resources=False)

    async def _collect_extras(self, name: str, client: UpstreamClient) -> bool:
        """Prompts and resources are held in memory (re-listed on every sync); True when they changed."""
        caps = await client.capabilities()
        prompts = await client.list_prompts() if caps and caps.prompts else []
        resources = await client.list_resources() if caps and caps.resources else []
        templates = await client.list_resource_templates() if caps and caps.resources else []
        changed = self._prompt_cache.get(name) != prompts or self._resource_cache.get(name) != (resources, templates)
        self._prompt_cache[name] = prompts
        self._resource_cache[name] = (resources, templates)
        return changed

    async def _reload_tools(self, mark: tuple[Any, ...]) -> None:
        """Bring `tools` and `tool_defs` up to the store: the tools changed since the last reload when that is
        known to be enough, else all of them (at start, now and then, and whenever the counts disagree)."""
        count, newest = mark[0], mark[1]
        since = self._tools_newest
        if since is not None and time.monotonic() - self._full_reload_at < FULL_RELOAD_S:
            # Rows stamped in the window are mostly ones already held (a bulk registration re-reads the same
            # minute on every tick): their stamps are compared first, and only new stamps are read in full.
            stamps = await self.store.tool_stamps_since(since - CHANGE_WINDOW)
            held = self.tools
            changed = await self.store.tools_named(
                [name for name, at in stamps.items() if (r := held.get(name)) is None or r.updated_at != at])
            records = dict(held)
            records.update((r.name, r) for r in changed)
            if len(records) != count:  # something was removed
                names = await self.store.tool_names()
                for name in records.keys() - names:
                    del records[name]
            if len(records) == count:
                defs = dict(self.tool_defs)
                for name in defs.keys() - records.keys():
                    del defs[name]
                defs.update((r.name, to_tool(r)) for r in changed if r.name in records)
                self.tools, self.tool_defs, self._tools_newest = records, defs, newest
                return
        # A full re-read keeps the objects of unchanged tools, so what is derived from them (their MCP
        # definitions here, search texts downstream) is not rebuilt: at 100k tools that was seconds on the loop.
        previous, previous_defs = self.tools, self.tool_defs
        records = {}
        after: str | None = None
        while True:
            page = await self.store.list_tools(after=after, limit=1000)
            if not page:
                break
            for record in page:
                old = previous.get(record.name)
                records[record.name] = old if old is not None and old == record else record
            after = page[-1].name
        defs: dict[str, types.Tool] = {}
        for n, (name, record) in enumerate(records.items()):
            kept = previous_defs.get(name) if previous.get(name) is record else None
            defs[name] = kept if kept is not None else to_tool(record)
            if n % 1000 == 999:
                await asyncio.sleep(0)  # let calls in flight run between chunks of a large catalog
        self.tools, self.tool_defs = records, defs
        self._tools_newest, self._full_reload_at = newest, time.monotonic()

    async def _reload_index(self) -> dict[str, UpstreamSpec]:
        """Rebuild the request path's view from the store; returns the upstreams it saw."""
        # Mark, then upstreams, then tools: a removal seen in the upstreams is then seen in the tools too, so
        # this replica never lets go of an upstream while still listing its tools (a change landing in
        # between differs from the mark and is re-read on the next watch).
        async with self._reloading:
            mark = await self.store.catalog_mark()
            specs = {s.name: s for s in await self.store.list_upstreams()}
            await self._reload_tools(mark)
            self.disabled_upstreams = frozenset(name for name, spec in specs.items() if not spec.enabled)
            self._mark = mark
        prompts: dict[str, PromptEntry] = {}
        resources: dict[str, tuple[str, types.Resource]] = {}
        templates: list[TemplateEntry] = []
        for upstream in sorted(self._prompt_cache):
            spec = specs.get(upstream)
            if spec is None or not spec.enabled:
                continue
            for prompt in self._prompt_cache[upstream]:
                qualified = spec.qualify(prompt.name)
                prompts.setdefault(qualified, PromptEntry(upstream, prompt.name,
                                                          prompt.model_copy(update={"name": qualified})))
            listed, tmpl = self._resource_cache.get(upstream, ([], []))
            for resource in listed:
                resources.setdefault(str(resource.uri), (upstream, resource))
            for template in tmpl:
                templates.append(TemplateEntry(upstream, template, template_pattern(template.uri_template)))
        self.prompts, self.resources, self.templates = prompts, resources, templates
        return specs

    async def _announce(self, *, tools: bool, prompts: bool, resources: bool) -> None:
        if tools:
            await self.events.publish(Event(TOOLS_CHANGED))
        if prompts:
            await self.events.publish(Event(PROMPTS_CHANGED))
        if resources:
            await self.events.publish(Event(RESOURCES_CHANGED))

    # ------------------------------------------------------------------------------ lookups

    def client(self, name: str) -> UpstreamClient | None:
        return self.clients.get(name)

    def resource_upstream(self, uri: str) -> str | None:
        entry = self.resources.get(uri)
        if entry is not None:
            return entry[0]
        for template in self.templates:
            if template.pattern.match(uri):
                return template.upstream
        return None

    def health(self) -> dict[str, Any]:
        return {
            name: {"healthy": client.healthy, "error": client.last_error}
            for name, client in sorted(self.clients.items())
        }


__all__ = ["Federation", "RegistrationError", "ToolState", "to_tool"]
