"""The ``calculate`` tool: a bounded arithmetic evaluator over a whitelist of syntax."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ._common import MAX_CALC_NODES, MAX_EXPRESSION_CHARS, MAX_INT_BITS

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
