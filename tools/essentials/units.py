"""The ``convert_units`` tool: exact unit conversion over rational factors."""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from .calculate import _format_number


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
