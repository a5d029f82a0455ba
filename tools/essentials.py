"""The ``essentials`` pack: small, exact tools for things language models get wrong.

Everything here is pure computation: no network, no filesystem beyond the time-zone
database, no state between calls. Every input is bounded, and every anticipated
failure is raised as :class:`ToolError`, which the SDK turns into an ``isError``
result that carries our message (any other exception would reach the caller as a
generic "Error executing tool <name>" with no detail).
"""

from __future__ import annotations

import ast
import base64 as b64
import binascii
import calendar
import functools
import hashlib
import hmac
import inspect
import json
import math
import operator
import re
import re._constants as sre_constants
import re._parser as sre_parser
import secrets
import time as _time
import uuid as _uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from fractions import Fraction
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

import jmespath
import jmespath.exceptions
import jmespath.functions
import jmespath.visitor
import regex
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

__all__ = ["create_server"]

PACK_NAME = "essentials"

# --------------------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------------------

MAX_TEXT_CHARS = 1_000_000
MAX_SHORT_CHARS = 1_000
MAX_EXPRESSION_CHARS = 1_000
MAX_CALC_NODES = 500
MAX_INT_BITS = 10_000  # about 3,000 decimal digits
MAX_JSON_WEIGHT = 2_000_000  # approximate serialized size of any value json_query builds
MAX_JSON_VISITS = 2_000_000
JSON_QUERY_SECONDS = 2.0
REGEX_SECONDS = 1.0
MAX_REGEX_COST = 100_000  # nodes after unrolling counted repeats such as (ab){1000}
MAX_REGEX_MATCHES = 1_000
MAX_REGEX_OUTPUT_CHARS = 2_000_000
MAX_UUIDS = 100

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
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


def _annotations(title: str, *, idempotent: bool = True) -> ToolAnnotations:
    return ToolAnnotations(
        title=title,
        read_only_hint=True,
        destructive_hint=False,
        idempotent_hint=idempotent,
        open_world_hint=False,
    )


# --------------------------------------------------------------------------------------
# Time zones, dates and times
# --------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------
# Calculator
# --------------------------------------------------------------------------------------

Number = int | float

_BIN_OPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY_OPS: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _checked_factorial(n: Any) -> int:
    if isinstance(n, int) and n > 1000:
        raise ToolError("factorial() is limited to n <= 1000.")
    return math.factorial(n)


def _checked_round(value: Any, ndigits: Any = None) -> Number:
    if ndigits is None:
        return round(value)
    if isinstance(ndigits, int) and abs(ndigits) > 100:
        raise ToolError("round() takes at most 100 digits.")
    return round(value, ndigits)


def _checked_comb_perm(fn: Callable[..., int]) -> Callable[..., int]:
    def wrapper(n: Any, k: Any = None) -> int:
        if isinstance(n, int) and n > 10_000:
            raise ToolError(f"{fn.__name__}() is limited to n <= 10000.")
        return fn(n) if k is None else fn(n, k)

    return wrapper


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": _checked_round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "cbrt": math.cbrt,
    "isqrt": math.isqrt,
    "exp": math.exp,
    "ln": math.log,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "atan2": math.atan2,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "degrees": math.degrees,
    "radians": math.radians,
    "hypot": math.hypot,
    "floor": math.floor,
    "ceil": math.ceil,
    "trunc": math.trunc,
    "fmod": math.fmod,
    "gcd": math.gcd,
    "lcm": math.lcm,
    "factorial": _checked_factorial,
    "comb": _checked_comb_perm(math.comb),
    "perm": _checked_comb_perm(math.perm),
}


def _check_number(value: Any) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, complex):
            raise ToolError(
                "The result is a complex number, which is not supported (e.g. a fractional power of a negative number)."
            )
        raise ToolError("The expression did not produce a number.")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError(f"Integer result too large (more than {MAX_INT_BITS} bits, about 3000 digits).")
    return value


def _check_power(base: Number, exponent: Number) -> None:
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and exponent * math.log2(abs(base)) > MAX_INT_BITS
    ):
        raise ToolError(f"{base} ** {exponent} is too large (more than {MAX_INT_BITS} bits, about 3000 digits).")


