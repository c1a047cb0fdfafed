"""Declared options of a plug-in: name, type, default (possibly derived from the budget) and one line of help.

A plug-in lists its ``Option``s in one place; ``resolve_options`` turns what a user gave (Python values, the CLI's
``KEY=VALUE`` text, a config file's YAML values) into typed values with defaults filled in, and names the option and
the plug-in's known options in every error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
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
        if value is None:
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
