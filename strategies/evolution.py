"""Regularized (aging) evolution, Real et al. 2019, with the seeds' Algorithm 1 variant (Piergiovanni et al.).

Each round samples ``tournament`` members of the population uniformly with replacement (as Real et al.'s algorithm
does), takes the fittest as parent and mutates a copy of it. The child joins the population when its result is told;
when the population exceeds ``population`` members, the oldest dies (aging, ``remove="oldest"``) or the least fit
(Algorithm 1, ``remove="worst"``; ties go to the oldest). Round i's child gets ``max(ceil(d - i / r), 1)`` mutations
under ``mutations_schedule=(d, r)`` (many early, one late); without a schedule every child gets one mutation.

Until the population is full, ``ask`` returns uniform samples: Real et al. start from ``population`` random
architectures; seeds told before the first ask take their places first. With W workers (or several searchers of one
study) the search loop keeps W children in flight and tells each one as it finishes, the steady state of the paper's
distributed setup; rounds are counted by children told, so children proposed concurrently share a round. Evaluations
in flight (``evaluating``) count toward the population: once members and evaluations in flight are P, the next
children are mutations of the members told so far, so that W workers still start from exactly P random architectures
instead of P + W - 1 (a lone worker is unaffected: it has nothing in flight when it asks).

With several objectives the fittest is decided by NSGA-II's crowded comparison (Deb et al. 2002), computed over the
whole population: a lower non-dominated front wins, then a larger crowding distance; ``remove="worst"`` removes the
member that comparison ranks last.

Real et al. use P = 100, S = 25, meant for budgets of thousands; the defaults here derive P and S from the budget
(see ``default_population``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from nasbench.objectives import crowded_ranks
from nasbench.options import Option
from strategies.base import Candidate, Observation, Strategy, finite_or_none, from_stored
from strategies.registry import register_strategy

REMOVE_POLICIES = ("oldest", "worst")


@dataclass
class Member:
    """One individual of the population: architecture, hash, fitness (per objective, higher is better), birth order."""

    arch: Architecture
    hash: str
    fitness: tuple[float, ...]
    born: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form (a failure's -inf fitness is stored as null)."""
        return {"genome": self.arch.to_dict(), "hash": self.hash, "born": self.born,
                "fitness": [finite_or_none(value) for value in self.fitness]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Member:
        """Inverse of ``to_dict``."""
        return cls(Architecture.from_dict(data["genome"]), data["hash"],
                   tuple(from_stored(value) for value in data["fitness"]), int(data["born"]))


def parse_schedule(schedule: str | Sequence[float] | None) -> tuple[float, float] | None:
    """``"d,r"`` or ``(d, r)`` -> (d, r) with d >= 1 and r > 0; None stays None (one mutation per child)."""
    if schedule is None or schedule == "":
        return None
    parts: Sequence[Any] = schedule.split(",") if isinstance(schedule, str) else schedule
    try:
        d, r = (float(part) for part in parts)
    except (TypeError, ValueError):
        raise NasbenchError(f"mutations schedule must be 'd,r' (two numbers), got {schedule!r}") from None
    if d < 1 or r <= 0:
        raise NasbenchError(f"mutations schedule needs d >= 1 and r > 0, got d={d:g}, r={r:g}")
    return d, r


def mutation_count(schedule: tuple[float, float] | None, round_index: int) -> int:
    """Mutations for the child of round ``round_index`` (0-based): max(ceil(d - i/r), 1), or 1 without a schedule."""
    if schedule is None:
        return 1
    d, r = schedule
    return max(math.ceil(d - round_index / r), 1)


def default_population(budget: int) -> tuple[int, int]:
    """(P, S) for a search of ``budget`` evaluations.

    Real et al.'s P=100, S=25 need thousands of evaluations to leave the random initial population. For about 100
    evaluations NAS-Bench-201's own REA setting (P=10, S=3) is the published reference, and for the few dozen of the
    default CPU job a population of 10 still leaves two thirds of the budget to evolution. In between, P grows with
    the budget (a tenth of it) and S stays a quarter of P.
    """
    population = min(100, max(10, budget // 10))
    tournament = 3 if population == 10 else max(3, population // 4)
    return population, tournament


def _derived_population(budget: int | None) -> int:
    return default_population(budget)[0] if budget else 100


def _derived_tournament(budget: int | None) -> int:
    return default_population(budget)[1] if budget else 25


def _schedule_text(schedule: str) -> str:
    parse_schedule(schedule)
    return schedule


@register_strategy("evolution")
class RegularizedEvolution(Strategy):
    """Regularized (aging) evolution with tournament selection; NSGA-II's crowded comparison for several objectives."""

    paper = "Real et al. 2019, Regularized evolution for image classifier architecture search (AAAI)"
    multi_objective = True
    options = (
        Option("population", int, minimum=1, help="Population size P.", derive=_derived_population,
               derived="budget/10 in [10, 100]"),
        Option("tournament", int, minimum=1, help="Tournament size S (members drawn with replacement).",
               derive=_derived_tournament, derived="3 for P=10, else P/4"),
        Option("mutations_schedule", str, None, "'d,r': round i's child gets max(ceil(d - i/r), 1) mutations "
               "(Algorithm 1); none: one mutation.", check=_schedule_text),
        Option("remove", str, "oldest", "Who dies when the population is full: oldest (aging) or worst.",
               choices=REMOVE_POLICIES),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.population_size = self.config["population"]
        self.tournament_size = self.config["tournament"]
        self.schedule = parse_schedule(self.config["mutations_schedule"])
        self.remove = self.config["remove"]
        self.population: list[Member] = []
        self.born = 0
        self.rounds = 0
        self.in_flight: set[str] = set()  # hashes being evaluated, by this searcher or another, not told yet

    def ask(self) -> Candidate:
        if not self.population or len(self.population) + len(self.in_flight) < self.population_size:
            return Candidate(self.space.sample(self.rng), {"origin": "sample"})
        parent = self.select()
        count = mutation_count(self.schedule, self.rounds)
        child = parent.arch
        for _ in range(count):
            child = self.space.mutate(child, self.rng)
        return Candidate(child, {"origin": "mutation", "parent": parent.hash, "mutations": count})

    def select(self) -> Member:
        """Tournament: the fittest of ``tournament`` members drawn uniformly with replacement (first on ties)."""
        picks = self.rng.integers(len(self.population), size=self.tournament_size)
        if len(self.objectives) == 1:
            return max((self.population[i] for i in picks), key=lambda member: member.fitness)
        ranks = crowded_ranks([member.fitness for member in self.population])
        best = max(picks, key=lambda i: (-ranks[i][0], ranks[i][1]))
        return self.population[best]

    def evaluating(self, candidate: Candidate) -> None:
        self.in_flight.add(candidate.info["hash"])

    def tell(self, candidate: Candidate, observation: Observation) -> None:
        arch_hash = candidate.info.get("hash") or candidate.arch.hash()
        self.in_flight.discard(arch_hash)
        self.population.append(Member(candidate.arch, arch_hash, self.fitness(observation), self.born))
        self.born += 1
        if candidate.info.get("origin") == "mutation":
            self.rounds += 1
        if len(self.population) > self.population_size:
            self.population.remove(self.victim())

    def victim(self) -> Member:
        """The member that dies: the oldest, or the least fit (the oldest of those on ties)."""
        if self.remove == "oldest":
            return min(self.population, key=lambda member: member.born)
        if len(self.objectives) == 1:
            return min(self.population, key=lambda member: (member.fitness, member.born))
        ranks = crowded_ranks([member.fitness for member in self.population])
        worst = min(range(len(self.population)),
                    key=lambda i: (-ranks[i][0], ranks[i][1], self.population[i].born))
        return self.population[worst]

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "population": [member.to_dict() for member in self.population],
                "born": self.born, "rounds": self.rounds, "in_flight": sorted(self.in_flight)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.population = [Member.from_dict(data) for data in state["population"]]
        self.born = int(state["born"])
        self.rounds = int(state["rounds"])
        self.in_flight = set(state.get("in_flight", ()))  # a checkpoint written before work in flight was counted