def _evaluate(node: ast.AST) -> Number:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ToolError(f"Only numbers are allowed, not {node.value!r}.")
        return _check_number(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN_OPS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _check_number(_BIN_OPS[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY_OPS:
        return _check_number(_UNARY_OPS[type(node.op)](_evaluate(node.operand)))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if node.id in _FUNCTIONS:
            raise ToolError(f"{node.id} is a function: call it, e.g. {node.id}(2).")
        raise ToolError(f"Unknown name {node.id!r}. Constants: {', '.join(_CONSTANTS)}.")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            raise ToolError(f"Unknown function. Available: {', '.join(sorted(_FUNCTIONS))}.")
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise ToolError("Functions take positional arguments only.")
        args = [_evaluate(arg) for arg in node.args]
        return _check_number(_FUNCTIONS[node.func.id](*args))
    if isinstance(node, ast.Attribute):
        raise ToolError("Attribute access is not allowed.")
    raise ToolError(f"Unsupported syntax: {type(node).__name__}. Use numbers, + - * / // % ** ( ) and functions.")


def _format_number(value: Number) -> str:
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


class CalculateResult(BaseModel):
    expression: str = Field(description="The expression as evaluated")
    result: int | float = Field(description="Exact integer, or IEEE double")
    text: str = Field(description="The result rounded to 15 significant digits (integers exact)")


def calculate(
    expression: Annotated[
        str,
        Field(
            max_length=MAX_EXPRESSION_CHARS,
            description="Arithmetic expression, e.g. '(17.5 * 3 + 2**10) / 7' or 'sqrt(2) * sin(pi / 4)'.",
        ),
    ],
) -> CalculateResult:
    """Evaluate an arithmetic expression exactly (integers) or in double precision (floats).

    Use this instead of doing arithmetic in your head. Operators: + - * / // (floor division)
    % (modulo) ** (power; '^' is accepted as power too), parentheses. Constants: pi, e, tau.
    Functions: abs round min max sqrt cbrt isqrt exp ln log(x[, base]) log10 log2 sin cos tan
    asin acos atan atan2 sinh cosh tanh degrees radians hypot floor ceil trunc fmod gcd lcm
    factorial comb perm. Trigonometry uses radians. Integer results are exact up to ~3000 digits.
    """
    source = expression.replace("^", "**").replace("\u00d7", "*").replace("\u00f7", "/").replace("\u2212", "-").strip()
    if not source:
        raise ToolError("The expression is empty.")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"Invalid expression: {exc.msg} (at column {exc.offset}).") from None
    except (RecursionError, MemoryError, ValueError):
        raise ToolError("Invalid expression: too deeply nested or malformed.") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_CALC_NODES:
        raise ToolError(f"Expression too complex (more than {MAX_CALC_NODES} syntax nodes).")
    if any(isinstance(node, ast.Attribute) for node in nodes):
        raise ToolError("Attribute access is not allowed.")
    try:
        value = _evaluate(tree)
    except ToolError:
        raise
    except ZeroDivisionError:
        raise ToolError("Division by zero.") from None
    except OverflowError:
        raise ToolError("Numeric overflow: the result is too large for a floating-point number.") from None
    except (ValueError, TypeError) as exc:
        raise ToolError(f"Math error: {exc}.") from None
    except RecursionError:
        raise ToolError("Expression too deeply nested.") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("The result is not a finite number.")
    return CalculateResult(expression=source, result=value, text=_format_number(value))


# --------------------------------------------------------------------------------------
# Unit conversion
# --------------------------------------------------------------------------------------


def _f(text: str) -> Fraction:
    return Fraction(text)


_PI = Fraction(math.pi)

# category -> {canonical unit: factor to the category's base unit}. Exact where the definition is exact.
_UNIT_TABLE: dict[str, dict[str, Fraction]] = {
    "length": {
        "m": _f("1"),
        "km": _f("1000"),
        "cm": _f("0.01"),
        "mm": _f("0.001"),
        "um": _f("1e-6"),
        "nm": _f("1e-9"),
        "mi": _f("1609.344"),
        "yd": _f("0.9144"),
        "ft": _f("0.3048"),
        "in": _f("0.0254"),
        "nmi": _f("1852"),
        "au": _f("149597870700"),
        "ly": _f("9460730472580800"),
    },
    "mass": {
        "kg": _f("1"),
        "g": _f("0.001"),
        "mg": _f("1e-6"),
        "ug": _f("1e-9"),
        "t": _f("1000"),
        "lb": _f("0.45359237"),
        "oz": _f("0.028349523125"),
        "st": _f("6.35029318"),
        "short_ton": _f("907.18474"),
        "long_ton": _f("1016.0469088"),
    },
    "time": {
        "s": _f("1"),
        "ms": _f("0.001"),
        "us": _f("1e-6"),
        "ns": _f("1e-9"),
        "min": _f("60"),
        "h": _f("3600"),
        "d": _f("86400"),
        "wk": _f("604800"),
        "yr": _f("31557600"),
    },
    "area": {
        "m2": _f("1"),
        "km2": _f("1e6"),
        "cm2": _f("1e-4"),
        "mm2": _f("1e-6"),
        "ha": _f("1e4"),
        "acre": _f("4046.8564224"),
        "ft2": _f("0.09290304"),
        "in2": _f("0.00064516"),
        "yd2": _f("0.83612736"),
        "mi2": _f("2589988.110336"),
    },
    "volume": {
        "m3": _f("1"),
        "L": _f("0.001"),
        "dL": _f("1e-4"),
        "cL": _f("1e-5"),
        "mL": _f("1e-6"),
        "cm3": _f("1e-6"),
        "mm3": _f("1e-9"),
        "ft3": _f("0.028316846592"),
        "in3": _f("0.000016387064"),
        "gal": _f("0.003785411784"),
        "qt": _f("0.000946352946"),
        "pt": _f("0.000473176473"),
        "cup": _f("0.0002365882365"),
        "fl_oz": _f("0.0000295735295625"),
        "tbsp": _f("0.00001478676478125"),
        "tsp": _f("0.00000492892159375"),
        "imp_gal": _f("0.00454609"),
        "imp_pt": _f("0.00056826125"),
        "imp_fl_oz": _f("0.0000284130625"),
        "bbl": _f("0.158987294928"),
    },
    "speed": {
        "m/s": _f("1"),
        "km/h": Fraction(1000, 3600),
        "mph": _f("0.44704"),
        "kn": Fraction(1852, 3600),
        "ft/s": _f("0.3048"),
    },
    "data": {
        "bit": Fraction(1, 8),
        "B": _f("1"),
        "kB": _f("1e3"),
        "MB": _f("1e6"),
        "GB": _f("1e9"),
        "TB": _f("1e12"),
        "PB": _f("1e15"),
        "KiB": Fraction(2**10),
        "MiB": Fraction(2**20),
        "GiB": Fraction(2**30),
        "TiB": Fraction(2**40),
        "PiB": Fraction(2**50),
        "kbit": _f("125"),
        "Mbit": _f("125e3"),
        "Gbit": _f("125e6"),
        "Tbit": _f("125e9"),
        "Kibit": Fraction(2**10, 8),
        "Mibit": Fraction(2**20, 8),
        "Gibit": Fraction(2**30, 8),
    },
    "pressure": {
        "Pa": _f("1"),
        "hPa": _f("100"),
        "kPa": _f("1000"),
        "MPa": _f("1e6"),
        "bar": _f("1e5"),
        "mbar": _f("100"),
        "atm": _f("101325"),
        "psi": _f("0.45359237") * _f("9.80665") / (_f("0.0254") ** 2),
        "mmHg": _f("133.322387415"),
        "inHg": _f("3386.389"),
        "torr": Fraction(101325, 760),
    },
    "energy": {
        "J": _f("1"),
        "kJ": _f("1000"),
        "MJ": _f("1e6"),
        "cal": _f("4.184"),
        "kcal": _f("4184"),
        "Wh": _f("3600"),
        "kWh": _f("3.6e6"),
        "eV": _f("1.602176634e-19"),
        "BTU": _f("1055.05585262"),
    },
    "power": {"W": _f("1"), "kW": _f("1000"), "MW": _f("1e6"), "hp": _f("745.69987158227022")},
    "angle": {
        "rad": _f("1"),
        "deg": _PI / 180,
        "grad": _PI / 200,
        "arcmin": _PI / 10800,
        "arcsec": _PI / 648000,
        "turn": 2 * _PI,
    },
    "frequency": {"Hz": _f("1"), "kHz": _f("1e3"), "MHz": _f("1e6"), "GHz": _f("1e9"), "rpm": Fraction(1, 60)},
    "temperature": {"C": _f("1"), "F": _f("1"), "K": _f("1"), "R": _f("1")},  # affine: see _to_kelvin
}

_UNIT_ALIASES: dict[str, str] = {
    # length
    "meter": "m",
    "meters": "m",
    "metre": "m",
    "metres": "m",
    "kilometer": "km",
    "kilometers": "km",
    "kilometre": "km",
    "kilometres": "km",
    "centimeter": "cm",
    "centimeters": "cm",
    "millimeter": "mm",
    "millimeters": "mm",
    "µm": "um",
    "micrometer": "um",
    "micron": "um",
    "nanometer": "nm",
    "mile": "mi",
    "miles": "mi",
    "yard": "yd",
    "yards": "yd",
    "foot": "ft",
    "feet": "ft",
    "inch": "in",
    "inches": "in",
    "nautical_mile": "nmi",
    "light_year": "ly",
    # mass
    "kilogram": "kg",
    "kilograms": "kg",
    "gram": "g",
    "grams": "g",
    "milligram": "mg",
    "milligrams": "mg",
    "µg": "ug",
    "microgram": "ug",
    "tonne": "t",
    "tonnes": "t",
    "metric_ton": "t",
    "pound": "lb",
    "pounds": "lb",
    "lbs": "lb",
    "ounce": "oz",
    "ounces": "oz",
    "stone": "st",
    # time
    "sec": "s",
    "second": "s",
    "seconds": "s",
    "millisecond": "ms",
    "milliseconds": "ms",
    "µs": "us",
    "microsecond": "us",
    "nanosecond": "ns",
    "minute": "min",
    "minutes": "min",
    "hr": "h",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "week": "wk",
    "weeks": "wk",
    "year": "yr",
    "years": "yr",
    # area
    "m²": "m2",
    "km²": "km2",
    "cm²": "cm2",
    "mm²": "mm2",
    "ft²": "ft2",
    "in²": "in2",
    "sq_ft": "ft2",
    "sq_m": "m2",
    "hectare": "ha",
    "hectares": "ha",
    "acres": "acre",
    # volume
    "m³": "m3",
    "cm³": "cm3",
    "cc": "cm3",
    "l": "L",
    "liter": "L",
    "liters": "L",
    "litre": "L",
    "litres": "L",
    "ml": "mL",
    "milliliter": "mL",
    "millilitre": "mL",
    "dl": "dL",
    "cl": "cL",
    "gallon": "gal",
    "gallons": "gal",
    "us_gal": "gal",
    "quart": "qt",
    "pint": "pt",
    "cups": "cup",
    "floz": "fl_oz",
    "fluid_ounce": "fl_oz",
    "tablespoon": "tbsp",
    "teaspoon": "tsp",
    "barrel": "bbl",
    "ft³": "ft3",
    "in³": "in3",
    # speed
    "mps": "m/s",
    "kph": "km/h",
    "kmh": "km/h",
    "knot": "kn",
    "knots": "kn",
    "fps": "ft/s",
    # data
    "bits": "bit",
    "byte": "B",
    "bytes": "B",
    "KB": "kB",
    "kilobyte": "kB",
    "megabyte": "MB",
    "gigabyte": "GB",
    "terabyte": "TB",
    "kibibyte": "KiB",
    "mebibyte": "MiB",
    "gibibyte": "GiB",
    "tebibyte": "TiB",
    "kbps": "kbit",
    "Mbps": "Mbit",
    "Gbps": "Gbit",
    # pressure / energy / power
    "pascal": "Pa",
    "atmosphere": "atm",
    "millibar": "mbar",
    "joule": "J",
    "joules": "J",
    "calorie": "cal",
    "kilocalorie": "kcal",
    "Cal": "kcal",
    "watt": "W",
    "watts": "W",
    "kilowatt": "kW",
    "horsepower": "hp",
    "btu": "BTU",
    # angle / frequency
    "radian": "rad",
    "radians": "rad",
    "degree": "deg",
    "degrees": "deg",
    "°": "deg",
    "gon": "grad",
    "hertz": "Hz",
    # temperature
    "°C": "C",
    "degC": "C",
    "celsius": "C",
    "°F": "F",
    "degF": "F",
    "fahrenheit": "F",
    "kelvin": "K",
    "rankine": "R",
    "°R": "R",
}


@functools.cache
def _unit_index() -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str] | None]]:
    """Exact spelling -> (category, unit), and lower-cased spelling -> same (None when ambiguous)."""
    exact: dict[str, tuple[str, str]] = {}
    for category, units in _UNIT_TABLE.items():
        for unit in units:
            exact[unit] = (category, unit)
    for alias, unit in _UNIT_ALIASES.items():
        exact.setdefault(alias, next((c, u) for c, us in _UNIT_TABLE.items() for u in us if u == unit))
    folded: dict[str, tuple[str, str] | None] = {}
    for spelling, target in exact.items():
        key = spelling.lower()
        if key in folded and folded[key] != target:
            folded[key] = None
        else:
            folded[key] = target
    return exact, folded


