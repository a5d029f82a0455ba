"""Time zones, dates and times: ``now``, ``convert_time``, ``date_diff`` and ``add_duration``."""

from __future__ import annotations

import calendar
import functools
import math
import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

TimezoneName = Annotated[
    str,
    Field(
        max_length=64,
        description="IANA time zone such as 'Europe/Paris' or 'America/New_York', 'UTC', "
        "or a fixed offset such as '+05:30'.",
    ),
]
DateTimeText = Annotated[
    str,
    Field(
        max_length=64,
        description="ISO 8601 date ('2024-03-10') or date-time ('2024-03-10T14:30', optionally with "
        "an offset such as '+01:00' or 'Z'), or the word 'now' or 'today'.",
    ),
]


_OFFSET_RE = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


@functools.cache
def _zone_keys() -> dict[str, str]:
    """Lower-cased IANA key -> canonical key, for case-insensitive lookups."""
    return {key.lower(): key for key in available_timezones()}


def _resolve_tz(name: str) -> tzinfo:
    raw = name.strip()
    if raw.upper() in ("UTC", "Z", "GMT", "ZULU"):
        return UTC
    match = _OFFSET_RE.match(raw)
    if match:
        sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise ToolError(f"UTC offset out of range: {name!r} (allowed -14:00 to +14:00)")
        delta = timedelta(hours=hours, minutes=minutes)
        return timezone(-delta if sign == "-" else delta)
    key = _zone_keys().get(raw.lower())
    if key is None:
        raise ToolError(
            f"Unknown time zone {name!r}. Use an IANA name such as 'America/New_York', 'Europe/Berlin', "
            "'Asia/Kolkata' or 'UTC', or a fixed offset like '+05:30' (abbreviations such as 'PST' or "
            "'IST' are ambiguous and not accepted)."
        )
    return ZoneInfo(key)


def _tz_label(tz: tzinfo | None, moment: datetime) -> str:
    if isinstance(tz, ZoneInfo):
        return tz.key
    if tz is UTC:
        return "UTC"
    return f"UTC{_format_offset(moment.utcoffset())}"


def _format_offset(offset: timedelta | None) -> str:
    if offset is None:
        return "+00:00"
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{text}:{seconds:02d}" if seconds else text


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds" if moment.microsecond == 0 else "microseconds")


class TimeInfo(BaseModel):
    """One instant, described in one time zone."""

    iso: str = Field(description="ISO 8601 date-time with UTC offset")
    timezone: str = Field(description="IANA zone name, 'UTC', or 'UTC+hh:mm' for fixed offsets")
    utc_offset: str = Field(description="Offset from UTC, e.g. '-04:00'")
    abbreviation: str | None = Field(description="Zone abbreviation in effect, e.g. 'EDT' (may be numeric)")
    is_dst: bool = Field(description="Whether daylight saving time is in effect")
    date: str = Field(description="Local date, YYYY-MM-DD")
    time: str = Field(description="Local wall-clock time, HH:MM:SS")
    weekday: str = Field(description="Local day of the week, e.g. 'Sunday'")
    iso_week: str = Field(description="ISO week, e.g. '2024-W10'")
    day_of_year: int
    unix_seconds: int = Field(description="Seconds since 1970-01-01T00:00:00Z (floored)")


def _time_info(moment: datetime) -> TimeInfo:
    tz = moment.tzinfo
    dst = moment.dst()
    iso_year, iso_week, _ = moment.isocalendar()
    return TimeInfo(
        iso=_iso(moment),
        timezone=_tz_label(tz, moment),
        utc_offset=_format_offset(moment.utcoffset()),
        abbreviation=moment.tzname(),
        is_dst=bool(dst),
        date=moment.date().isoformat(),
        time=moment.strftime("%H:%M:%S"),
        weekday=WEEKDAYS[moment.weekday()],
        iso_week=f"{iso_year}-W{iso_week:02d}",
        day_of_year=moment.timetuple().tm_yday,
        unix_seconds=math.floor(moment.timestamp()),
    )


_DATE_ONLY_RE = re.compile(r"^\d{4}-?\d{2}-?\d{2}$")
_TIME_ONLY_RE = re.compile(r"^\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?$")


