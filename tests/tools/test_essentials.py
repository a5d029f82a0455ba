"""The essentials pack, exercised through an in-memory MCP client exactly as the hub mounts it."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import pytest
from hub.tools import PACKS, build
from mcp import Client
from mcp.server import MCPServer
from mcp.shared.tool_name_validation import validate_tool_name
from mcp.types import CallToolResult

EXPECTED_TOOLS = {
    "now",
    "convert_time",
    "date_diff",
    "add_duration",
    "calculate",
    "convert_units",
    "json_query",
    "text_stats",
    "hash_text",
    "base64",
    "uuid",
    "regex_find",
    "regex_replace",
}


SERVER = build("essentials")


async def _call(name: str, arguments: dict[str, Any]) -> CallToolResult:
    # A fresh in-memory session per call, the way the hub connects to a pack; listing first lets the
    # client validate structured output against each tool's outputSchema.
    async with Client(SERVER) as client:
        await client.list_tools()
        return await client.call_tool(name, arguments)


async def ok(name: str, **arguments: Any) -> Any:
    result = await _call(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def fails(name: str, **arguments: Any) -> str:
    result = await _call(name, arguments)
    assert result.is_error, result.structured_content
    text = result.content[0].text
    assert text.startswith(f"Error executing tool {name}: ")
    assert "Traceback" not in text
    return text


# ----------------------------------------------------------------------------- registry


def test_registry_builds_fresh_servers() -> None:
    assert "essentials" in PACKS
    first, second = build("essentials"), build("essentials")
    assert isinstance(first, MCPServer)
    assert first is not second


def test_unknown_pack_is_a_clear_key_error() -> None:
    with pytest.raises(KeyError, match=r"Unknown tool pack 'nope'; known packs: essentials"):
        build("nope")


async def test_tools_list_has_schemas_and_annotations() -> None:
    async with Client(build("essentials")) as client:
        tools = (await client.list_tools()).tools
    assert {tool.name for tool in tools} == EXPECTED_TOOLS
    for tool in tools:
        assert validate_tool_name(tool.name).is_valid
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.title
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None and tool.output_schema["type"] == "object", tool.name
        ann = tool.annotations
        assert ann is not None
        assert ann.read_only_hint is True
        assert ann.destructive_hint is False
        assert ann.open_world_hint is False
        assert ann.idempotent_hint is (tool.name not in {"now", "uuid"})
        assert ann.title == tool.title
    by_name = {tool.name: tool for tool in tools}
    assert by_name["calculate"].input_schema["properties"]["expression"]["maxLength"] == 1000
    assert by_name["regex_find"].input_schema["properties"]["max_matches"]["maximum"] == 1000
    assert "json_query" in by_name and "JMESPath" in (by_name["json_query"].description or "")
    assert "GiB" in (by_name["convert_units"].description or "")


async def test_structured_result_is_also_text() -> None:
    result = await _call("calculate", {"expression": "6 * 7"})
    assert result.structured_content == {"expression": "6 * 7", "result": 42, "text": "42"}
    assert '"result":42' in result.content[0].text.replace(" ", "")


async def test_schema_violations_are_tool_errors() -> None:
    text = await fails("uuid", count=1000)
    assert "count" in text
    text = await fails("regex_find", pattern="a", text="a" * 1_000_001)
    assert "text" in text


# ----------------------------------------------------------------------------- time


async def test_now_in_zone() -> None:
    before = time.time()
    info = await ok("now", timezone="Asia/Kolkata")
    assert info["timezone"] == "Asia/Kolkata"
    assert info["utc_offset"] == "+05:30"
    assert info["is_dst"] is False
    assert abs(info["unix_seconds"] - before) < 5
    parsed = datetime.fromisoformat(info["iso"])
    assert info["weekday"] == parsed.strftime("%A")
    assert info["date"] == parsed.date().isoformat()


async def test_now_defaults_to_utc_and_accepts_offsets() -> None:
    assert (await ok("now"))["timezone"] == "UTC"
    assert (await ok("now", timezone="europe/berlin"))["timezone"] == "Europe/Berlin"
    assert (await ok("now", timezone="-03:30"))["utc_offset"] == "-03:30"


@pytest.mark.parametrize("zone", ["PST", "Mars/Olympus", "../../etc/passwd", "+15:00"])
async def test_bad_zones_are_rejected(zone: str) -> None:
    text = await fails("now", timezone=zone)
    assert "zone" in text or "offset" in text


async def test_convert_time_across_spring_forward() -> None:
    before = await ok("convert_time", time="2024-03-10T01:30", from_timezone="America/New_York", to_timezone="UTC")
    after = await ok("convert_time", time="2024-03-10T03:30", from_timezone="America/New_York", to_timezone="UTC")
    assert before["source"]["abbreviation"] == "EST"
    assert before["target"]["iso"] == "2024-03-10T06:30:00+00:00"
    assert after["source"]["abbreviation"] == "EDT"
    assert after["target"]["iso"] == "2024-03-10T07:30:00+00:00"  # two wall-clock hours, one real hour
    assert before["notes"] == [] and after["notes"] == []


async def test_convert_time_reports_dst_gap() -> None:
    result = await ok(
        "convert_time", time="2024-03-10T02:30", from_timezone="America/New_York", to_timezone="Europe/Paris"
    )
    assert result["source"]["iso"] == "2024-03-10T03:30:00-04:00"
    assert result["target"]["iso"] == "2024-03-10T08:30:00+01:00"
    assert "does not exist" in result["notes"][0]


async def test_convert_time_reports_ambiguous_hour() -> None:
    result = await ok(
        "convert_time", time="2024-11-03T01:30", from_timezone="America/New_York", to_timezone="Asia/Tokyo"
    )
    assert result["source"]["utc_offset"] == "-04:00"
    assert result["target"]["iso"] == "2024-11-03T14:30:00+09:00"
    assert result["offset_difference"] == "+13:00"
    assert "occurs twice" in result["notes"][0]
    second = await ok("convert_time", time="2024-11-03T01:30-05:00", to_timezone="Asia/Tokyo")
    assert second["target"]["iso"] == "2024-11-03T15:30:00+09:00"


async def test_convert_time_with_offset_and_display_zone() -> None:
    result = await ok("convert_time", time="2024-07-01T12:00:00Z", from_timezone="Europe/London", to_timezone="+05:30")
    assert result["source"]["iso"] == "2024-07-01T13:00:00+01:00"
    assert result["source"]["abbreviation"] == "BST"
    assert result["target"]["iso"] == "2024-07-01T17:30:00+05:30"
    assert result["target"]["timezone"] == "UTC+05:30"


async def test_convert_time_errors() -> None:
    assert "from_timezone" in await fails("convert_time", time="2024-07-01T12:00", to_timezone="UTC")
    assert "Cannot parse" in await fails("convert_time", time="next tuesday", from_timezone="UTC", to_timezone="UTC")


async def test_date_diff_calendar_breakdown() -> None:
    result = await ok("date_diff", start="2024-01-31", end="2024-03-01")
    assert result["total_days"] == 30
    assert (result["years"], result["months"], result["days"]) == (0, 1, 1)
    assert result["human"] == "1 month, 1 day"
    assert result["weekdays"] == 22
    assert result["start"] == "2024-01-31"

    back = await ok("date_diff", start="2025-12-25", end="2024-01-01")
    assert back["total_days"] == -724
    assert (back["years"], back["months"], back["days"]) == (-1, -11, -24)
    assert back["human"].startswith("minus ")


async def test_date_diff_is_dst_aware_with_a_zone() -> None:
    result = await ok("date_diff", start="2024-03-09T12:00", end="2024-03-10T12:00", timezone="America/New_York")
    assert result["total_hours"] == 23
    assert result["days"] == 1 and result["hours"] == 0
    naive = await ok("date_diff", start="2024-03-09T12:00", end="2024-03-10T12:00")
    assert naive["total_hours"] == 24
    mixed = await ok("date_diff", start="2024-01-01T00:00:00+02:00", end="2024-01-01T00:00:00Z")
    assert mixed["total_hours"] == 2


async def test_date_diff_rejects_mixed_awareness() -> None:
    text = await fails("date_diff", start="2024-01-01T00:00Z", end="2024-01-02T00:00")
    assert "offset" in text


async def test_add_duration_month_end_clamping() -> None:
    assert (await ok("add_duration", start="2024-01-31", months=1))["result"] == "2024-02-29"
    assert (await ok("add_duration", start="2023-01-31", months=1))["result"] == "2023-02-28"
    assert (await ok("add_duration", start="2024-02-29", years=1))["result"] == "2025-02-28"
    assert (await ok("add_duration", start="2024-03-31", months=-1))["result"] == "2024-02-29"


async def test_add_duration_calendar_days_versus_hours_across_dst() -> None:
    day = await ok("add_duration", start="2024-03-09T12:00", days=1, timezone="America/New_York")
    hours = await ok("add_duration", start="2024-03-09T12:00", hours=24, timezone="America/New_York")
    assert day["result"] == "2024-03-10T12:00:00-04:00"
    assert hours["result"] == "2024-03-10T13:00:00-04:00"
    assert day["timezone"] == "America/New_York"


async def test_add_duration_business_days() -> None:
    friday = await ok("add_duration", start="2024-06-07", business_days=1)
    assert (friday["result"], friday["weekday"]) == ("2024-06-10", "Monday")
    assert (await ok("add_duration", start="2024-06-10", business_days=-1))["result"] == "2024-06-07"
    assert (await ok("add_duration", start="2024-06-08", business_days=5))["result"] == "2024-06-14"


async def test_add_duration_errors() -> None:
    assert "range" in await fails("add_duration", start="9999-12-31", days=1)
    assert "less than or equal" in await fails("add_duration", start="2024-01-01", years=100_000)


# ----------------------------------------------------------------------------- calculator


@pytest.mark.parametrize(
    ("expression", "value", "text"),
    [
        ("2 + 3 * 4 ** 2 / 8", 8.0, "8"),
        ("(2 + 3) * 4", 20, "20"),
        ("-2 ** 2", -4, "-4"),
        ("2 ** -1", 0.5, "0.5"),
        ("2^10", 1024, "1024"),
        ("1 + 2^3", 9, "9"),
        ("7 // 2 + 7 % 3", 4, "4"),
        ("0.1 + 0.2", 0.30000000000000004, "0.3"),
        ("sqrt(16) + log(8, 2) + log10(1000)", 10.0, "10"),
        ("round(pi, 4)", 3.1416, "3.1416"),
        ("max(1, 5, 3) - min(4, 2)", 3, "3"),
        ("factorial(20)", 2432902008176640000, "2432902008176640000"),
        ("2 ** 100", 2**100, str(2**100)),
        ("1e3 \u00d7 2", 2000.0, "2000"),
        ("sin(pi / 2)", 1.0, "1"),
    ],
)
async def test_calculate_values(expression: str, value: float, text: str) -> None:
    result = await ok("calculate", expression=expression)
    assert result["result"] == value
    assert result["text"] == text


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os')", "Unknown function"),
        ("__import__('os').system('id')", "Attribute access is not allowed"),
        ("(1).__class__", "Attribute access is not allowed"),
        ("().__class__.__bases__[0]", "Attribute access is not allowed"),
        ("open('/etc/passwd')", "Unknown function"),
        ("x + 1", "Unknown name 'x'"),
        ("'a' * 3", "Only numbers"),
        ("[1, 2]", "Unsupported syntax"),
        ("lambda: 1", "Unsupported syntax"),
        ("1 if 1 else 2", "Unsupported syntax"),
        ("True + 1", "Only numbers"),
        ("9 ** 9 ** 9", "too large"),
        ("10 ** 100000", "too large"),
        ("2 ** 9999 * 2 ** 9999", "too large"),
        ("factorial(100000)", "limited"),
        ("1 / 0", "Division by zero"),
        ("10.0 ** 400", "overflow"),
        ("sqrt(-1)", "math domain error"),
        ("(-8) ** (1/3)", "complex"),
        ("2 +", "Invalid expression"),
        ("sqrt", "is a function"),
        ("sqrt(x=4)", "positional"),
        ("", "empty"),
    ],
)
async def test_calculate_rejections(expression: str, message: str) -> None:
    assert message in await fails("calculate", expression=expression)


async def test_calculate_bounds_expression_size() -> None:
    assert "complex" in await fails("calculate", expression="+".join(["1"] * 400))
    assert "at most 1000" in await fails("calculate", expression="1" * 1001)


# ----------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (1, "in", "cm", 2.54),
        (1, "mi", "km", 1.609344),
        (3, "ft", "m", 0.9144),
        (1, "lb", "kg", 0.45359237),
        (1, "gal", "L", 3.785411784),
        (1, "imp_gal", "L", 4.54609),
        (100, "km/h", "m/s", 27.77777777777778),
        (-40, "C", "F", -40.0),
        (0, "K", "celsius", -273.15),
        (212, "fahrenheit", "K", 373.15),
        (1, "GiB", "MiB", 1024.0),
        (1, "GB", "GiB", 0.9313225746154785),
        (100, "Mbps", "MB", 12.5),
        (1, "atm", "kPa", 101.325),
        (1, "kWh", "J", 3_600_000.0),
        (180, "deg", "rad", 3.141592653589793),
        (2, "miles", "feet", 10560.0),
        (1, "KG", "g", 1000.0),
    ],
)
async def test_convert_units_values(value: float, source: str, target: str, expected: float) -> None:
    result = await ok("convert_units", value=value, from_unit=source, to_unit=target)
    assert result["value"] == pytest.approx(expected, rel=1e-15)


async def test_convert_units_result_shape() -> None:
    result = await ok("convert_units", value=1, from_unit="inch", to_unit="centimeters")
    assert result == {"value": 2.54, "from_unit": "in", "to_unit": "cm", "category": "length", "text": "2.54 cm"}


async def test_convert_units_errors() -> None:
    assert "Cannot convert mass" in await fails("convert_units", value=1, from_unit="kg", to_unit="m")
    assert "Unknown or ambiguous unit 'furlong'" in await fails(
        "convert_units", value=1, from_unit="furlong", to_unit="m"
    )
    assert "absolute zero" in await fails("convert_units", value=-300, from_unit="C", to_unit="K")


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


# ----------------------------------------------------------------------------- text, hashing, encoding, ids


async def test_text_stats() -> None:
    text = "Hello world. It's a test!\nSecond line without end\n\nNew paragraph here"
    result = await ok("text_stats", text=text)
    assert result["characters"] == len(text)
    assert result["bytes_utf8"] == len(text.encode())
    assert result["words"] == 12
    assert result["lines"] == 4
    assert result["sentences"] == 3
    assert result["paragraphs"] == 2
    assert result["longest_line"] == len("Hello world. It's a test!")
    assert result["tokens_estimate"] >= 16
    unicode = await ok("text_stats", text="h\u00e9llo w\u00f6rld")
    assert (unicode["characters"], unicode["bytes_utf8"], unicode["words"]) == (11, 13, 2)
    empty = await ok("text_stats", text="")
    assert empty["words"] == empty["sentences"] == empty["tokens_estimate"] == 0


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"data": "abc"}, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ({"data": "", "algorithm": "md5"}, "d41d8cd98f00b204e9800998ecf8427e"),
        ({"data": "abc", "algorithm": "sha1"}, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            {"data": "616263", "input_encoding": "hex"},
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (  # RFC 4231 test case 2
            {"data": "what do ya want for nothing?", "hmac_key": "Jefe"},
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
    ],
)
async def test_hash_text(arguments: dict[str, str], expected: str) -> None:
    result = await ok("hash_text", **arguments)
    assert result["hex"] == expected
    assert result["hmac"] is ("hmac_key" in arguments)


async def test_hash_text_rejects_bad_hex() -> None:
    assert "not valid hex" in await fails("hash_text", data="zz", input_encoding="hex")


async def test_base64_round_trip() -> None:
    encoded = await ok("base64", operation="encode", data="h\u00e9llo?>")
    assert encoded == {"result": "aMOpbGxvPz4=", "result_encoding": "base64", "byte_length": 8}
    url = await ok("base64", operation="encode", data="h\u00e9llo?>", url_safe=True, padding=False)
    assert url["result"] == "aMOpbGxvPz4"
    for text in ("aMOpbGxvPz4=", "aMOpbGxvPz4", " aMOp\nbGxvPz4 "):
        decoded = await ok("base64", operation="decode", data=text)
        assert decoded == {"result": "h\u00e9llo?>", "result_encoding": "utf-8", "byte_length": 8}


async def test_base64_binary_and_errors() -> None:
    decoded = await ok("base64", operation="decode", data="/wA=")
    assert decoded == {"result": "ff00", "result_encoding": "hex", "byte_length": 2}
    assert (await ok("base64", operation="encode", data="ff00", input_encoding="hex"))["result"] == "/wA="
    assert "not valid base64" in await fails("base64", operation="decode", data="!!!!")


async def test_uuid() -> None:
    v4 = await ok("uuid", count=5)
    assert v4["version"] == 4 and len(set(v4["uuids"])) == 5
    assert all(uuid.UUID(value).version == 4 for value in v4["uuids"])
    v7 = await ok("uuid", version=7, count=10)
    parsed = [uuid.UUID(value) for value in v7["uuids"]]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert v7["uuids"] == sorted(v7["uuids"])
    millis = parsed[0].int >> 80
    assert abs(millis / 1000 - time.time()) < 5


# ----------------------------------------------------------------------------- regex


async def test_regex_find() -> None:
    result = await ok("regex_find", pattern=r"(?P<year>\d{4})-(\d{2})", text="from 2024-05 to 1999-12")
    assert result["count"] == 2 and result["truncated"] is False
    first = result["matches"][0]
    assert first == {
        "match": "2024-05",
        "start": 5,
        "end": 12,
        "groups": ["2024", "05"],
        "named_groups": {"year": "2024"},
    }
    capped = await ok("regex_find", pattern=r"\w+", text="a b c d", max_matches=2)
    assert (capped["count"], capped["truncated"]) == (2, True)
    flagged = await ok("regex_find", pattern="^hello", text="x\nHELLO", flags=["IGNORECASE", "MULTILINE"])
    assert flagged["matches"][0]["start"] == 2
    optional = await ok("regex_find", pattern=r"a(b)?", text="a")
    assert optional["matches"][0]["groups"] == [None]


async def test_regex_find_guards() -> None:
    started = time.monotonic()
    text = await fails("regex_find", pattern=r"(a|aa)+$", text="a" * 60 + "b")
    assert "longer than 1 s" in text
    assert time.monotonic() - started < 3

    started = time.monotonic()
    text = await fails("regex_find", pattern=r"((a{100}){100}){100}", text="a")
    assert "too large" in text
    assert time.monotonic() - started < 1

    assert "Invalid regular expression" in await fails("regex_find", pattern="(", text="a")
    assert "Invalid regular expression" in await fails("regex_find", pattern=r"\p{L}", text="a")


async def test_regex_replace() -> None:
    result = await ok(
        "regex_replace", pattern=r"(\w+)@(?P<host>\w+)", replacement=r"\g<host>:\1", text="me@box you@web"
    )
    assert result == {"result": "box:me web:you", "replacements": 2}
    once = await ok("regex_replace", pattern="o", replacement="0", text="foo boo", count=1)
    assert once == {"result": "f0o boo", "replacements": 1}


async def test_regex_replace_guards() -> None:
    assert "Invalid replacement template" in await fails("regex_replace", pattern=r"(\w)", replacement=r"\2", text="x")
    text = await fails("regex_replace", pattern="", replacement="x" * 1000, text="a" * 10_000)
    assert "more than 2,000,000 characters" in text