def _lookup_unit(name: str) -> tuple[str, str]:
    raw = name.strip().replace(" ", "_")
    exact, folded = _unit_index()
    if raw in exact:
        return exact[raw]
    hit = folded.get(raw.lower())
    if hit is None:
        raise ToolError(f"Unknown or ambiguous unit {name!r}. Known units: {_unit_catalogue()}.")
    return hit


def _unit_catalogue() -> str:
    return "; ".join(f"{category}: {' '.join(units)}" for category, units in _UNIT_TABLE.items())


def _to_kelvin(value: Fraction, unit: str) -> Fraction:
    if unit == "K":
        return value
    if unit == "C":
        return value + _f("273.15")
    if unit == "F":
        return (value - 32) * Fraction(5, 9) + _f("273.15")
    return value * Fraction(5, 9)  # Rankine


def _from_kelvin(kelvin: Fraction, unit: str) -> Fraction:
    if unit == "K":
        return kelvin
    if unit == "C":
        return kelvin - _f("273.15")
    if unit == "F":
        return (kelvin - _f("273.15")) * Fraction(9, 5) + 32
    return kelvin * Fraction(9, 5)


class ConvertUnitsResult(BaseModel):
    value: float = Field(description="Converted value (double precision)")
    from_unit: str = Field(description="Canonical source unit")
    to_unit: str = Field(description="Canonical target unit")
    category: str
    text: str = Field(description="Human-readable result, 12 significant digits, e.g. '2.54 cm'")


