"""The essentials pack's convert_units tool."""

from __future__ import annotations

import pytest

from tests.tools.essentials_helpers import fails, ok

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
