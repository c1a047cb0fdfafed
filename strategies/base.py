"""The strategy contract: ask for a candidate, tell every objective's value, save and restore exact state as JSON.

A strategy declares its options (``options``: name, type, default, help; defaults may derive from the budget), the
paper it implements, and whether it handles several objectives. The search loop tells it every evaluated candidate,
the seeds first (before the first ``ask``), the stored result of a duplicate proposal, and failures (whose values are
all the worst possible). ``state_dict`` is JSON and complete: a strategy restored from it proposes exactly what the
original would have proposed next.

Work in flight: before an evaluation starts, the loop calls ``evaluating`` with its candidate, for this searcher's
proposals and for those other searchers of the study are evaluating; the result is told when it lands. A strategy
that proposes while results are outstanding (several workers, several searchers) may count them, as an asynchronous
population does; the default ignores them.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from nasbench.objectives import Objective, format_objectives, oriented
from nasbench.options import Option, resolve_options
from search_spaces.base import SearchSpace, Variable
from strategies.context import SearchContext

DEFAULT_OBJECTIVES = (Objective("val_acc"),)
MAX_INVALID = 100  # proposals in a row that decode to no member before a strategy over variables() gives up
MAX_REDRAWS = 100  # draws for one proposal that is neither evaluated nor in flight, before a known one is proposed
Drawn = TypeVar("Drawn")


class StrategyExhausted(Exception):  # noqa: N818 - a stop signal, not an error
    """Raised by ``ask`` when a strategy has nothing new to propose (a one-shot search derived all it can).

    The search loop stops early with the message, as it does for a strategy that only proposes duplicates.
    """


@dataclass
class Candidate:
    """An architecture a strategy proposes, with its provenance.

    ``info`` is JSON-serializable and is stored with the trial: ``origin`` (``seed`` | ``sample`` | ``mutation`` | ...),
    ``seed`` (the seed network's name), ``parent`` (the parent's hash), ``mutations`` (how many were applied).
    """

    arch: Architecture
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """What a strategy is told about one evaluation: whether it succeeded, every objective's value, all metrics.

    ``values`` has one entry per objective of the search, in order, as measured (None for a failure). ``pruned``
    marks a low-fidelity result: the candidate was stopped early (ASHA), and ``values`` and ``metrics`` are those of
    the last epoch it reached (``metrics["epoch"]``); a strategy that does not look at it ranks the candidate by
    that partial score, as Optuna's samplers rank a pruned trial by its last intermediate value.
    """

    ok: bool
    values: tuple[float, ...] | None
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    pruned: bool = False

    @classmethod
    def failure(cls, error: str) -> Observation:
        """A failed evaluation."""
        return cls(False, None, {}, error)


class Strategy(ABC):
    """A black-box search strategy over a SearchSpace, speaking ask/tell.

    Subclasses declare ``options`` and read their resolved values from ``self.config`` (the constructor's
    ``options`` mapping holds what the user gave); ``fitness`` turns an observation into a tuple where higher is
    better and failures are the worst possible (-inf everywhere).
    """

    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    multi_objective: ClassVar[bool] = False
    min_objectives: ClassVar[int] = 1
    options: ClassVar[tuple[Option, ...]] = ()
    # Options of the cheapest configuration that still does what the strategy does (the contract suite's).
    smoke_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective] = DEFAULT_OBJECTIVES, seed: int = 0,
                 budget: int | None = None, options: Mapping[str, Any] | None = None) -> None:
        self.objectives = tuple(objectives)
        if not self.objectives:
            raise NasbenchError(f"strategy {self.name!r}: needs at least one objective")
        if len(self.objectives) < self.min_objectives:
            raise NasbenchError(f"strategy {self.name!r} needs at least {self.min_objectives} objectives (e.g. "
                                f"--objectives valid_acc_12:max,params:min), got {len(self.objectives)}")
        if len(self.objectives) > 1 and not self.multi_objective:
            raise NasbenchError(f"strategy {self.name!r} optimizes one objective, got {len(self.objectives)} "
                                f"({format_objectives(self.objectives)})")
        self.space = space
        self.seed = int(seed)
        self.config = resolve_options(type(self).options, dict(options or {}), f"strategy {self.name!r}", budget)
        self.rng = np.random.default_rng(self.seed)
        self.context = SearchContext()

    def bind(self, context: SearchContext) -> None:
        """Receive the search's data, checkpoint directory and journal (before the first ``ask``)."""
        self.context = context

    @classmethod
    def required_options(cls, objectives: Sequence[Objective]) -> dict[str, Any]:
        """Options that a search over ``objectives`` must give, with example values (most strategies need none)."""
        return {}

    def fixed_variables(self) -> dict[str, Variable]:
        """The space's variables, for a strategy that needs a fixed-length encoding (one-line error if open-ended)."""
        variables = self.space.variables()
        if variables is None:
            raise NasbenchError(f"strategy {self.name!r} needs a space with a fixed-length encoding (variables()); "
                                f"space {self.space.name!r} is open-ended")
        return variables

    @abstractmethod
    def ask(self) -> Candidate:
        """The next candidate to evaluate."""

    @abstractmethod
    def tell(self, candidate: Candidate, observation: Observation) -> None:
        """Learn from the evaluation of ``candidate``."""

    def evaluating(self, candidate: Candidate) -> None:  # noqa: B027 -- an optional hook, ignored by default
        """Learn that ``candidate`` (``info["hash"]``: its canonical hash) is being evaluated.

        ``tell`` follows, unless the evaluation is abandoned (its searcher died and the study's budget ran out first).
        """

    def fitness(self, observation: Observation) -> tuple[float, ...]:
        """Every objective as "higher is better"; a failure or a non-finite value is -inf."""
        return oriented(self.objectives, observation.values if observation.ok else None)

    def state_dict(self) -> dict[str, Any]:
        """JSON-serializable state, enough for ``load_state_dict`` to continue exactly where this one is."""
        return {"name": self.name, "seed": self.seed, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the state saved by ``state_dict``."""
        if state.get("name") != self.name:
            raise NasbenchError(f"strategy {self.name!r} cannot load the state of strategy {state.get('name')!r}")
        self.seed = int(state["seed"])
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = dict(state["rng"])


def draw_unknown(draw: Callable[[], Drawn | None], known: Callable[[Drawn], bool],
                 tries: int = MAX_REDRAWS) -> Drawn | None:
    """Draw until a draw is not ``known`` (evaluated or in flight), at most ``tries`` times; else the last one.

    A converging strategy keeps spending the budget on members it has not tried instead of on the loop's stored
    results. ``draw`` returns None for a draw that is not a member at all; None comes back only if every draw was.
    """
    found = None
    for _ in range(tries):
        drawn = draw()
        if drawn is None:
            continue
        found = drawn
        if not known(drawn):
            break
    return found


def finite_or_none(value: float) -> float | None:
    """JSON has no infinities: a non-finite fitness is stored as None."""
    return value if math.isfinite(value) else None


def from_stored(value: float | None) -> float:
    """The inverse of ``finite_or_none`` for fitness values (None is a failure, -inf)."""
    return -math.inf if value is None else float(value)