def convert_units(
    value: Annotated[float, Field(description="The quantity to convert", allow_inf_nan=False)],
    from_unit: Annotated[str, Field(max_length=32)],
    to_unit: Annotated[str, Field(max_length=32)],
) -> ConvertUnitsResult:
    """Convert a quantity between units of the same kind, using exact definitions (rational arithmetic)."""
    source_category, source = _lookup_unit(from_unit)
    target_category, target = _lookup_unit(to_unit)
    if source_category != target_category:
        raise ToolError(f"Cannot convert {source_category} ({source}) to {target_category} ({target}).")
    try:
        quantity = Fraction(repr(float(value)))
    except (ValueError, OverflowError):
        raise ToolError("The value must be a finite number.") from None
    if source_category == "temperature":
        kelvin = _to_kelvin(quantity, source)
        if kelvin < 0:
            raise ToolError("That temperature is below absolute zero.")
        converted = _from_kelvin(kelvin, target)
    else:
        units = _UNIT_TABLE[source_category]
        converted = quantity * units[source] / units[target]
    try:
        result = float(converted)
    except OverflowError:
        raise ToolError("The converted value is too large for a double-precision number.") from None
    shown = _format_number(result) if result.is_integer() and abs(result) < 1e15 else format(result, ".12g")
    return ConvertUnitsResult(
        value=result, from_unit=source, to_unit=target, category=source_category, text=f"{shown} {target}"
    )


convert_units.__doc__ = (
    f"{convert_units.__doc__}\n\n"
    "Units (case-insensitive where unambiguous; common names like 'miles', 'liters', 'celsius' also work): "
    f"{_unit_catalogue()}. Temperature: C F K R (absolute values, not differences). US customary volumes "
    "(gal, qt, pt, cup, fl_oz) unless prefixed imp_. Data: kB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024; "
    "bit units end in 'bit'. yr is the Julian year (365.25 d)."
)


