"""One registry type for every kind of plug-in: ops, spaces, zoo networks, strategies, evaluators, executors, ...

A ``Registry`` maps a name to an entry (a class, a factory or a declaration object). Built-in entries live in modules
that register themselves when imported; the registry imports them on its first lookup, so that importing a package
stays light. Registering a second, different entry under a taken name is an error unless ``replace=True``;
registering the same entry again (a module imported twice) is harmless. A class registered under a name gets that name
as its ``name`` attribute, so a plug-in states its name once. ``create`` binds the options to the factory's signature
before calling it: an unknown or missing option is a one-line NasbenchError naming the known ones, while a
``TypeError`` raised inside the constructor propagates as the bug it is.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from nasbench.errors import NasbenchError
from nasbench.options import coerce_given, signature_options

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> entry for one kind of plug-in (``kind`` names it in error messages, e.g. "strategy")."""

    def __init__(self, kind: str, builtins: Sequence[str] = ()) -> None:
        self.kind = kind
        self.builtins = tuple(builtins)
        self._entries: dict[str, T] = {}
        self._loaded = not self.builtins
        self.version = 0  # bumped by every change, so that what was derived from the entries can tell it is stale

    def register(self, name: str, entry: T | None = None, *, replace: bool = False) -> Any:
        """Register ``entry`` under ``name``; without ``entry``, a decorator that registers what it decorates."""
        if entry is None:
            def decorate(target: T) -> T:
                self.register(name, target, replace=replace)
                return target

            return decorate
        if not name or not isinstance(name, str):
            raise ValueError(f"a {self.kind} needs a non-empty name, got {name!r}")
        known = self._entries.get(name)
        if known is not None and known is not entry and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered (pass replace=True to override)")
        if inspect.isclass(entry):
            entry.name = name  # type: ignore[attr-defined]
        if known is not entry:
            self._entries[name] = entry
            self.version += 1
        return entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests that register throw-away plug-ins clean up with it)."""
        if self._entries.pop(name, None) is not None:
            self.version += 1

    def load_builtins(self) -> None:
        """Import the modules of the built-in entries (once they all imported)."""
        if self._loaded:
            return
        for module in self.builtins:
            importlib.import_module(module)
        self._loaded = True

    def names(self) -> list[str]:
        """The registered names, sorted."""
        self.load_builtins()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self.load_builtins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs, sorted by name."""
        return [(name, self._entries[name]) for name in self.names()]

    def unknown(self, name: str) -> NasbenchError:
        """The error for an unknown ``name``: close matches first, then every known name."""
        known = self.names()
        close = difflib.get_close_matches(str(name), known, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        return NasbenchError(f"unknown {self.kind} {name!r} ({hint}known: {', '.join(known) or 'none'})")

    def get(self, name: str) -> T:
        """The entry registered as ``name``; an unknown name is a NasbenchError listing the known ones."""
        self.load_builtins()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise self.unknown(name) from None

    def create(self, name: str, *args: Any, **options: Any) -> Any:
        """Call the factory registered as ``name`` with ``args`` and ``options``.

        The options are bound to the factory's signature first, then coerced to the types its hints declare (text
        from a command line becomes numbers and flags), so that a wrong name or value is a one-line NasbenchError.
        """
        factory = self.get(name)
        what = f"{self.kind} {name!r}"
        bind_options(factory, what, *args, **options)
        typed = coerce_given(signature_options(factory, skip=len(args)), options, what)  # type: ignore[arg-type]
        return factory(*args, **typed)  # type: ignore[operator]


def bind_options(factory: Callable[..., Any], what: str, *args: Any, **options: Any) -> None:
    """Check that ``factory`` accepts ``args`` and ``options``; the error names the unknown or missing option."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin without a signature: let the call itself decide
        return
    try:
        signature.bind(*args, **options)
    except TypeError as error:
        accepted = [name for name, parameter in signature.parameters.items()
                    if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
                    and name != "self"][len(args):]
        unknown = sorted(set(options) - set(signature.parameters))
        reason = f"unknown option(s) {', '.join(unknown)}" if unknown else str(error)
        raise NasbenchError(f"{what}: {reason} (options: {', '.join(accepted) or 'none'})") from None
