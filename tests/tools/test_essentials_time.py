"""The essentials pack's time and date tools: now, convert_time, date_diff, add_duration."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from tests.tools.essentials_helpers import fails, ok

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
