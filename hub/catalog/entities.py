"""The catalog's entities as plain values: what the rest of the hub passes around.

The store maps them to tables; surfaces, gateway and adapters only ever see these.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from hub.catalog.hashing import definition_hash

# MCP tool names (SEP-986): 1-128 of [A-Za-z0-9._-].
TOOL_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# The hub's own meta-tools are "hub.<name>": no upstream may take that name or prefix.
RESERVED_PREFIX = "hub"
# Upstream names become tool-name prefixes, so they use the same alphabet, without dots
# (a dot separates prefix and tool name).
UPSTREAM_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Outbound HTTP headers the hub sends with its own credentials: RFC 9110 field names, visible-ASCII values.
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
HEADER_VALUE_RE = re.compile(r"^[\x20-\x7e\t]{0,8192}$")


def web_url_problem(url: str) -> str | None:
    """Why `url` is no http(s) URL the hub could call (no host, another scheme, a port out of range); None if
    it is one."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL with a host"
    return None


STORED: Final = {"stored": True}  # validation context of rows read back: what was accepted once still loads


def check_headers(headers: dict[str, str], info: ValidationInfo | None = None) -> dict[str, str]:
    """Headers an HTTP client can send; ValueError (naming the header, never its value) otherwise. Rows read
    back (`STORED` context) are not re-judged: a rule made stricter later must not stop a hub from starting."""
    if info is not None and info.context == STORED:
        return headers
    if len(headers) > 20:
        raise ValueError("at most 20 headers")
    for name, value in headers.items():
        if not HEADER_NAME_RE.match(name):
            raise ValueError(f"header name {name[:100]!r} is not a valid HTTP field name")
        if not HEADER_VALUE_RE.match(value):
            raise ValueError(f"the value of header {name!r} must be at most 8192 visible ASCII characters")
    return headers


class ToolState(StrEnum):
    pending = "pending"
    approved = "approved"
    quarantined = "quarantined"
    disabled = "disabled"


class Transport(StrEnum):
    http = "http"
    stdio = "stdio"
    inprocess = "inprocess"  # a first-party tool pack served from this process


class UpstreamAuth(BaseModel):
    """How the hub authenticates to an upstream: never with the caller's token."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["none", "headers", "oauth_client_credentials"] = "none"
    # oauth_client_credentials
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None
    issuer: str | None = None


class UpstreamSpec(BaseModel):
    """An upstream MCP server as registered (REST body, CLI flags, config file)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    transport: Transport
    url: str | None = None
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    # Tools are published as "<prefix>.<tool>"; None means "the upstream's name"; "" means no prefix.
    prefix: str | None = None
    auth: UpstreamAuth = Field(default_factory=UpstreamAuth)
    timeout_s: float = Field(default=60.0, gt=0, le=3600)
    enabled: bool = True  # the kill switch: a disabled upstream's tools are neither listed nor called
    # Approve this upstream's new tools on import (off by default: new tools wait for an admin). Never
    # applies to a tool the poisoning scan flags, nor to a changed definition of an approved tool.
    auto_approve: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not UPSTREAM_NAME_RE.match(v):
            raise ValueError("name must be 1-64 characters of A-Z a-z 0-9 _ -")
        if v.lower() == RESERVED_PREFIX:
            raise ValueError(f"the name {RESERVED_PREFIX!r} is reserved for the hub's own tools")
        return v

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        return check_headers(v, info)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str | None) -> str | None:
        if v and not TOOL_NAME_RE.match(v):
            raise ValueError("prefix must be characters of A-Z a-z 0-9 . _ -")
        if v and v.split(".", 1)[0].lower() == RESERVED_PREFIX:
            raise ValueError(f"the prefix {RESERVED_PREFIX!r} is reserved for the hub's own tools")
        return v

    @model_validator(mode="after")
    def _target(self) -> UpstreamSpec:
        if self.transport == Transport.http:
            if not self.url or not self.url.startswith(("http://", "https://")):
                raise ValueError("an http upstream needs an http(s) url")
            if self.command:
                raise ValueError("an http upstream takes a url, not a command")
        elif self.transport == Transport.stdio:
            if not self.command:
                raise ValueError("a stdio upstream needs a command (a list: program and arguments)")
            if self.url:
                raise ValueError("a stdio upstream takes a command, not a url")
        return self

    @property
    def effective_prefix(self) -> str:
        return self.name if self.prefix is None else self.prefix

    def qualify(self, tool_name: str) -> str:
        prefix = self.effective_prefix
        return f"{prefix}.{tool_name}" if prefix else tool_name

    def redacted(self) -> dict[str, Any]:
        """The spec as shown to admins: secret values replaced, keys kept."""
        data = self.model_dump(mode="json")
        data["env"] = dict.fromkeys(self.env, "***")
        data["headers"] = dict.fromkeys(self.headers, "***")
        if self.auth.client_secret:
            data["auth"]["client_secret"] = "***"
        return data


class ToolPolicy(BaseModel):
    """An admin's settings for one tool; None means "decide from the tool's annotations / the defaults"."""

    model_config = ConfigDict(extra="forbid")

    # high: every call waits for an admin's approval. Default: high when the annotations say destructive
    # and not read-only (annotations are the upstream's claim, so they can only add caution here).
    risk: Literal["high", "normal"] | None = None
    timeout_s: float | None = Field(default=None, gt=0, le=3600)  # default: the upstream's
    idempotent: bool | None = None  # retried once on a transport failure; default: never retried
    rate_limit: str | None = None  # per caller, e.g. "60/m"; default: the hub's per-tool limit


class ToolRecord(BaseModel):
    """One tool as the catalog holds it."""

    model_config = ConfigDict(extra="forbid")

    name: str  # qualified: "<prefix>.<tool>"
    upstream: str
    upstream_tool: str  # the name the upstream knows it by
    title: str | None = None
    description: str | None = None
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None  # the upstream's _meta, passed through, not hashed
    definition_hash: str = ""
    state: ToolState = ToolState.pending
    approved_hash: str | None = None  # the pinned definition an admin (or the upstream's policy) approved
    flags: list[str] = Field(default_factory=list)  # poisoning-scan findings
    policy: ToolPolicy = Field(default_factory=ToolPolicy)
    state_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @model_validator(mode="after")
    def _hash(self) -> ToolRecord:
        if not self.definition_hash:
            self.definition_hash = definition_hash(
                name=self.upstream_tool,
                title=self.title,
                description=self.description,
                input_schema=self.input_schema,
                output_schema=self.output_schema,
                annotations=self.annotations,
            )
        return self


class SyncResult(BaseModel):
    """What a re-sync of one upstream changed in the catalog."""

    added: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)  # definition hash differs
    quarantined: list[str] = Field(default_factory=list)  # approved tools whose definition changed
    removed: list[str] = Field(default_factory=list)
    unchanged: int = 0
    skipped: list[str] = Field(default_factory=list)  # tools left out (invalid name, listed twice), and why

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.removed)