# --------------------------------------------------------------------------------------
# JSON query (JMESPath with a work and size budget)
# --------------------------------------------------------------------------------------


class _LimitError(Exception):
    pass


class _NonFiniteError(Exception):
    pass


class _Budget:
    def __init__(self) -> None:
        self.visits = 0
        self.deadline = _time.monotonic() + JSON_QUERY_SECONDS
        self._weights: dict[int, tuple[Any, int]] = {}

    def tick(self) -> None:
        self.visits += 1
        if self.visits > MAX_JSON_VISITS:
            raise _LimitError("the query does too much work")
        if self.visits & 1023 == 0 and _time.monotonic() > self.deadline:
            raise _LimitError(f"the query ran longer than {JSON_QUERY_SECONDS:g} s")

    def weight(self, value: Any) -> int:
        """Approximate serialized size, counting every repeated reference in full."""
        if isinstance(value, str):
            return len(value) + 2
        if not isinstance(value, list | dict):
            if isinstance(value, float) and not math.isfinite(value):
                raise _NonFiniteError
            return 8
        cached = self._weights.get(id(value))
        if cached is not None and cached[0] is value:
            return cached[1]
        if isinstance(value, list):
            total = 2 + sum(self.weight(item) + 1 for item in value)
        else:
            total = 2 + sum(len(str(key)) + 4 + self.weight(item) for key, item in value.items())
        self._weights[id(value)] = (value, total)  # keep value alive so its id cannot be reused
        if total > MAX_JSON_WEIGHT:
            raise _LimitError(f"a value would exceed {MAX_JSON_WEIGHT:,} characters")
        return total


class _SafeFunctions(jmespath.functions.Functions):
    """JMESPath built-ins, with the one that can build strings from nothing bounded."""

    @jmespath.functions.signature({"types": ["string"]}, {"types": ["array-string"]})
    def _func_join(self, separator: str, array: list[str]) -> str:
        size = sum(len(item) for item in array) + len(separator) * max(len(array) - 1, 0)
        if size > MAX_JSON_WEIGHT:
            raise _LimitError(f"join() would build more than {MAX_JSON_WEIGHT:,} characters")
        return separator.join(array)


