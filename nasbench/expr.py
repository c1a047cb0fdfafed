"""Safe arithmetic on template variables: the values of op arguments such as ``out: 2*C`` or ``stride: s``."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Mapping

from nasbench.errors import GenomeError

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
MAX_EXPONENT = 64
MAX_MAGNITUDE = 10**100  # far above any width or size; keeps every later formatting and float conversion safe
_FUNCTIONS = {"max": max, "min": min, "round": round, "ceil": math.ceil, "floor": math.floor, "int": int}


def evaluate(text: str, variables: Mapping[str, float], field: str) -> float:
    """Evaluate an arithmetic expression over ``variables``; errors name ``field``."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise GenomeError(field, f"cannot parse expression {text!r}") from None
    return _real(_eval(tree.body, variables, field, text), field, text)


def _eval(node: ast.AST, variables: Mapping[str, float], field: str, text: str) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in variables:
            known = ", ".join(sorted(variables)) or "none"
            raise GenomeError(field, f"unknown variable {node.id!r} in {text!r} (variables: {known})")
        return variables[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _eval(node.left, variables, field, text)
        right = _eval(node.right, variables, field, text)
        # A huge integer power (10**10**10) would take forever to compute: no genome needs such a number.
        if isinstance(node.op, ast.Pow) and abs(left) > 1 and abs(right) > MAX_EXPONENT:
            raise GenomeError(field, f"{text!r}: exponent too large (at most {MAX_EXPONENT})")
        try:
            return _real(_BINARY[type(node.op)](left, right), field, text)
        except (ZeroDivisionError, OverflowError) as exc:
            raise GenomeError(field, f"{text!r}: {exc}") from None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand, variables, field, text)
        return -value if isinstance(node.op, ast.USub) else value
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        values = [_eval(arg, variables, field, text) for arg in node.args]
        try:
            return _real(_FUNCTIONS[node.func.id](*values), field, text)
        except (TypeError, ValueError, OverflowError) as exc:
            raise GenomeError(field, f"{text!r}: {exc}") from None
    raise GenomeError(field, f"unsupported expression {text!r}")


def _real(value: object, field: str, text: str) -> float:
    """``value`` if it is a real number of sane size; a negative base to a fractional power gives a complex one."""
    if not isinstance(value, (int, float)):
        raise GenomeError(field, f"{text!r} is not a real number")
    if abs(value) > MAX_MAGNITUDE:
        raise GenomeError(field, f"{text!r} is too large")
    return value


def resolve_int(value: object, variables: Mapping[str, float], field: str) -> int:
    """An integer argument: a literal int or an expression that evaluates to a whole number."""
    if isinstance(value, bool):
        raise GenomeError(field, f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return int(_real(value, field, repr(value)))
    if isinstance(value, float):
        number = value
    elif isinstance(value, str):
        number = evaluate(value, variables, field)
    else:
        raise GenomeError(field, f"expected an integer or an expression, got {type(value).__name__}")
    if isinstance(number, float):
        if not math.isfinite(number) or number != int(number):
            raise GenomeError(field, f"{value!r} = {number} is not a whole number")
        number = int(number)
    return int(number)


def resolve_float(value: object, variables: Mapping[str, float], field: str) -> float:
    """A real-valued argument: a literal number or an expression."""
    if isinstance(value, bool):
        raise GenomeError(field, f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(_real(value, field, repr(value)))
    if isinstance(value, str):
        return float(evaluate(value, variables, field))
    raise GenomeError(field, f"expected a number or an expression, got {type(value).__name__}")
