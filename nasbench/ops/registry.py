"""The open op registry: an op is a builder, an output-shape rule and an analytic cost, registered by name.

Ops also declare facts about themselves (``Op.category``, ``Op.conv_like``, ``Op.preserves_width``), so that the
pictures and the graph mutations ask the registry (``ops_where``) instead of keeping lists of op names.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from torch import nn

from nasbench.errors import GenomeError, NasbenchError
from nasbench.expr import resolve_float, resolve_int
from nasbench.registry import Registry

Shape = tuple[int, ...]
REQUIRED: Any = object()
# PyTorch's kernels take 32/64-bit sizes; a larger stride or kernel would overflow there after validation passed.
MAX_INT = 2**31 - 1


class Cost(NamedTuple):
    """Analytic cost of one layer: trainable parameters and multiply-accumulates of one forward pass."""

    params: int
    macs: int


@dataclass(frozen=True)
class Arg:
    """Declaration of one op argument: its kind, default and constraints."""

    kind: str  # "int" | "pair" | "float" | "bool" | "choice"
    default: Any = REQUIRED
    choices: tuple[Any, ...] = ()
    minimum: float | None = None

    def resolve(self, value: Any, variables: Mapping[str, float], where: str) -> Any:
        """Turn a raw genome value (literal or expression) into a concrete value, or raise GenomeError."""
        if self.kind == "int":
            number = resolve_int(value, variables, where)
            self._check_min(number, where)
            if self.choices and number not in self.choices:
                raise GenomeError(where, f"expected one of {', '.join(map(str, self.choices))}, got {number}")
            return number
        if self.kind == "pair":
            if isinstance(value, (list, tuple)):
                if len(value) != 2:
                    raise GenomeError(where, f"expected an integer or a pair, got {len(value)} values")
                pair = tuple(resolve_int(v, variables, f"{where}[{i}]") for i, v in enumerate(value))
            else:
                number = resolve_int(value, variables, where)
                pair = (number, number)
            for number in pair:
                self._check_min(number, where)
            return pair
        if self.kind == "float":
            number = resolve_float(value, variables, where)
            if not math.isfinite(number):  # nan slips past every range check and fails only inside PyTorch
                raise GenomeError(where, f"expected a finite number, got {number}")
            self._check_min(number, where)
            return number
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise GenomeError(where, f"expected true or false, got {value!r}")
            return value
        if value not in self.choices:
            raise GenomeError(where, f"expected one of {', '.join(self.choices)}, got {value!r}")
        return value

    def _check_min(self, number: float, where: str) -> None:
        if self.minimum is not None and number < self.minimum:
            raise GenomeError(where, f"must be at least {self.minimum:g}, got {number:g}")
        if self.kind in ("int", "pair") and abs(number) > MAX_INT:
            raise GenomeError(where, f"must be at most {MAX_INT:,} in size, got {number:g}")


def Int(default: Any = REQUIRED, minimum: float | None = None, choices: tuple[int, ...] = ()) -> Arg:  # noqa: N802
    """An integer argument (literal or expression over cell variables), optionally restricted to ``choices``."""
    return Arg("int", default, choices=choices, minimum=minimum)


def Pair(default: Any = REQUIRED, minimum: float | None = None) -> Arg:  # noqa: N802
    """An integer or a pair of integers, e.g. a kernel size ``3`` or ``[1, 7]``."""
    return Arg("pair", default, minimum=minimum)


def Float(default: Any = REQUIRED, minimum: float | None = None) -> Arg:  # noqa: N802
    """A real-valued argument."""
    return Arg("float", default, minimum=minimum)


def Bool(default: Any = REQUIRED) -> Arg:  # noqa: N802
    """A boolean flag."""
    return Arg("bool", default)


def Choice(default: Any, *choices: str) -> Arg:  # noqa: N802
    """One of a fixed set of strings."""
    return Arg("choice", default, choices=choices)


class Op:
    """Base class of an op: declare ``args`` and implement ``output_shape``, ``cost`` and ``build``.

    ``shape`` is the input shape without the batch dimension, ``(C, H, W)`` for images or ``(F,)`` for features;
    ``a`` holds the resolved arguments, defaults filled in. The facts ``category``, ``conv_like`` and
    ``preserves_width`` tell the rest of the project (pictures, graph mutations) what the op is; a class declares
    them, ``register_op`` may override them for one registration, ``ops_where`` queries them.
    """

    args: Mapping[str, Arg] = {}
    dims: tuple[int, ...] = (3,)  # input ranks the op accepts
    category: str = "other"
    """What the op is in a picture of the network: ``conv``, ``pool``, ``head`` (a classifier's flatten or linear
    layer), ``plain`` (a small step such as an activation, a norm or a skip, drawn as a plain box) or ``other``."""
    conv_like: bool = False
    """A variant of the plain convolution (``conv``'s arguments: out, kernel, stride, padding, dilation, groups, ...):
    the graph mutations treat all of them as one layer type, whose kernel size and type they may change."""
    preserves_width: bool = False
    """Its output has its input's channel count whatever its arguments, so a width change passes through it."""

    def __init__(self, name: str, presets: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.presets = dict(presets or {})
        unknown = set(self.presets) - set(self.args)
        if unknown:
            raise ValueError(f"op {name!r}: presets for unknown arguments {sorted(unknown)}")
        self.signature = {
            key: Arg(arg.kind, self.presets.get(key, arg.default), arg.choices, arg.minimum)
            for key, arg in self.args.items()
        }

    @property
    def doc(self) -> str:
        """First line of the op's docstring."""
        return (inspect.getdoc(self) or "").splitlines()[0] if inspect.getdoc(self) else ""

    def resolve_args(self, raw: Mapping[str, Any], variables: Mapping[str, float], where: str) -> dict[str, Any]:
        """Validate and evaluate ``raw`` arguments; fill defaults; errors name the field."""
        unknown = [key for key in raw if key not in self.signature]
        if unknown:
            allowed = ", ".join(self.signature) or "none"
            raise GenomeError(f"{where}.{unknown[0]}", f"unknown argument of op {self.name!r} (allowed: {allowed})")
        resolved: dict[str, Any] = {}
        for key, arg in self.signature.items():
            if key in raw:
                resolved[key] = arg.resolve(raw[key], variables, f"{where}.{key}")
            elif arg.default is REQUIRED:
                raise GenomeError(f"{where}.{key}", f"missing required argument of op {self.name!r}")
            else:
                resolved[key] = arg.default if arg.kind != "pair" or arg.default is None else _as_pair(arg.default)
        return resolved

    def check_input(self, shape: Shape, where: str) -> None:
        """Raise GenomeError if the op cannot take an input of this rank."""
        if len(shape) not in self.dims:
            kinds = " or ".join("an image (C, H, W)" if d == 3 else "a feature vector (F,)" for d in self.dims)
            raise GenomeError(where, f"op {self.name!r} needs {kinds}, got shape {shape}")

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        """Output shape for an input of ``shape``."""
        raise NotImplementedError

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        """Analytic parameters and MACs for an input of ``shape``."""
        raise NotImplementedError

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        """The PyTorch module for an input of ``shape``."""
        raise NotImplementedError


def _as_pair(value: Any) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)  # type: ignore[return-value]


class _FunctionOp(Op):
    """An op declared by a builder function plus ``shape`` and ``cost`` callables."""

    def __init__(
        self,
        name: str,
        builder: Callable[[Shape, Mapping[str, Any]], nn.Module],
        shape_fn: Callable[[Shape, Mapping[str, Any]], Shape],
        cost_fn: Callable[[Shape, Mapping[str, Any]], Cost | tuple[int, int]],
        args: Mapping[str, Arg],
        dims: tuple[int, ...],
    ) -> None:
        self.args = dict(args)
        self.dims = dims
        self._builder, self._shape_fn, self._cost_fn = builder, shape_fn, cost_fn
        self.__doc__ = builder.__doc__
        super().__init__(name)

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        return tuple(self._shape_fn(shape, a))

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return Cost(*self._cost_fn(shape, a))

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return self._builder(shape, a)


REGISTRY: Registry[Op] = Registry("op")
FACTS = ("category", "conv_like", "preserves_width")
CATEGORIES = ("conv", "pool", "head", "plain", "other")


def _check_facts(what: str, facts: Mapping[str, Any]) -> None:
    unknown = sorted(set(facts) - set(FACTS))
    if unknown:
        raise TypeError(f"{what}: unknown fact(s) {', '.join(unknown)} (facts: {', '.join(FACTS)})")


def register_op(
    name: str,
    *,
    presets: Mapping[str, Any] | None = None,
    args: Mapping[str, Arg] | None = None,
    shape: Callable[[Shape, Mapping[str, Any]], Shape] | None = None,
    cost: Callable[[Shape, Mapping[str, Any]], Cost | tuple[int, int]] | None = None,
    dims: tuple[int, ...] = (3,),
    replace: bool = False,
    **facts: Any,
) -> Callable[[Any], Any]:
    """Register an op under ``name``.

    On an ``Op`` subclass: ``@register_op("conv_bn_relu", presets={"bn": True})`` (presets change defaults, so one class
    serves several names). On a builder function: ``@register_op("my_op", args={...}, shape=fn, cost=fn)``. Keyword
    ``facts`` (``category``, ``conv_like``, ``preserves_width``; see ``Op``) override the class's declarations, or
    declare them for a builder function.
    """
    _check_facts(f"register_op({name!r})", facts)

    def decorate(target: Any) -> Any:
        if inspect.isclass(target) and issubclass(target, Op):
            op = target(name, presets)
        elif callable(target):
            if shape is None or cost is None:
                raise ValueError(f"op {name!r}: a builder function needs shape= and cost=")
            op = _FunctionOp(name, target, shape, cost, args or {}, dims)
        else:
            raise TypeError(f"register_op({name!r}) decorates an Op subclass or a builder function")
        for fact, value in facts.items():
            setattr(op, fact, value)
        if op.category not in CATEGORIES:
            raise ValueError(f"op {name!r}: unknown category {op.category!r} (categories: {', '.join(CATEGORIES)})")
        REGISTRY.register(name, op, replace=replace)
        return target

    return decorate


def get_op(name: str, where: str = "op") -> Op:
    """The registered op called ``name``; an unknown name is a GenomeError naming ``where``."""
    try:
        return REGISTRY.get(name)
    except NasbenchError:
        raise GenomeError(where, f"unknown op {name!r}") from None


def op_names() -> list[str]:
    """Names of all registered ops."""
    return REGISTRY.names()


def ops_where(**facts: Any) -> list[str]:
    """Names of the registered ops whose facts have the given values, e.g. ``ops_where(preserves_width=True)``."""
    _check_facts("ops_where", facts)
    return [name for name, op in REGISTRY.items() if all(getattr(op, k) == v for k, v in facts.items())]
