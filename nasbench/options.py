"""Declared options of a plug-in: name, type, default (possibly derived from the budget) and one line of help.

A plug-in lists its ``Option``s in one place; ``resolve_options`` turns what a user gave (Python values, the CLI's
``KEY=VALUE`` text, a config file's YAML values) into typed values with defaults filled in, and names the option and
the plug-in's known options in every error. A plug-in whose constructor is its declaration (evaluators, executors)
gets its options from the constructor's keyword parameters and type hints (``signature_options``), so that
``--executor-option workers=2`` arrives as the integer 2 and ``workers=two`` is a one-line error.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasbench.errors import NasbenchError

_TYPE_NAMES = {int: "an integer", float: "a number", str: "text", bool: "true or false"}
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


@dataclass(frozen=True)
class Option:
    """One option: ``default`` is a value, or ``derive(budget)`` computes it (``derived`` says how, for the listing).

    ``choices`` restricts the value; ``minimum`` bounds a number from below; ``check`` validates or normalizes a
    value further (it raises NasbenchError or ValueError) and its result is what the plug-in receives.
    """

    name: str
    type: type
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    derive: Callable[[int | None], Any] | None = None
    derived: str = ""
    check: Callable[[Any], Any] | None = None
    optional: bool = False

    def default_for(self, budget: int | None) -> Any:
        """The default value for a search of ``budget`` evaluations."""
        return self.derive(budget) if self.derive is not None else self.default

    def shown_default(self) -> str:
        """The default as the listing shows it."""
        if self.derive is not None:
            return self.derived or "derived from the budget"
        return "none" if self.default is None else str(self.default)

    def coerce(self, value: Any, owner: str) -> Any:
        """``value`` as this option's type (text from the command line is parsed); errors name the option."""
        where = f"{owner}: option {self.name!r}"
        if value is None or (self.optional and isinstance(value, str) and value.strip().lower() in _NONE):
            return None
        typed = _convert(value, self.type)
        if typed is _INVALID:
            raise NasbenchError(f"{where} expects {_TYPE_NAMES.get(self.type, self.type.__name__)}, got {value!r}")
        if self.choices and typed not in self.choices:
            raise NasbenchError(f"{where} must be one of {', '.join(map(str, self.choices))}, got {typed!r}")
        if self.minimum is not None and typed < self.minimum:
            raise NasbenchError(f"{where} must be at least {self.minimum:g}, got {typed!r}")
        if self.check is not None:
            try:
                typed = self.check(typed)
            except (ValueError, NasbenchError) as error:
                raise NasbenchError(f"{where}: {error}") from None
        return typed

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description: name, type, default, help (and choices)."""
        row = {"name": self.name, "type": self.type.__name__, "default": self.shown_default(), "help": self.help}
        if self.choices:
            row["choices"] = list(self.choices)
        return row


_INVALID = object()
_NONE = {"none", "null"}
_SCALARS = (bool, int, float, str)


def signature_options(factory: Callable[..., Any], skip: int = 0) -> tuple[Option, ...]:
    """Options from ``factory``'s keyword parameters (after ``skip`` positional ones) and their type hints.

    A parameter annotated with one scalar type (``int``, ``float``, ``str``, ``bool``, ``Path`` as text), optionally
    ``| None``, becomes an Option of that type; others (``**kwargs``, containers) are left to the factory.
    """
    target = factory.__init__ if inspect.isclass(factory) else factory  # type: ignore[misc]
    try:
        hints = typing.get_type_hints(target)
        parameters = list(inspect.signature(factory).parameters.values())[skip:]
    except (NameError, TypeError, ValueError):
        return ()
    declared = []
    for parameter in parameters:
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            continue
        kind, optional = _scalar(hints.get(parameter.name))
        if kind is None:
            continue
        default = None if parameter.default is inspect.Parameter.empty else parameter.default
        declared.append(Option(parameter.name, kind, default, optional=optional))
    return tuple(declared)


def _scalar(hint: Any) -> tuple[type | None, bool]:
    """(scalar type, whether None is allowed) of a type hint, or (None, False) for anything else."""
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
        else (hint,)
    optional = type(None) in args
    kinds = {str if arg is Path else arg for arg in args if arg is not type(None)}
    if len(kinds) == 1 and (kind := kinds.pop()) in _SCALARS:
        return kind, optional
    return None, False


def coerce_given(declared: Sequence[Option], given: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """``given`` with each value of a declared option coerced to its type (the others untouched)."""
    by_name = {option.name: option for option in declared}
    return {key: by_name[key].coerce(value, owner) if key in by_name else value for key, value in given.items()}


def _convert(value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        return True if text in _TRUE else False if text in _FALSE else _INVALID
    if kind is int:
        if isinstance(value, bool):
            return _INVALID
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value) if value.is_integer() else _INVALID
        try:
            return int(str(value).strip())
        except ValueError:
            return _INVALID
    if kind is float:
        if isinstance(value, bool):
            return _INVALID
        try:
            return float(value)
        except (TypeError, ValueError):
            return _INVALID
    if kind is str:
        return value if isinstance(value, str) else _INVALID if isinstance(value, (dict, list)) else str(value)
    return value if isinstance(value, kind) else _INVALID


def resolve_options(declared: Sequence[Option], given: Mapping[str, Any], owner: str,
                    budget: int | None = None) -> dict[str, Any]:
    """Every declared option's value: the given one (typed and checked) or its default for ``budget``."""
    by_name = {option.name: option for option in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise NasbenchError(f"{owner}: unknown option(s) {', '.join(unknown)} "
                            f"(options: {', '.join(by_name) or 'none'})")
    resolved = {}
    for name, option in by_name.items():
        if name in given and given[name] is not None:
            resolved[name] = option.coerce(given[name], owner)
        else:
            default = option.default_for(budget)
            resolved[name] = option.coerce(default, owner) if default is not None else None
    return resolved


def parse_assignments(items: Iterable[str], what: str = "--option") -> dict[str, str]:
    """``["KEY=VALUE", ...]`` -> ``{key: "value"}`` (dashes in keys become underscores)."""
    parsed: dict[str, str] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise NasbenchError(f"{what} expects KEY=VALUE, got {item!r}")
        parsed[key.strip().replace("-", "_")] = value.strip()
    return parsed
