"""Token-bucket rate limits: the Rate syntax (parsing, validation, pydantic and settings fields) and Decision."""

from __future__ import annotations

import json
import math

import pytest
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.gateway.ratelimit import Decision, Rate, RateSetting

# --- Rate syntax ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "per_s", "burst"),
    [
        ("10/s", 10.0, 10),
        ("600/m", 10.0, 600),
        ("100/min", 100 / 60, 100),
        ("3600/h", 1.0, 3600),
        ("2/day", 2 / 86400, 2),
        ("600/m burst 50", 10.0, 50),
        ("  5 / Seconds   BURST 2 ", 5.0, 2),
        ("1/hr burst 10", 1 / 3600, 10),
    ],
)
def test_parse(text: str, per_s: float, burst: int) -> None:
    r = Rate.parse(text)
    assert r.per_s == pytest.approx(per_s)
    assert r.burst == burst
    assert Rate.parse(str(r)) == r  # the string form round-trips


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "expected COUNT/UNIT"),
        ("10", "expected COUNT/UNIT"),
        ("10/", "expected COUNT/UNIT"),
        ("/s", "expected COUNT/UNIT"),
        ("-1/s", "expected COUNT/UNIT"),
        ("1.5/s", "expected COUNT/UNIT"),
        ("10 per s", "expected COUNT/UNIT"),
        ("10/s:5", "expected COUNT/UNIT"),
        ("10/s burst", "expected COUNT/UNIT"),
        ("10/s burst -1", "expected COUNT/UNIT"),
        ("10/fortnight", "unknown unit 'fortnight'"),
        ("0/s", "count must be at least 1"),
        ("10/s burst 0", "burst must be at least 1"),
    ],
)
def test_parse_errors(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as e:
        Rate.parse(text)
    assert repr(text) in str(e.value)  # the message quotes what was wrong


@pytest.mark.parametrize(
    ("per_s", "burst"), [(0, 1), (-1.0, 1), (math.inf, 1), (math.nan, 1), (1.0, 0), (1.0, 1.5), ("1", 1), (True, 1)]
)
def test_rate_constructor_validates(per_s: object, burst: object) -> None:
    with pytest.raises(ValueError):
        Rate(per_s=per_s, burst=burst)  # type: ignore[arg-type]


def test_rate_str() -> None:
    assert str(Rate.parse("600/m")) == "600/m"
    assert str(Rate.parse("600/m burst 50")) == "10/s burst 50"
    assert str(Rate(per_s=1.0, burst=3600)) == "3600/h"


def test_rate_as_pydantic_field() -> None:
    class Limits(BaseModel):
        default: Rate
        optional: Rate | None = None
        per_tool: dict[str, Rate] = {}

    m = Limits(
        default="600/m", optional=Rate(2.0, 4), per_tool={"clock.now": "5/s burst 1", "x": {"per_s": 1, "burst": 2}}
    )
    assert m.default == Rate(10.0, 600)
    assert m.per_tool["clock.now"] == Rate(5.0, 1)
    assert m.per_tool["x"] == Rate(1, 2)
    dumped = m.model_dump(mode="json")
    assert dumped["default"] == "600/m"
    assert Limits.model_validate_json(json.dumps(dumped)) == m
    assert Limits.model_json_schema()["properties"]["default"]["type"] == "string"
    with pytest.raises(ValidationError, match="unknown unit"):
        Limits(default="5/x")
    with pytest.raises(ValidationError, match="per_s and burst"):
        Limits(default={"per_s": 1})
    with pytest.raises(ValidationError):
        Limits(default=5)


def test_rate_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="HUB_TEST_RL_")
        rate_limit: RateSetting = Rate(10.0, 10)
        tool_rate_limit: Rate | None = None
        tool_rate_limits: dict[str, Rate] = {}

    assert Settings().rate_limit == Rate(10.0, 10)
    monkeypatch.setenv("HUB_TEST_RL_RATE_LIMIT", "600/m")
    monkeypatch.setenv("HUB_TEST_RL_TOOL_RATE_LIMIT", "6/m burst 2")
    monkeypatch.setenv("HUB_TEST_RL_TOOL_RATE_LIMITS", '{"clock.now": "1/s"}')
    s = Settings()
    assert s.rate_limit == Rate(10.0, 600)
    assert s.tool_rate_limit == Rate(0.1, 2)
    assert s.tool_rate_limits == {"clock.now": Rate(1.0, 1)}
    monkeypatch.setenv("HUB_TEST_RL_RATE_LIMIT", "lots")
    with pytest.raises(ValidationError, match="invalid rate 'lots'"):
        Settings()


def test_retry_after_header() -> None:
    assert Decision(allowed=False, retry_after_s=0.2, remaining=0.8, key="k").retry_after_header == "1"
    assert Decision(allowed=False, retry_after_s=1.01, remaining=0.0, key="k").retry_after_header == "2"
    assert Decision(allowed=True, retry_after_s=0.0, remaining=3.0, key="k").retry_after_header == "0"
