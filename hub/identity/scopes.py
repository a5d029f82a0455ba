"""The scope vocabulary.

Permission scopes confer something and are granted by admins: `tool:<qualified name>`,
`upstream:<name>`, `agent:<id>`, `search`, `admin`. Surface scopes (`mcp`) only say which surface a
client means to use; they are granted to any active principal and never restrict or extend anything.
"""

from __future__ import annotations

import re

ADMIN = "admin"
SEARCH = "search"
SURFACE_SCOPES = frozenset({"mcp"})
_NAME = r"[A-Za-z0-9._-]{1,128}"
_PERMISSION = re.compile(rf"(?:tool:{_NAME}|upstream:{_NAME}|agent:{_NAME}|search|admin)")
MAX_SCOPES = 200


class ScopeError(ValueError):
    """A scope string outside the vocabulary."""


def parse(value: str | list[str] | None) -> list[str]:
    """Space-separated (or listed) scopes, validated, de-duplicated, in the given order."""
    items = value.split() if isinstance(value, str) else list(value or [])
    if len(items) > MAX_SCOPES:
        raise ScopeError(f"at most {MAX_SCOPES} scopes per request")
    seen: dict[str, None] = {}
    for item in items:
        if not isinstance(item, str) or not (is_permission(item) or item in SURFACE_SCOPES):
            raise ScopeError(f"unknown scope {str(item)[:80]!r}: expected tool:<name>, upstream:<name>, "
                             "agent:<id>, search, admin or mcp")
        seen[item] = None
    return list(seen)


def is_permission(scope: str) -> bool:
    return _PERMISSION.fullmatch(scope) is not None

