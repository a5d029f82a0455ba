"""The essentials pack's calculate tool: values, rejections, bounds."""

from __future__ import annotations

import pytest

from tests.tools.essentials_helpers import fails, ok

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
