"""Local search, as White, Nolen & Savani found it state of the art on NAS benchmarks (UAI 2021).

The search starts from the best of the seeds and ``initial`` random samples. It then evaluates the neighbours of the
current point (every member one variable away, in a random order; on an open-ended space, ``mutants`` mutations) that
have not been evaluated yet, and moves to the first one that improves on it; the neighbours of the new point come
next. When no neighbour improves, the point is a local optimum and the search restarts from a random member, which
becomes the current point whatever its score. With several evaluations in flight the neighbours of the current point
are proposed while earlier ones are still running, and the first improvement told moves the search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nasbench.architecture import Architecture
from nasbench.options import Option
from strategies.base import Candidate, Observation, Strategy, finite_or_none, from_stored
from strategies.registry import register_strategy


@dataclass
class Point:
    """The current point: its architecture, hash and fitness (higher is better)."""

    arch: Architecture
    hash: str
    fitness: float

    def to_dict(self) -> dict[str, Any]:
        """JSON form (a failure's -inf fitness is stored as null)."""
        return {"genome": self.arch.to_dict(), "hash": self.hash, "fitness": finite_or_none(self.fitness)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Point:
        """Inverse of ``to_dict``."""
        return cls(Architecture.from_dict(data["genome"]), data["hash"], from_stored(data["fitness"]))


@register_strategy("local")
class LocalSearch(Strategy):
    """First-improvement local search over one-variable neighbourhoods, restarting at local optima."""

    paper = "White, Nolen & Savani 2021, Exploring the loss landscape in neural architecture search (UAI)"
    options = (
        Option("initial", int, 10, "Random samples evaluated before the first move, besides the seeds (paper: 10).",
               minimum=0),
        Option("mutants", int, 20, "Neighbours of a point on an open-ended space: this many mutations of it.",
               minimum=1),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sampled = 0
        self.current: Point | None = None
        self.queue: list[Architecture] = []  # neighbours of the current point still to propose, in order
        self.visited: dict[str, float] = {}  # hash -> fitness of every architecture told

    def ask(self) -> Candidate:
        if self.sampled < self.config["initial"]:
            self.sampled += 1
            return Candidate(self.space.sample(self.rng), {"origin": "sample"})
        if self.current is None:
            return Candidate(self.space.sample(self.rng), {"origin": "restart"})
        if not self.queue:
            self.queue = self.neighbours(self.current.arch)
        while self.queue:
            child = self.queue.pop(0)
            if child.hash() not in self.visited:
                return Candidate(child, {"origin": "neighbour", "parent": self.current.hash})
        # Every neighbour is known and none improved: a local optimum.
        self.current = None
        return Candidate(self.space.sample(self.rng), {"origin": "restart"})

    def neighbours(self, arch: Architecture) -> list[Architecture]:
        """The unvisited members one variable away (mutations on an open-ended space), in a random order."""
        if self.space.variables() is None:
            found = [self.space.mutate(arch, self.rng) for _ in range(self.config["mutants"])]
        else:
            found = list(self.space.neighbors(arch))
        order = self.rng.permutation(len(found))
        return [found[i] for i in order if found[i].hash() not in self.visited]

    def tell(self, candidate: Candidate, observation: Observation) -> None:
        arch_hash = candidate.info.get("hash") or candidate.arch.hash()
        fitness = self.fitness(observation)[0]
        self.visited[arch_hash] = fitness
        point = Point(candidate.arch, arch_hash, fitness)
        origin = candidate.info.get("origin")
        if origin == "restart" and self.current is None:
            self.current, self.queue = point, []
        elif origin == "neighbour":
            if (self.current is not None and candidate.info.get("parent") == self.current.hash
                    and fitness > self.current.fitness):
                self.current, self.queue = point, []
        elif self.current is None or fitness > self.current.fitness:
            self.current, self.queue = point, []  # seeds and initial samples: start from the best of them

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "sampled": self.sampled,
                "current": None if self.current is None else self.current.to_dict(),
                "queue": [arch.to_dict() for arch in self.queue],
                "visited": {key: finite_or_none(value) for key, value in self.visited.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.sampled = int(state["sampled"])
        self.current = None if state["current"] is None else Point.from_dict(state["current"])
        self.queue = [Architecture.from_dict(data) for data in state["queue"]]
        self.visited = {key: from_stored(value) for key, value in state["visited"].items()}