def _parse_when(text: str, tz: tzinfo | None, *, allow_time_only: bool = False) -> date | datetime:
    """Parse ISO 8601 text, 'now' or 'today'. Returns a date for date-only input."""
    raw = text.strip()
    lowered = raw.lower()
    if lowered == "now":
        return datetime.now(tz or UTC)
    if lowered == "today":
        return datetime.now(tz or UTC).date()
    try:
        if _DATE_ONLY_RE.match(raw):
            return date.fromisoformat(raw)
        if allow_time_only and _TIME_ONLY_RE.match(raw):
            if len(raw.split(":")[0]) == 1:
                raw = "0" + raw
            today = datetime.now(tz or UTC).date()
            return datetime.fromisoformat(f"{today.isoformat()}T{raw}")
        return datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ToolError(
            f"Cannot parse {text!r} as an ISO 8601 date or date-time ({exc}). "
            "Examples: '2024-03-10', '2024-03-10T14:30', '2024-03-10T14:30:00+01:00', 'now', 'today'."
        ) from None


def _localize(naive: datetime, tz: tzinfo) -> tuple[datetime, str | None]:
    """Attach ``tz`` to a wall-clock time, reporting DST gaps and ambiguous (repeated) times."""
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first, None
    label = _tz_label(tz, first)
    round_trip = first.astimezone(UTC).astimezone(tz)
    if round_trip.replace(tzinfo=None) != naive:
        return round_trip, (
            f"{_iso(naive)} does not exist in {label} (skipped by a daylight-saving change); "
            f"interpreted as {_iso(round_trip)}."
        )
    return first, (
        f"{_iso(naive)} occurs twice in {label} (clocks are turned back); interpreted as the first "
        f"occurrence, {_iso(first)}. Use an explicit offset ({_iso(second)}) for the second."
    )


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)


