"""COMBO: Bayesian optimization on the graph Cartesian product of a space's variables (Oh et al., NeurIPS 2019).

Each variable of ``variables()`` is a graph (complete for a categorical variable, a path for an ordinal one) and a
member is a vertex of their product. A Gaussian process with the product's diffusion kernel models the objective
(``strategies.diffusion_kernel``, ``strategies.combo_gp``); its hyper-parameters (one beta per variable under a
horseshoe prior, signal and noise variance, constant mean) are sampled by slice sampling
(``strategies.combo_posterior``): ``burn_in`` sweeps when the model is first needed, then ``samples`` sweeps per
proposal, each warm-started from the last. Expected improvement, averaged over those samples, is maximized by greedy
ascent over the product graph from the best of ``random_points`` random points and ``incumbent_neighbours``
neighbours of the incumbent (``strategies.graph_ascent``); the best point that decodes to a member not yet evaluated
or in flight is proposed.

The initial design is the space's seeds (told before the first proposal; COMBO's NAS experiment started from
hand-designed architectures), then random members up to ``initial``. A failed evaluation enters the model at the worst
value observed. A point that decodes to no member (an invalid cell) is never proposed again. With several objectives
the model sees ``sum_i w_i * f_i / max|f_i|`` over the objectives oriented so that higher is better and scaled by the
largest magnitude observed: COMBO's NAS experiment minimized error + 0.02 * FLOPs / FLOPs_max, which is
``weights=1,0.02`` over ``val_acc:max,macs:min``.

Exact state: ``state_dict`` holds the observations (choice indices and fitness) in order, the hashes told and in
flight, the non-members found, the last hyper-parameter sample and the random generator; the GP is a function of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from nasbench.objectives import Objective
from nasbench.options import Option
from strategies import combo_gp
from strategies.base import Candidate, Observation, Strategy, draw_unknown, finite_or_none, from_stored
from strategies.combo_posterior import Hyperparameters, Outputs, initial, supported, sweep
from strategies.diffusion_kernel import DiffusionKernel, FactorGraph
from strategies.graph_ascent import ranked
from strategies.registry import register_strategy

Point = tuple[int, ...]


def _positive(value: float) -> float:
    if not value > 0:
        raise ValueError(f"must be positive, got {value:g}")
    return value


def _weights(text: str) -> tuple[float, ...]:
    try:
        weights = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"expects numbers separated by commas (e.g. 1,0.02), got {text!r}") from None
    if not all(math.isfinite(weight) and weight >= 0 for weight in weights) or not any(weights):
        raise ValueError(f"needs non-negative weights, not all zero, got {text!r}")
    return weights


@register_strategy("combo")
class ComboSearch(Strategy):
    """Combinatorial Bayesian optimization: a diffusion-kernel GP on the product graph, EI by graph ascent."""

    paper = ("Oh, Tomczak, Gavves & Welling 2019, Combinatorial Bayesian optimization using the graph Cartesian "
             "product (NeurIPS)")
    multi_objective = True
    options = (
        Option("initial", int, 10, "Size of the initial design: the seeds, then random members (COMBO's NAS "
               "experiment: 10 architectures; its synthetic problems: 20 random points. NAS-Bench-201, 30 runs: 94.26 "
               "with 10, 94.23 with 20).", minimum=1),
        Option("burn_in", int, 99, "Slice-sampling sweeps when the model is first fitted (COMBO: 99).", minimum=0),
        Option("samples", int, 10, "Posterior samples per proposal, each one sweep after the last (COMBO: 10); the "
               "expected improvement is their average.", minimum=1),
        Option("random_points", int, 20_000, "Random points scored to start the acquisition's ascent (COMBO: "
               "20,000).", minimum=0),
        Option("incumbent_neighbours", int, 10, "Random neighbours of the best member scored beside them (COMBO: "
               "10).", minimum=0),
        Option("starts", int, 20, "Best-scored points the ascent climbs from (COMBO: 20).", minimum=1),
        Option("beta", float, 1.0, "Every variable's beta before burn-in (COMBO: 1).", check=_positive),
        Option("weights", str, None, "Several objectives: one weight per objective, comma-separated; the model "
               "sees the weighted sum of the objectives, each divided by its largest magnitude (COMBO's NAS "
               "experiment: 1,0.02 over val_acc:max,macs:min).", check=_weights, optional=True),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.variables = self.fixed_variables()
        weights = self.config["weights"]
        if weights is None and len(self.objectives) > 1:
            example = self.required_options(self.objectives)["weights"]
            raise NasbenchError(f"strategy 'combo' optimizes one value: give weights for the {len(self.objectives)} "
                                f"objectives with its option weights (e.g. --option weights={example})")
        if weights is not None and len(weights) != len(self.objectives):
            raise NasbenchError(f"strategy 'combo': option 'weights' has {len(weights)} weights for "
                                f"{len(self.objectives)} objectives")
        combo_gp.require()
        self.graphs = [FactorGraph.of(variable) for variable in self.variables.values()]
        self.kernel = DiffusionKernel(self.graphs)
        self.points: list[Point] = []  # every member told that the space encodes, in order, once per hash
        self.fitnesses: list[tuple[float, ...]] = []
        self.told: set[str] = set()
        self.pending: dict[str, Point] = {}  # hash -> point, proposed and not told yet
        self.non_members: set[Point] = set()
        self.hyper: Hyperparameters | None = None  # the last posterior sample, None before burn-in

    @classmethod
    def required_options(cls, objectives: Sequence[Objective]) -> dict[str, Any]:
        """Several objectives need their weights (equal ones, as an example)."""
        return {"weights": ",".join(["1"] * len(objectives))} if len(objectives) > 1 else {}

    def ask(self) -> Candidate:
        successes = sum(all(math.isfinite(value) for value in fitness) for fitness in self.fitnesses)
        if len(self.told) + len(self.pending) < self.config["initial"] or successes < 2:
            return self._sample()
        with combo_gp.single_threaded():
            return self._acquire(self.targets())

    def targets(self) -> np.ndarray:
        """The value the model sees for each observation; a failure is the worst value of the others.

        One objective is its value oriented so that higher is better, as the reference models raw outputs; several
        are the weighted sum of those, each divided by its largest magnitude among the successes.
        """
        fitness = np.array(self.fitnesses, dtype=np.float64).reshape(len(self.fitnesses), len(self.objectives))
        finite = np.isfinite(fitness).all(axis=1)
        if not finite.any():
            return np.full(len(fitness), -math.inf)
        weights = self.config["weights"]
        if weights is None:
            values = fitness[:, 0]
        else:
            scale = np.abs(fitness[finite]).max(axis=0)
            values = (np.where(finite[:, None], fitness, 0.0) / np.where(scale > 0, scale, 1.0)) @ np.asarray(weights)
        return np.where(finite, values, values[finite].min())

    def _sample(self) -> Candidate:
        arch = draw_unknown(lambda: self.space.sample(self.rng), lambda drawn: self._known(drawn.hash()))
        assert arch is not None  # sample() always returns a member
        return self._propose(arch, {"origin": "sample"})

    def _acquire(self, values: np.ndarray) -> Candidate:
        points = np.array(self.points, dtype=np.int64)
        gp = combo_gp.DiffusionGP(self.kernel, points, values)
        outputs = Outputs.of(values, self.graphs)
        if self.hyper is None:
            self.hyper = initial(values, len(self.graphs), self.config["beta"])
            for _ in range(self.config["burn_in"]):
                self.hyper = sweep(supported(self.hyper, outputs), gp.log_marginal_likelihood, outputs, self.rng)
        samples = []
        for _ in range(self.config["samples"]):
            self.hyper = sweep(supported(self.hyper, outputs), gp.log_marginal_likelihood, outputs, self.rng)
            samples.append(self.hyper)
        best = int(np.argmax(values))
        excluded = set(self.points) | set(self.pending.values()) | self.non_members
        order = ranked(lambda at: combo_gp.expected_improvement(gp, samples, at, float(values[best])),
                       self.graphs, self.rng, incumbents=[points[best]], excluded=excluded,
                       random=self.config["random_points"], incumbent_neighbours=self.config["incumbent_neighbours"],
                       starts=self.config["starts"])
        for point in order:
            arch = self._member(tuple(int(v) for v in point))
            if arch is not None and not self._known(arch.hash()):
                return self._propose(arch, {"origin": "acquisition"})
        return self._sample()  # every point the ascent looked at is known: nothing better to go on than chance

    def _member(self, point: Point) -> Architecture | None:
        """The member at ``point``, or None (remembered) if the choices describe no member."""
        choices = {key: variable.choices[index] for (key, variable), index in zip(self.variables.items(), point)}
        try:
            return self.space.decode(choices)
        except NasbenchError:
            self.non_members.add(point)
            return None

    def _point(self, arch: Architecture) -> Point | None:
        try:
            choices = self.space.encode(arch)
        except (NasbenchError, KeyError):
            return None
        return tuple(variable.choices.index(choices[key]) for key, variable in self.variables.items())

    def _propose(self, arch: Architecture, info: dict[str, Any]) -> Candidate:
        point = self._point(arch)
        if point is not None:
            self.pending[arch.hash()] = point
        return Candidate(arch, info)

    def _known(self, arch_hash: str) -> bool:
        return arch_hash in self.told or arch_hash in self.pending

    def tell(self, candidate: Candidate, observation: Observation) -> None:
        arch_hash = candidate.info.get("hash") or candidate.arch.hash()
        self.pending.pop(arch_hash, None)
        if arch_hash in self.told:
            return  # a duplicate proposal's stored result: the member is known already
        self.told.add(arch_hash)
        point = self._point(candidate.arch)
        if point is not None:
            self.points.append(point)
            self.fitnesses.append(self.fitness(observation))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "points": [list(point) for point in self.points],
                "fitnesses": [[finite_or_none(value) for value in fitness] for fitness in self.fitnesses],
                "told": sorted(self.told), "pending": {key: list(point) for key, point in self.pending.items()},
                "non_members": sorted(list(point) for point in self.non_members),
                "hyper": None if self.hyper is None else self.hyper.to_list()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.points = [tuple(int(v) for v in point) for point in state["points"]]
        self.fitnesses = [tuple(from_stored(value) for value in fitness) for fitness in state["fitnesses"]]
        self.told = set(state["told"])
        self.pending = {key: tuple(int(v) for v in point) for key, point in state["pending"].items()}
        self.non_members = {tuple(int(v) for v in point) for point in state["non_members"]}
        self.hyper = None if state["hyper"] is None else Hyperparameters.from_list(state["hyper"])
