"""Registry of search strategies by name (``random``, ``evolution``; later modules add more)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from nasbench.errors import NasbenchError
from search_spaces.base import SearchSpace
from strategies.base import Strategy

StrategyFactory = Callable[..., Strategy]
_STRATEGIES: dict[str, StrategyFactory] = {}
# Built-in strategies register themselves when their module is imported.
_BUILTIN_MODULES = ("strategies.random_search", "strategies.evolution")


def register_strategy(name: str) -> Callable[[StrategyFactory], StrategyFactory]:
    """Register a Strategy subclass (or a factory returning one) under ``name``."""

    def decorate(factory: StrategyFactory) -> StrategyFactory:
        if name in _STRATEGIES and _STRATEGIES[name] is not factory:
            raise ValueError(f"strategy {name!r} is already registered")
        _STRATEGIES[name] = factory
        return factory

    return decorate


def names() -> list[str]:
    """Names of the registered strategies."""
    _load_builtin()
    return sorted(_STRATEGIES)


def get(name: str, space: SearchSpace, **options: Any) -> Strategy:
    """Construct the strategy registered as ``name`` over ``space``; unknown names and options are NasbenchErrors."""
    _load_builtin()
    if name not in _STRATEGIES:
        raise NasbenchError(f"unknown strategy {name!r} (known: {', '.join(sorted(_STRATEGIES))})")
    try:
        return _STRATEGIES[name](space, **options)
    except TypeError as error:
        raise NasbenchError(f"strategy {name!r}: bad options {sorted(options)}: {error}") from None


def _load_builtin() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
