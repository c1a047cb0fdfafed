"""The strategy registry: ``@STRATEGIES.register("name")`` on a Strategy subclass; built-ins load lazily."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nasbench.objectives import Objective
from nasbench.registry import Registry
from search_spaces.base import SearchSpace
from strategies.base import DEFAULT_OBJECTIVES, Strategy

STRATEGIES: Registry[type[Strategy]] = Registry(
    "strategy", builtins=("strategies.random_search", "strategies.evolution", "strategies.local_search",
                          "strategies.optuna_samplers", "strategies.rl", "strategies.predictor",
                          "strategies.combo", "strategies.darts", "strategies.enas"))
register_strategy = STRATEGIES.register


def names() -> list[str]:
    """Names of the registered strategies."""
    return STRATEGIES.names()


def get(name: str, space: SearchSpace, objectives: Sequence[Objective] = DEFAULT_OBJECTIVES, seed: int = 0,
        budget: int | None = None, options: Mapping[str, Any] | None = None) -> Strategy:
    """The strategy registered as ``name`` over ``space``.

    Unknown names and options, and several objectives for a single-objective strategy, are one-line NasbenchErrors.
    """
    return STRATEGIES.get(name)(space, objectives, seed, budget, options)


def describe(name: str) -> dict[str, Any]:
    """Name, paper, whether it handles several objectives, and its options (for ``nasbench strategies``)."""
    strategy = STRATEGIES.get(name)
    return {"name": name, "paper": strategy.paper, "multi_objective": strategy.multi_objective,
            "min_objectives": strategy.min_objectives,
            "summary": (strategy.__doc__ or "").strip().splitlines()[0] if strategy.__doc__ else "",
            "options": [option.describe() for option in strategy.options]}
