"""The essentials pack's json_query tool (JMESPath)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.tools.essentials_helpers import fails, ok

# ----------------------------------------------------------------------------- json_query

ORDERS = {
    "orders": [
        {"id": 1, "customer": {"name": "Ada"}, "total": 12.5, "tags": ["new"]},
        {"id": 2, "customer": {"name": "Bo"}, "total": 99.0, "tags": ["vip", "gift"]},
        {"id": 3, "customer": {"name": "Cy"}, "total": 45.25, "tags": []},
    ]
}


@pytest.mark.parametrize(
    ("expression", "expected", "kind"),
    [
        ("orders[0].customer.name", "Ada", "string"),
        ("orders[-1].id", 3, "number"),
        ("orders[?total > `40`].id", [2, 3], "array"),
        ("orders[?customer.name == 'Bo'] | [0].tags", ["vip", "gift"], "array"),
        ("orders[*].tags[]", ["new", "vip", "gift"], "array"),
        ("sum(orders[*].total)", 156.75, "number"),
        ("max_by(orders, &total).customer.name", "Bo", "string"),
        ("orders[*].{id: id, who: customer.name}[:2]", [{"id": 1, "who": "Ada"}, {"id": 2, "who": "Bo"}], "array"),
        ("length(orders)", 3, "number"),
        ("orders[0].missing", None, "null"),
    ],
)
async def test_json_query(expression: str, expected: Any, kind: str) -> None:
    result = await ok("json_query", document=ORDERS, expression=expression)
    assert result == {"result": expected, "type": kind}


async def test_json_query_accepts_json_text() -> None:
    result = await ok("json_query", document='[{"a": {"b": [10, 20]}}]', expression="[0].a.b[1]")
    assert result["result"] == 20


async def test_json_query_errors() -> None:
    assert "not valid JSON" in await fails("json_query", document="{nope", expression="a")
    assert "NaN" in await fails("json_query", document='{"a": NaN}', expression="a")
    assert "too large for JSON" in await fails("json_query", document={"a": "1e999"}, expression="to_number(a)")
    assert "JMESPath error" in await fails("json_query", document=ORDERS, expression="orders[?")
    assert "JMESPath error" in await fails("json_query", document=ORDERS, expression="nope(orders)")


async def test_json_query_stops_exponential_expressions() -> None:
    doubling = "@" + " | [@, @]" * 40
    started = time.monotonic()
    text = await fails("json_query", document={"a": "x" * 50}, expression=doubling)
    assert "Query stopped" in text
    chain = "(@" + " | [@, @]" * 24 + ")"
    text = await fails("json_query", document={"a": "x"}, expression=f"[{chain}, {chain}] | [0] == [1]")
    assert "Query stopped" in text
    assert time.monotonic() - started < 3