def _add_months(moment: datetime, months: int) -> datetime:
    year_shift, month_index = divmod(moment.month - 1 + months, 12)
    year = moment.year + year_shift
    if not 1 <= year <= 9999:
        raise ToolError("Result is outside the supported range (years 1 to 9999).")
    month = month_index + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _utc_exact(moment: datetime) -> datetime:
    """Aware -> UTC; naive stays naive (wall-clock arithmetic)."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment


def _count_weekdays(start: date, end: date) -> int:
    """Mon-Fri dates in [start, end), negative when end is before start."""
    if end < start:
        return -_count_weekdays(end, start)
    days = (end - start).days
    full_weeks, rest = divmod(days, 7)
    count = full_weeks * 5
    weekday = start.weekday()
    for offset in range(rest):
        if (weekday + offset) % 7 < 5:
            count += 1
    return count


def now(timezone: TimezoneName = "UTC") -> TimeInfo:
    """Current date and time in a time zone.

    Use this whenever you need today's date, the current time, or the day of the week:
    you cannot know them otherwise. Returns ISO 8601 time with offset, weekday, whether
    DST is in effect, ISO week and Unix seconds.
    """
    tz = _resolve_tz(timezone)
    return _time_info(datetime.now(tz).replace(microsecond=0))


class ConvertTimeResult(BaseModel):
    source: TimeInfo
    target: TimeInfo
    offset_difference: str = Field(description="Target UTC offset minus source UTC offset, e.g. '+13:00'")
    notes: list[str] = Field(description="DST gap/ambiguity and interpretation notes; empty when none")


def convert_time(
    time: Annotated[
        str,
        Field(
            max_length=64,
            description="ISO 8601 date-time ('2024-11-03T01:30', '2024-11-03T01:30-04:00'), a time of day "
            "('15:00', taken as today in from_timezone), or 'now'.",
        ),
    ],
    to_timezone: TimezoneName,
    from_timezone: Annotated[
        str | None,
        Field(
            max_length=64,
            description="Zone the given wall-clock time is in (IANA name or offset). Required unless "
            "'time' has an explicit offset or is 'now'.",
        ),
    ] = None,
) -> ConvertTimeResult:
    """Convert a date-time from one time zone to another, correctly across daylight saving changes.

    A time without an offset is read as wall-clock time in from_timezone; if it falls in a
    DST gap or in the repeated hour, a note explains which instant was used. If 'time'
    carries an offset, that offset fixes the instant and from_timezone only chooses how the
    source is displayed.
    """
    notes: list[str] = []
    source_tz = _resolve_tz(from_timezone) if from_timezone else None
    target_tz = _resolve_tz(to_timezone)
    parsed = _parse_when(time, source_tz, allow_time_only=True)
    if not isinstance(parsed, datetime):
        notes.append(f"No time of day given; used midnight at the start of {parsed.isoformat()}.")
        parsed = _as_datetime(parsed)
    if parsed.tzinfo is None:
        if source_tz is None:
            raise ToolError(
                f"{time!r} has no UTC offset: pass from_timezone, or include an offset such as '+02:00' or 'Z'."
            )
        parsed, note = _localize(parsed, source_tz)
        if note:
            notes.append(note)
    elif source_tz is not None:
        shown = parsed.astimezone(source_tz)
        if shown.utcoffset() != parsed.utcoffset():
            notes.append(
                f"The offset in {time!r} fixes the instant; it is shown in {_tz_label(source_tz, shown)} "
                f"as {_iso(shown)}."
            )
        parsed = shown
    try:
        target = parsed.astimezone(target_tz)
    except OverflowError:
        raise ToolError("Result is outside the supported range (years 1 to 9999).") from None
    difference = (target.utcoffset() or timedelta()) - (parsed.utcoffset() or timedelta())
    return ConvertTimeResult(
        source=_time_info(parsed),
        target=_time_info(target),
        offset_difference=_format_offset(difference),
        notes=notes,
    )


class DateDiffResult(BaseModel):
    start: str = Field(description="Start as interpreted (ISO 8601)")
    end: str = Field(description="End as interpreted (ISO 8601)")
    total_days: float = Field(description="Exact elapsed time in days (negative if end is before start)")
    total_hours: float
    total_seconds: float
    weeks: float = Field(description="total_days / 7")
    years: int = Field(description="Calendar breakdown: whole years")
    months: int = Field(description="Calendar breakdown: whole months after the years (0-11)")
    days: int = Field(description="Calendar breakdown: remaining days")
    hours: int
    minutes: int
    seconds: float
    human: str = Field(description="The calendar breakdown in words, e.g. '1 year, 2 months, 3 days'")
    weekdays: int = Field(description="Monday-Friday dates from the start date (inclusive) to the end date (exclusive)")
    notes: list[str]


def _plural(count: float, unit: str) -> str:
    shown = f"{count:g}" if isinstance(count, float) else str(count)
    return f"{shown} {unit}" + ("" if count == 1 else "s")


def date_diff(
    start: DateTimeText,
    end: DateTimeText,
    timezone: Annotated[
        str | None,
        Field(
            max_length=64,
            description="Zone for inputs without an offset and for 'now'/'today'; makes the calculation "
            "DST-aware. Omit to treat offset-less inputs as plain wall-clock times.",
        ),
    ] = None,
) -> DateDiffResult:
    """Exact difference between two dates or date-times.

    Gives the total elapsed days/hours/seconds, a calendar breakdown (years, months, days,
    hours, minutes, seconds, as a person would count them, e.g. Jan 31 -> Mar 1 is
    1 month 1 day), and the number of weekdays (Mon-Fri) between the two dates.
    """
    tz = _resolve_tz(timezone) if timezone else None
    notes: list[str] = []
    raw_values = [_parse_when(start, tz), _parse_when(end, tz)]
    both_dates = not any(isinstance(v, datetime) for v in raw_values)
    values: list[datetime] = []
    for label, raw_value in zip(("start", "end"), raw_values, strict=True):
        parsed = _as_datetime(raw_value)
        if parsed.tzinfo is None and tz is not None and not both_dates:
            parsed, note = _localize(parsed, tz)
            if note:
                notes.append(f"{label}: {note}")
        values.append(parsed)
    first, second = values
    if (first.tzinfo is None) != (second.tzinfo is None):
        raise ToolError(
            "One input has a UTC offset and the other does not: pass timezone, or give both inputs offsets."
        )
    if first.tzinfo is not None:
        second_local = second.astimezone(first.tzinfo)
        elapsed = second.astimezone(UTC) - first.astimezone(UTC)
    else:
        second_local = second
        elapsed = second - first

    # Calendar breakdown on wall-clock values in the start's zone.
    a, b = first.replace(tzinfo=None), second_local.replace(tzinfo=None)
    sign = 1
    if b < a:
        a, b, sign = b, a, -1
    months = (b.year - a.year) * 12 + (b.month - a.month)
    if months and _add_months(a, months) > b:
        months -= 1
    anchor = _add_months(a, months)
    rest = b - anchor
    hours, remainder = divmod(rest.seconds, 3600)
    minutes, seconds = divmod(remainder, 60)
    sec_value: float = seconds + rest.microseconds / 1_000_000
    parts = {
        "year": months // 12,
        "month": months % 12,
        "day": rest.days,
        "hour": hours,
        "minute": minutes,
        "second": sec_value,
    }
    words = [_plural(v, k) for k, v in parts.items() if v]
    human = ", ".join(words) if words else "0 days"
    if sign < 0:
        human = f"minus {human}"

    total_seconds = elapsed.total_seconds()
    return DateDiffResult(
        start=_iso(first) if isinstance(raw_values[0], datetime) else first.date().isoformat(),
        end=_iso(second) if isinstance(raw_values[1], datetime) else second.date().isoformat(),
        total_days=total_seconds / 86400,
        total_hours=total_seconds / 3600,
        total_seconds=total_seconds,
        weeks=total_seconds / 604800,
        years=sign * parts["year"],
        months=sign * parts["month"],
        days=sign * parts["day"],
        hours=sign * hours,
        minutes=sign * minutes,
        seconds=sign * sec_value if sec_value else 0.0,
        human=human,
        weekdays=_count_weekdays(first.date(), second_local.date()),
        notes=notes,
    )


class AddDurationResult(BaseModel):
    result: str = Field(description="Resulting date (YYYY-MM-DD) or date-time (ISO 8601)")
    date: str
    weekday: str
    timezone: str | None = Field(description="Zone of the result, or null for a plain date / wall-clock time")
    notes: list[str]


def add_duration(
    start: DateTimeText,
    years: Annotated[int, Field(ge=-10_000, le=10_000)] = 0,
    months: Annotated[int, Field(ge=-120_000, le=120_000)] = 0,
    weeks: Annotated[int, Field(ge=-600_000, le=600_000)] = 0,
    days: Annotated[int, Field(ge=-4_000_000, le=4_000_000)] = 0,
    business_days: Annotated[
        int, Field(ge=-10_000, le=10_000, description="Monday-Friday days to add (weekends skipped; no holidays)")
    ] = 0,
    hours: Annotated[float, Field(ge=-1e8, le=1e8)] = 0,
    minutes: Annotated[float, Field(ge=-1e10, le=1e10)] = 0,
    seconds: Annotated[float, Field(ge=-1e12, le=1e12)] = 0,
    timezone: Annotated[
        str | None,
        Field(
            max_length=64,
            description="Zone for a start without an offset and for 'now'/'today'; makes the arithmetic "
            "DST-aware. A start with an offset is converted to this zone first.",
        ),
    ] = None,
) -> AddDurationResult:
    """Add (or, with negative values, subtract) a duration to a date or date-time.

    Calendar units are applied first on the wall clock: years and months keep the day of
    month, clamping to the month's end (Jan 31 + 1 month = Feb 28/29); weeks, days and
    business_days move the date and keep the local time even across a DST change. Then
    hours/minutes/seconds are added as exact elapsed time. A plain date with only
    calendar units returns a plain date.
    """
    tz = _resolve_tz(timezone) if timezone else None
    notes: list[str] = []
    parsed = _parse_when(start, tz)
    exact = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    date_only = not isinstance(parsed, datetime) and not exact
    moment = _as_datetime(parsed)
    if moment.tzinfo is None and tz is not None:
        moment, note = _localize(moment, tz)
        if note:
            notes.append(f"start: {note}")
    elif moment.tzinfo is not None and tz is not None:
        moment = moment.astimezone(tz)
    zone = moment.tzinfo
    try:
        wall = moment.replace(tzinfo=None)
        wall = _add_months(wall, years * 12 + months)
        wall += timedelta(weeks=weeks, days=days)
        step = 1 if business_days > 0 else -1
        for _ in range(abs(business_days)):
            wall += timedelta(days=step)
            while wall.weekday() >= 5:
                wall += timedelta(days=step)
        if zone is not None:
            moment, note = _localize(wall, zone)
            if note:
                notes.append(note)
            moment = (moment.astimezone(UTC) + exact).astimezone(zone)
        else:
            moment = wall + exact
    except OverflowError:
        raise ToolError("Result is outside the supported range (years 1 to 9999).") from None
    return AddDurationResult(
        result=moment.date().isoformat() if date_only else _iso(moment),
        date=moment.date().isoformat(),
        weekday=WEEKDAYS[moment.weekday()],
        timezone=_tz_label(zone, moment) if zone is not None else None,
        notes=notes,
    )
