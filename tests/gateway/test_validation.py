"""Argument and output validation: the compiled validator's quick yes, jsonschema's message and last word."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from hub.gateway.validation import MAX_DEPTH, validate_arguments, validate_output

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
        "units": {"enum": ["metric", "imperial"]},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["city"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("arguments", [
    {"city": "Oslo"},
    {"city": "Oslo", "days": 3, "units": "metric", "tags": ["a", "b"]},
    {"city": "Oslo", "days": 3.0},  # 2020-12: an integral float is an integer
])
def test_valid_arguments_pass(arguments: dict) -> None:
    assert validate_arguments(WEATHER, arguments) is None


@pytest.mark.parametrize(("arguments", "words"), [
    ({}, "'city' is a required property"),
    ({"city": 5}, "5 is not of type 'string' (at city)"),
    ({"city": "Oslo", "days": 20}, "20 is greater than the maximum of 14 (at days)"),
    ({"city": "Oslo", "days": True}, "True is not of type 'integer' (at days)"),
    ({"city": "Oslo", "units": "kelvin"}, "'kelvin' is not one of ['metric', 'imperial'] (at units)"),
    ({"city": "Oslo", "tags": ["a", 1]}, "1 is not of type 'string' (at tags/1)"),
    ({"city": "Oslo", "extra": 1}, "Additional properties are not allowed ('extra' was unexpected)"),
])
def test_invalid_arguments_are_refused_with_a_located_message(arguments: dict, words: str) -> None:
    assert validate_arguments(WEATHER, arguments) == words


def test_bounds_and_shape_come_first() -> None:
    assert validate_arguments(WEATHER, ["Oslo"]) == "arguments must be an object"
    nested: dict = {"city": "Oslo"}
    for _ in range(MAX_DEPTH + 1):
        nested = {"x": nested}
    assert "nest deeper" in (validate_arguments({"type": "object"}, nested) or "")


def test_jsonschema_has_the_last_word_where_the_two_differ() -> None:
    # ECMA-262 `$` ends the string; Python's also matches before a final newline. The compiled validator
    # refuses "a\n", jsonschema accepts it, and the hub accepts what it accepted before the fast path.
    assert validate_arguments({"type": "object", "properties": {"s": {"pattern": "^a$"}}}, {"s": "a\n"}) is None
    assert validate_arguments({"type": "object", "properties": {"n": {"type": "number"}}}, {"n": float("nan")}) is None
    # ... and where both refuse, the refusal stands.
    assert validate_arguments({"type": "object", "properties": {"s": {"pattern": "^a$"}}}, {"s": "b"}) is not None


def test_formats_are_annotations() -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
              "properties": {"mail": {"type": "string", "format": "email"}}}
    assert validate_arguments(schema, {"mail": "not an address"}) is None


def test_a_broken_schema_is_left_to_the_upstream() -> None:
    assert validate_arguments({"type": 12}, {"anything": True}) is None


def test_references_outside_the_schema_are_never_fetched() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    connections: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # the timeout: nobody came, as it should be
            connections.append(listener.accept())

    watcher = threading.Thread(target=accept)
    watcher.start()
    try:
        schema = {"type": "object", "properties": {"x": {"$ref": f"http://127.0.0.1:{port}/defs.json"}}}
        problem = validate_arguments(schema, {"x": 1})
    finally:
        watcher.join()
        listener.close()
    assert problem == "the tool's input schema refers to a definition outside itself"
    assert connections == []


def test_output_validation() -> None:
    schema = {"type": "object", "properties": {"result": {"type": "string"}}, "required": ["result"]}
    assert validate_output(schema, {"result": "ok"}) is None
    assert validate_output(schema, {"result": 3}) == "3 is not of type 'string' (at result)"
    assert validate_output(schema, None) == "the tool declares an output schema but returned no structured content"


LOOPING = {"type": "object", "required": ["y"], "properties": {"x": {"$ref": "#/$defs/a"}},
           "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}}


def test_a_schema_whose_references_loop_gives_a_clear_verdict_not_a_recursion_error() -> None:
    """Checking a value against `$ref`s that lead only to each other never ends: it used to raise RecursionError
    out of the call (an internal error for the caller), for input and output alike."""
    assert validate_arguments(LOOPING, {"y": 1}) is None  # the loop is never entered: nothing to refuse
    for check, which in ((validate_arguments, "input"), (validate_output, "output")):
        problem = check(LOOPING, {"x": 1})
        assert problem == f"the tool's {which} schema refers to itself in a loop, so its {which} cannot be checked"
