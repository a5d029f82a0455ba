"""The essentials pack as a whole: the registry, the tool listing, result shape and schema checks."""

from __future__ import annotations

import pytest
from hub.tools import PACKS, build
from mcp import Client
from mcp.server import MCPServer
from mcp.shared.tool_name_validation import validate_tool_name

from tests.tools.essentials_helpers import _call, fails

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