class _SafeInterpreter(jmespath.visitor.TreeInterpreter):
    def __init__(self, budget: _Budget) -> None:
        super().__init__(jmespath.visitor.Options(custom_functions=_SafeFunctions()))
        self._budget = budget

    def visit(self, node: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        self._budget.tick()
        result = super().visit(node, *args, **kwargs)
        if isinstance(result, list | dict):
            self._budget.weight(result)
        return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class JsonQueryResult(BaseModel):
    result: Any = Field(description="The selected JSON value (null when nothing matched)")
    type: Literal["object", "array", "string", "number", "boolean", "null"]


def json_query(
    document: Annotated[
        dict[str, Any] | list[Any] | str,
        Field(description="The JSON document: an object or array, or a string containing JSON text."),
    ],
    expression: Annotated[
        str,
        Field(
            max_length=MAX_EXPRESSION_CHARS,
            description="JMESPath expression, e.g. 'items[?price > `10`].name', 'length(users)', "
            "'sort_by(people, &age)[-1].name', 'users[*].{id: id, email: contact.email}'.",
        ),
    ],
) -> JsonQueryResult:
    """Extract, filter, project or reshape data from a JSON document with a JMESPath expression.

    Use this to pull exact values out of large JSON instead of reading it by eye. Syntax:
    'a.b.c' fields, 'a[0]' / 'a[-1]' index, 'a[1:3]' slice, 'a[*].b' projection, 'a[]' flatten,
    'a[?x == `1`]' filter (JSON literals in backticks, strings in single quotes: `a[?name == 'Bo']`),
    '{k: a, n: b}' reshape, '|' pipe, functions such as length, keys, values, sort_by, max_by,
    min_by, sum, avg, contains, starts_with, join, to_number, to_string. Missing data gives null.
    """
    if isinstance(document, str):
        if len(document) > MAX_TEXT_CHARS:
            raise ToolError(f"The JSON text is longer than {MAX_TEXT_CHARS:,} characters.")
        try:
            data = json.loads(document, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise ToolError(f"The document is not valid JSON: {exc}") from None
    else:
        data = document
    budget = _Budget()
    try:
        budget.weight(data)
    except _LimitError:
        raise ToolError(f"The document is larger than {MAX_JSON_WEIGHT:,} characters.") from None
    except _NonFiniteError:
        raise ToolError("The document is not valid JSON: NaN and Infinity are not allowed.") from None
    except RecursionError:
        raise ToolError("The document is nested too deeply.") from None
    try:
        parsed = jmespath.compile(expression)
        result = _SafeInterpreter(budget).visit(parsed.parsed, data)
        budget.weight(result)
    except jmespath.exceptions.JMESPathError as exc:
        raise ToolError(f"JMESPath error: {exc}") from None
    except _LimitError as exc:
        raise ToolError(f"Query stopped: {exc}.") from None
    except _NonFiniteError:
        raise ToolError("The result contains a number too large for JSON (Infinity or NaN).") from None
    except RecursionError:
        raise ToolError("The expression or document is nested too deeply.") from None
    except (TypeError, ValueError) as exc:
        raise ToolError(f"The expression cannot be applied to this data: {exc}") from None
    return JsonQueryResult(result=result, type=_json_type(result))


# --------------------------------------------------------------------------------------
# Text utilities
# --------------------------------------------------------------------------------------

_WORD_RE = re.compile("\\w+(?:['\u2019\\-]\\w+)*")
_SENTENCE_END_RE = re.compile("[.!?\u3002\uff01\uff1f]+(?=\\s|$)")
_PARAGRAPH_SPLIT_RE = re.compile(r"\n\s*\n")


class TextStatsResult(BaseModel):
    characters: int = Field(description="Unicode code points")
    characters_no_whitespace: int
    bytes_utf8: int
    words: int
    unique_words: int = Field(description="Distinct words, case-insensitive")
    lines: int
    sentences: int = Field(description="Approximate: runs of . ! ? followed by whitespace or the end")
    paragraphs: int = Field(description="Blocks separated by blank lines")
    longest_line: int = Field(description="Length of the longest line in characters")
    tokens_estimate: int = Field(description="Rough LLM token count (about 4 characters or 0.75 words per token)")


def text_stats(text: Text) -> TextStatsResult:
    """Count characters, bytes, words, lines, sentences and paragraphs of a text, and estimate tokens.

    Use this for exact lengths (e.g. to respect a character limit); models cannot count reliably.
    """
    words = _WORD_RE.findall(text)
    lines = text.splitlines()
    stripped = text.strip()
    ends = list(_SENTENCE_END_RE.finditer(stripped))
    sentences = len(ends)
    if stripped[ends[-1].end() if ends else 0 :].strip():
        sentences += 1  # trailing text without a terminator
    return TextStatsResult(
        characters=len(text),
        characters_no_whitespace=sum(1 for ch in text if not ch.isspace()),
        bytes_utf8=len(text.encode("utf-8", "surrogatepass")),
        words=len(words),
        unique_words=len({word.casefold() for word in words}),
        lines=len(lines),
        sentences=sentences,
        paragraphs=len([p for p in _PARAGRAPH_SPLIT_RE.split(stripped) if p.strip()]) if stripped else 0,
        longest_line=max((len(line) for line in lines), default=0),
        tokens_estimate=max(math.ceil(len(text) / 4), math.ceil(len(words) / 0.75)) if text else 0,
    )


def _decode_input(data: str, encoding: str) -> bytes:
    try:
        if encoding == "utf-8":
            return data.encode("utf-8")
        if encoding == "hex":
            return bytes.fromhex(data)
        return b64.b64decode(_pad_base64(data.strip()).replace("-", "+").replace("_", "/"), validate=True)
    except UnicodeEncodeError:
        raise ToolError("The text contains unpaired surrogates and cannot be encoded as UTF-8.") from None
    except (ValueError, binascii.Error) as exc:
        raise ToolError(f"The input is not valid {encoding}: {exc}") from None


def _pad_base64(data: str) -> str:
    data = "".join(data.split())
    return data + "=" * (-len(data) % 4)


HashAlgorithm = Literal[
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_512", "blake2b", "blake2s"
]


class HashResult(BaseModel):
    algorithm: str
    hmac: bool = Field(description="True when this is an HMAC with the given key")
    hex: str = Field(description="Digest, lowercase hexadecimal")
    base64: str = Field(description="Digest, standard base64")
    input_bytes: int


def hash_text(
    data: Annotated[str, Field(max_length=MAX_TEXT_CHARS * 2, description="The data to hash")],
    algorithm: HashAlgorithm = "sha256",
    input_encoding: Annotated[
        Literal["utf-8", "hex", "base64"],
        Field(description="How 'data' encodes the bytes to hash: UTF-8 text (default), hex, or base64"),
    ] = "utf-8",
    hmac_key: Annotated[
        str | None, Field(max_length=4096, description="If given, compute an HMAC keyed with this UTF-8 string")
    ] = None,
) -> HashResult:
    """Compute a cryptographic hash (or HMAC) of text or bytes: sha256, sha1, md5, sha512, sha3, blake2.

    Text is hashed as its UTF-8 bytes exactly as given (no trailing newline is added).
    """
    payload = _decode_input(data, input_encoding)
    if len(payload) > MAX_TEXT_CHARS * 2:
        raise ToolError("The input is too large.")
    if hmac_key is not None:
        digest = hmac.new(hmac_key.encode("utf-8"), payload, algorithm).digest()
    else:
        digest = hashlib.new(algorithm, payload).digest()
    return HashResult(
        algorithm=algorithm,
        hmac=hmac_key is not None,
        hex=digest.hex(),
        base64=b64.b64encode(digest).decode("ascii"),
        input_bytes=len(payload),
    )


class Base64Result(BaseModel):
    result: str
    result_encoding: Literal["base64", "utf-8", "hex"] = Field(
        description="'base64' after encoding; after decoding 'utf-8' when the bytes are valid UTF-8 text, else 'hex'"
    )
    byte_length: int = Field(description="Number of raw (decoded) bytes")


def base64(
    operation: Literal["encode", "decode"],
    data: Annotated[
        str,
        Field(
            max_length=MAX_TEXT_CHARS * 2,
            description="encode: UTF-8 text (or hex when input_encoding='hex'); decode: base64 text",
        ),
    ],
    url_safe: Annotated[
        bool, Field(description="encode: use the URL-safe alphabet (- and _) instead of + and /")
    ] = False,
    padding: Annotated[bool, Field(description="encode: keep trailing '=' padding")] = True,
    input_encoding: Annotated[
        Literal["utf-8", "hex"], Field(description="encode: how 'data' represents the bytes to encode")
    ] = "utf-8",
) -> Base64Result:
    """Encode bytes/text to base64, or decode base64 (standard or URL-safe, padding optional) to text.

    Decoding returns UTF-8 text when the bytes are valid UTF-8, otherwise their hex form.
    """
    if operation == "encode":
        raw = _decode_input(data, input_encoding)
        encoded = (b64.urlsafe_b64encode(raw) if url_safe else b64.b64encode(raw)).decode("ascii")
        if not padding:
            encoded = encoded.rstrip("=")
        return Base64Result(result=encoded, result_encoding="base64", byte_length=len(raw))
    raw = _decode_input(data, "base64")
    try:
        return Base64Result(result=raw.decode("utf-8"), result_encoding="utf-8", byte_length=len(raw))
    except UnicodeDecodeError:
        return Base64Result(result=raw.hex(), result_encoding="hex", byte_length=len(raw))


class UuidResult(BaseModel):
    version: int
    uuids: list[str]


def _uuid7() -> _uuid.UUID:
    """RFC 9562 version 7: 48-bit Unix milliseconds, then random bits."""
    millis = _time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return _uuid.UUID(int=value)


def uuid(
    version: Annotated[
        Literal[4, 7], Field(description="4: fully random; 7: time-ordered (sortable by creation time)")
    ] = 4,
    count: Annotated[int, Field(ge=1, le=MAX_UUIDS)] = 1,
) -> UuidResult:
    """Generate random UUIDs (version 4, or time-ordered version 7) from a cryptographic random source.

    Version 7 UUIDs from one call are returned in ascending order.
    """
    if version == 4:
        values = [str(_uuid.uuid4()) for _ in range(count)]
    else:
        values = [str(u) for u in sorted((_uuid7() for _ in range(count)), key=lambda u: u.int)]
    return UuidResult(version=version, uuids=values)


# --------------------------------------------------------------------------------------
# Regular expressions
# --------------------------------------------------------------------------------------

RegexFlag = Literal["IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE", "ASCII"]
_RE_FLAGS = {
    "IGNORECASE": re.IGNORECASE,
    "MULTILINE": re.MULTILINE,
    "DOTALL": re.DOTALL,
    "VERBOSE": re.VERBOSE,
    "ASCII": re.ASCII,
}
_REGEX_FLAGS = {
    "IGNORECASE": regex.IGNORECASE,
    "MULTILINE": regex.MULTILINE,
    "DOTALL": regex.DOTALL,
    "VERBOSE": regex.VERBOSE,
    "ASCII": regex.ASCII,
}
_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, getattr(sre_constants, "POSSESSIVE_REPEAT", None)}

PatternText = Annotated[
    str,
    Field(max_length=MAX_SHORT_CHARS, description="Regular expression in Python 're' syntax"),
]
FlagList = Annotated[list[RegexFlag], Field(max_length=5, description="Regex flags, e.g. ['IGNORECASE']")]


def _pattern_cost(items: Any, multiplier: int) -> int:
    """Nodes the matcher may unroll: counted repeats multiply what they contain."""
    cost = 0
    for op, av in items:
        if op in _REPEATS:
            low, high, sub = av
            count = high if high != sre_constants.MAXREPEAT else low
            cost += 1 + _pattern_cost(sub, multiplier * max(count, 1))
        else:
            cost += multiplier
            children = av if isinstance(av, tuple | list) else (av,)
            for child in children:
                if isinstance(child, sre_parser.SubPattern):
                    cost += _pattern_cost(child, multiplier)
                elif isinstance(child, list):
                    cost += sum(_pattern_cost(c, multiplier) for c in child if isinstance(c, sre_parser.SubPattern))
        if cost > MAX_REGEX_COST:
            break
    return cost


def _compile(pattern: str, flags: list[RegexFlag]) -> regex.Pattern[str]:
    """Validate with the stdlib parser (Python 're' syntax only, and a cheap size check), then compile
    with the `regex` engine, whose matching honours a timeout; it unrolls counted repeats at compile
    time, so patterns like ((a{100}){100}){100} must be refused before they reach it."""
    re_flags = 0
    regex_flags = regex.VERSION0
    for flag in flags:
        re_flags |= _RE_FLAGS[flag]
        regex_flags |= _REGEX_FLAGS[flag]
    try:
        parsed = sre_parser.parse(pattern, re_flags)
    except re.error as exc:
        raise ToolError(f"Invalid regular expression: {exc}") from None
    except RecursionError:
        raise ToolError("Invalid regular expression: nested too deeply.") from None
    if _pattern_cost(parsed, 1) > MAX_REGEX_COST:
        raise ToolError("The pattern's counted repetitions are too large (e.g. nested {n} quantifiers).")
    try:
        return regex.compile(pattern, regex_flags)
    except (regex.error, ValueError, OverflowError) as exc:
        raise ToolError(f"Invalid regular expression: {exc}") from None


class RegexMatch(BaseModel):
    match: str
    start: int = Field(description="Start offset in characters (code points)")
    end: int
    groups: list[str | None] = Field(description="Numbered capture groups 1..n (null when a group did not take part)")
    named_groups: dict[str, str | None]


class RegexFindResult(BaseModel):
    count: int = Field(description="Number of matches returned")
    truncated: bool = Field(description="True when more matches exist beyond max_matches")
    matches: list[RegexMatch]


def regex_find(
    pattern: PatternText,
    text: Text,
    flags: FlagList = [],  # noqa: B006 - never mutated; a list default gives a clear schema
    max_matches: Annotated[int, Field(ge=1, le=MAX_REGEX_MATCHES)] = 100,
) -> RegexFindResult:
    """Find all non-overlapping matches of a regular expression in a text, with positions and groups.

    Python 're' syntax ((?P<name>...) named groups, lookarounds, \\d \\w \\s \\b, etc.).
    Matching is stopped after 1 second (a tool error) to guard against catastrophic backtracking.
    """
    compiled = _compile(pattern, flags)
    matches: list[RegexMatch] = []
    truncated = False
    try:
        for found in compiled.finditer(text, concurrent=True, timeout=REGEX_SECONDS):
            if len(matches) == max_matches:
                truncated = True
                break
            matches.append(
                RegexMatch(
                    match=found.group(0),
                    start=found.start(),
                    end=found.end(),
                    groups=list(found.groups()),
                    named_groups=found.groupdict(),
                )
            )
    except TimeoutError:
        raise ToolError(
            f"Matching took longer than {REGEX_SECONDS:g} s (catastrophic backtracking?). Simplify the pattern, "
            "e.g. avoid nested quantifiers like (a+)+."
        ) from None
    return RegexFindResult(count=len(matches), truncated=truncated, matches=matches)


class RegexReplaceResult(BaseModel):
    result: str
    replacements: int


def regex_replace(
    pattern: PatternText,
    replacement: Annotated[
        str,
        Field(max_length=MAX_SHORT_CHARS, description="Replacement template: \\1 or \\g<1> or \\g<name> insert groups"),
    ],
    text: Text,
    flags: FlagList = [],  # noqa: B006 - never mutated; a list default gives a clear schema
    count: Annotated[int, Field(ge=0, le=MAX_TEXT_CHARS, description="Maximum replacements; 0 means all")] = 0,
) -> RegexReplaceResult:
    """Replace matches of a regular expression in a text (Python 're' syntax and replacement templates).

    Matching is stopped after 1 second (a tool error) to guard against catastrophic backtracking.
    """
    compiled = _compile(pattern, flags)
    produced = 0

    def expand(found: regex.Match[str]) -> str:
        nonlocal produced
        piece = found.expand(replacement)
        produced += len(piece)
        if produced > MAX_REGEX_OUTPUT_CHARS:
            raise _LimitError
        return piece

    try:
        result, replaced = compiled.subn(expand, text, count=count, concurrent=True, timeout=REGEX_SECONDS)
    except TimeoutError:
        raise ToolError(
            f"Matching took longer than {REGEX_SECONDS:g} s (catastrophic backtracking?). Simplify the pattern."
        ) from None
    except _LimitError:
        raise ToolError(f"The replacements would produce more than {MAX_REGEX_OUTPUT_CHARS:,} characters.") from None
    except (regex.error, IndexError) as exc:
        raise ToolError(f"Invalid replacement template: {exc}") from None
    if len(result) > MAX_REGEX_OUTPUT_CHARS:
        raise ToolError(f"The result would be longer than {MAX_REGEX_OUTPUT_CHARS:,} characters.")
    return RegexReplaceResult(result=result, replacements=replaced)


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------

_TOOLS: list[tuple[Callable[..., Any], str, bool]] = [
    (now, "Current time", False),
    (convert_time, "Convert time between zones", True),
    (date_diff, "Difference between dates", True),
    (add_duration, "Add a duration to a date", True),
    (calculate, "Calculator", True),
    (convert_units, "Convert units", True),
    (json_query, "Query JSON (JMESPath)", True),
    (text_stats, "Text statistics", True),
    (hash_text, "Hash text", True),
    (base64, "Base64 encode/decode", True),
    (uuid, "Generate UUIDs", False),
    (regex_find, "Find regex matches", True),
    (regex_replace, "Regex replace", True),
]


def create_server() -> MCPServer:
    """Build a fresh ``essentials`` MCP server (stateless; one per mount is fine)."""
    server = MCPServer(
        PACK_NAME,
        title="Essentials",
        version="1.0.0",
        instructions=(
            "Exact, offline helpers: current time and time-zone conversion, date arithmetic, a calculator, "
            "unit conversion, JSON querying (JMESPath), text statistics, hashing, base64, UUIDs and regular "
            "expressions. Prefer these over estimating such results yourself."
        ),
    )
    for fn, title, idempotent in _TOOLS:
        server.add_tool(
            fn,
            name=fn.__name__,
            title=title,
            description=_describe(fn),
            annotations=_annotations(title, idempotent=idempotent),
            structured_output=True,
        )
    return server


def _describe(fn: Callable[..., Any]) -> str:
    """The docstring, dedented, as the tool description."""
    return inspect.cleandoc(fn.__doc__ or "")
