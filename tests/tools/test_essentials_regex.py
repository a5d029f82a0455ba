"""The essentials pack's regex tools: regex_find, regex_replace."""

from __future__ import annotations

import time

from tests.tools.essentials_helpers import fails, ok

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
