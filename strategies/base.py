"""The strategy protocol: ask for a candidate, tell its result, save and restore state as JSON."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from nasbench.architecture import Architecture
from search_spaces.base import SearchSpace


class Outcome(Protocol):
    """What a strategy reads from an evaluation result (``workers.base.Result`` satisfies it)."""

    status: str
    metrics: dict[str, float]

    def value(self, objective: str, direction: str = "maximize") -> float:
        """The objective; the worst possible value for a failure."""


@dataclass
class Candidate:
    """An architecture a strategy proposes, with its provenance.

    ``info`` is JSON-serializable and is stored with the trial: ``origin`` (``seed`` | ``sample`` | ``mutation`` | ...),
    ``seed`` (the seed network's name), ``parent`` (the parent's hash), ``mutations`` (how many were applied).
    """

    arch: Architecture
    info: dict[str, Any] = field(default_factory=dict)


class Strategy(ABC):
    """A black-box search strategy over a SearchSpace, speaking ask/tell.

    The search loop tells every evaluated candidate, including the seeds (before the first ``ask``), stored results of
    duplicate proposals and, on resume, the trials already in the study. ``fitness`` turns a result into a number where
    higher is better and failures are the worst possible (-inf). ``state_dict`` must be JSON-serializable.
    """

    name: str = ""

    def __init__(self, space: SearchSpace, seed: int = 0, objective: str = "val_acc",
                 direction: str = "maximize") -> None:
        if direction not in ("maximize", "minimize"):
            raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
        self.space = space
        self.seed = int(seed)
        self.objective = objective
        self.direction = direction
        self.rng = np.random.default_rng(self.seed)

    @abstractmethod
    def ask(self) -> Candidate:
        """The next candidate to evaluate."""

    @abstractmethod
    def tell(self, candidate: Candidate, result: Outcome) -> None:
        """Learn from the result of evaluating ``candidate``."""

    def fitness(self, result: Outcome) -> float:
        """Higher is better: the objective, negated when minimizing; -inf for failures and non-finite values."""
        value = result.value(self.objective, self.direction)
        if not math.isfinite(value):
            return -math.inf
        return value if self.direction == "maximize" else -value

    def reseed(self, *entropy: int) -> None:
        """Restart the random stream from (seed, *entropy): a resumed search must not replay its first proposals."""
        self.rng = np.random.default_rng([self.seed, *entropy])

    def state_dict(self) -> dict[str, Any]:
        """JSON-serializable state, enough for ``load_state_dict`` to continue exactly where this one is."""
        return {"name": self.name, "seed": self.seed, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the state saved by ``state_dict``."""
        self.seed = int(state["seed"])
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng"]
