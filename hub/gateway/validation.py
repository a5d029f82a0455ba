"""Argument validation against a tool's input schema, before any upstream is called.

Bounded: argument size and nesting depth are capped, and `$ref` never leaves the schema (no network
or file resolution: the registry knows no external resources).

Two validators, one verdict. `jsonschema_rs` (compiled) answers the common case, valid input, in about
half a microsecond; `jsonschema` took 25 µs for a one-property schema, on every call, twice with an output
schema. Only what the compiled one refuses goes to `jsonschema`, which words the message and has the last
word, so the hub accepts exactly what it accepted before. (They can differ at the edges: ECMA-262 against
Python regular expressions, NaN as a number; there `jsonschema` decides.) Formats are annotations for both,
as `jsonschema` treats them by default.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jsonschema
import jsonschema_rs
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable

from hub.memo import ByIdentity

MAX_ARGUMENT_BYTES = 1024 * 1024
MAX_DEPTH = 64

_NO_EXTERNAL_REFS = Registry()  # empty: any reference outside the schema is unresolvable


def _depth(value: Any, limit: int) -> int:
    depth, frontier = 0, [value]
    while frontier:
        depth += 1
        if depth > limit:
            return depth
        nxt: list[Any] = []
        for item in frontier:
            if isinstance(item, dict):
                nxt.extend(item.values())
            elif isinstance(item, list):
                nxt.extend(item)
        frontier = nxt
    return depth


class _Validator:
    """A schema's two validators: `fast` says yes quickly (None when it can't take the schema), `full` decides."""

    __slots__ = ("fast", "full")

    def __init__(self, fast: Any, full: jsonschema.protocols.Validator) -> None:
        self.fast = fast
        self.full = full

    def accepts(self, instance: Any) -> bool:
        if self.fast is None:
            return False
        try:
            return bool(self.fast.is_valid(instance))
        except (ValueError, TypeError, OverflowError, RecursionError):  # what it can't convert: full decides
            return False


@lru_cache(maxsize=4096)
def _validator(schema_json: str) -> _Validator | None:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError:
        return None  # an upstream's broken schema is not the caller's fault: the upstream validates
    try:  # offline: a reference outside the schema fails here, and `full` gives the message
        fast = jsonschema_rs.validator_for(schema, offline=True, validate_formats=False)
    except (jsonschema_rs.ValidationError, ValueError, TypeError, OverflowError, RecursionError):
        fast = None
    return _Validator(fast, cls(schema, registry=_NO_EXTERNAL_REFS))


def validate_arguments(schema: dict[str, Any], arguments: Any) -> str | None:
    """None when the arguments are acceptable, else a message a model can act on."""
    if not isinstance(arguments, dict):
        return "arguments must be an object"
    try:
        encoded = json.dumps(arguments, separators=(",", ":"))
    except (TypeError, ValueError):
        return "arguments must be JSON"
    if len(encoded) > MAX_ARGUMENT_BYTES:
        return f"arguments exceed {MAX_ARGUMENT_BYTES} bytes"
    if _depth(arguments, MAX_DEPTH) > MAX_DEPTH:
        return f"arguments nest deeper than {MAX_DEPTH} levels"
    return _check(schema, arguments, "input")


def validate_output(schema: dict[str, Any], structured: Any) -> str | None:
    """None when an upstream's structured output matches the tool's declared output schema."""
    if structured is None:
        return "the tool declares an output schema but returned no structured content"
    return _check(schema, structured, "output")


# A catalog record's schema object is reused call after call: looked up by identity, it is not re-encoded per call.
_validator_of: ByIdentity[dict[str, Any], _Validator | None] = ByIdentity(
    lambda schema: _validator(json.dumps(schema, sort_keys=True)))


def _check(schema: dict[str, Any], instance: Any, which: str) -> str | None:
    """The most relevant schema violation, located; None when valid (or the schema itself is broken)."""
    validator = _validator_of(schema)
    if validator is None or validator.accepts(instance):
        return None
    try:
        error = jsonschema.exceptions.best_match(validator.full.iter_errors(instance))
    except Unresolvable:
        return f"the tool's {which} schema refers to a definition outside itself"
    except RecursionError:  # `$ref`s that only lead to each other: no verdict ever comes, so none is given
        return f"the tool's {which} schema refers to itself in a loop, so its {which} cannot be checked"
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{error.message}" + (f" (at {where})" if where else "")
