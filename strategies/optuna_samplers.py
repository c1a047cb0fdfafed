"""Optuna's samplers as strategies over a space's fixed-length encoding: ``tpe``, ``gp``, ``nsga2`` and ``qmc``.

Each strategy keeps its own in-memory Optuna study. A categorical variable is a categorical distribution; an ordinal
one an integer distribution over the index of its choice, so that the sampler sees the order. Every told result
enters that study: a candidate the sampler proposed is told to its own trial, anything else (seeds, stored results
of duplicates) is added with ``add_trial``, so the sampler learns from seeds and deduplication costs it nothing. The
search's store stays the one study the dashboard shows.

``state_dict`` holds the in-memory study's trials (those in flight as RUNNING) and system attributes and the state of
every random generator the sampler owns, so a restored strategy proposes exactly what the original would have.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.samplers import BaseSampler
from optuna.storages import InMemoryStorage
from optuna.trial import TrialState, create_trial

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from nasbench.options import Option
from search_spaces.base import Variable
from strategies.base import MAX_INVALID, Candidate, Observation, Strategy
from strategies.registry import register_strategy


def distribution_of(variable: Variable) -> BaseDistribution:
    """Categorical over the choices, or (ordinal) an integer range over the choice's index."""
    if variable.ordinal:
        return IntDistribution(0, len(variable.choices) - 1)
    return CategoricalDistribution(list(variable.choices))


def random_states(root: object) -> dict[str, np.random.RandomState]:
    """Every numpy RandomState reachable through the attributes of ``root``, by attribute path."""
    found: dict[str, np.random.RandomState] = {}
    seen: set[int] = set()

    def visit(obj: object, path: str, depth: int) -> None:
        if id(obj) in seen or depth > 4:
            return
        seen.add(id(obj))
        if isinstance(obj, np.random.RandomState):
            found[path] = obj
            return
        for key, value in sorted(getattr(obj, "__dict__", {}).items()):
            if not isinstance(value, (type, int, float, str, bytes, list, dict, tuple)) and value is not None:
                visit(value, f"{path}.{key}" if path else key, depth + 1)

    visit(root, "", 0)
    return found


class OptunaStrategy(Strategy):
    """An Optuna sampler over ``variables()``; subclasses say which sampler and how its options map to it."""

    sampler_class: ClassVar[type[BaseSampler]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.variables = self.fixed_variables()
        self.distributions = {key: distribution_of(variable) for key, variable in self.variables.items()}
        self.study = self._new_study()

    def sampler_options(self) -> dict[str, Any]:
        """Keyword arguments of the sampler: the strategy's options, which are named as the sampler names them."""
        return dict(self.config)

    def _new_study(self) -> optuna.Study:
        with warnings.catch_warnings():  # several samplers and options are marked experimental by Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = self.sampler_class(seed=self.seed, **self.sampler_options())
            return optuna.create_study(storage=InMemoryStorage(), sampler=sampler,
                                       directions=[objective.direction for objective in self.objectives])

    def ask(self) -> Candidate:
        for _ in range(MAX_INVALID):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                trial = self.study.ask(self.distributions)
            choices = {key: self.variables[key].choices[value] if self.variables[key].ordinal else value
                       for key, value in trial.params.items()}
            try:
                arch = self.space.decode(choices)
            except NasbenchError:
                self.study.tell(trial, state=TrialState.FAIL)  # not a member: the sampler learns to avoid it
                continue
            return Candidate(arch, {"origin": "sample", "trial": trial.number})
        raise NasbenchError(f"strategy {self.name!r}: {MAX_INVALID} proposals in a row were not members of "
                            f"space {self.space.name!r}")

    def tell(self, candidate: Candidate, observation: Observation) -> None:
        values = list(observation.values) if observation.ok and observation.values is not None else None
        state = TrialState.COMPLETE if values is not None else TrialState.FAIL
        params = self._params(candidate.arch)
        number = self._running_trial(candidate.info.get("trial"), params)
        if number is not None:
            self.study.tell(number, values, state=state)
        elif params is not None:
            self.study.add_trial(create_trial(state=state, values=values, params=params,
                                              distributions=self.distributions))

    def _running_trial(self, number: int | None, params: dict[str, Any] | None) -> int | None:
        """The sampler's RUNNING trial of a candidate told: the one it was proposed as, else one with its params.

        A candidate restored from the search's store (evaluated again after a resume) has lost its trial number.
        """
        running = self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if number is not None:
            return number if any(trial.number == number for trial in running) else None
        return next((trial.number for trial in running if params is not None and trial.params == params), None)

    def _params(self, arch: Architecture) -> dict[str, Any] | None:
        """The sampler's view of a member (None for an architecture outside the space)."""
        try:
            choices = self.space.encode(arch)
        except (NasbenchError, KeyError):
            return None
        return {key: self.variables[key].choices.index(value) if self.variables[key].ordinal else value
                for key, value in choices.items()}

    def state_dict(self) -> dict[str, Any]:
        trials = [{"state": trial.state.name, "values": trial.values, "params": trial.params,
                   "system_attrs": trial.system_attrs}
                  for trial in self.study.get_trials(deepcopy=False)]
        rngs = {path: _plain_state(rng) for path, rng in random_states(self.study.sampler).items()}
        system = self.study._storage.get_study_system_attrs(self.study._study_id)
        return {**super().state_dict(), "trials": trials, "study_system_attrs": system,
                "rngs": rngs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.study = self._new_study()
        storage, study_id = self.study._storage, self.study._study_id
        for key, value in state["study_system_attrs"].items():
            storage.set_study_system_attr(study_id, key, value)
        for stored in state["trials"]:
            self.study.add_trial(create_trial(state=TrialState[stored["state"]], values=stored["values"],
                                              params=stored["params"], distributions=self.distributions,
                                              system_attrs=stored["system_attrs"]))
        rngs = random_states(self.study.sampler)
        for path, saved in state["rngs"].items():
            name, keys, position, has_gauss, cached = saved
            rngs[path].set_state((name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))


def _plain_state(rng: np.random.RandomState) -> list[Any]:
    name, keys, position, has_gauss, cached = rng.get_state()
    return [name, keys.tolist(), int(position), int(has_gauss), float(cached)]


@register_strategy("tpe")
class TPEStrategy(OptunaStrategy):
    """Optuna's Tree-structured Parzen Estimator over the space's variables (several objectives: MOTPE)."""

    paper = "Bergstra et al. 2011, Algorithms for hyper-parameter optimization (NeurIPS); Optuna's TPESampler"
    multi_objective = True
    sampler_class = optuna.samplers.TPESampler
    options = (
        Option("n_startup_trials", int, 10, "Random proposals before TPE models the results (Optuna: 10).",
               minimum=0),
        Option("multivariate", bool, True, "Model the variables jointly (Falkner et al. 2018). Optuna's default is "
               "false; a cell's choices act together (94.20 against 94.13 on NAS-Bench-201, 60 runs)."),
        Option("constant_liar", bool, False, "Treat evaluations in flight as bad, for several workers."),
    )


@register_strategy("gp")
class GPStrategy(OptunaStrategy):
    """Optuna's Gaussian-process sampler (Matern 5/2 kernel, log expected improvement) over the variables."""

    paper = "Optuna's GPSampler (Snoek et al. 2012, Practical Bayesian optimization of ML algorithms, NeurIPS)"
    sampler_class = optuna.samplers.GPSampler
    options = (
        Option("n_startup_trials", int, 10, "Random proposals before the GP models the results (Optuna: 10).",
               minimum=0),
        Option("deterministic_objective", bool, False, "The evaluations have no noise (a table lookup)."),
    )


@register_strategy("nsga2")
class NSGA2Strategy(OptunaStrategy):
    """Optuna's NSGA-II (Deb et al. 2002) over the variables, for several objectives."""

    paper = "Deb et al. 2002, A fast and elitist multiobjective genetic algorithm: NSGA-II (IEEE TEC)"
    multi_objective = True
    min_objectives = 2
    sampler_class = optuna.samplers.NSGAIISampler
    options = (
        Option("population_size", int, 50, "Individuals per generation (Optuna: 50).", minimum=2),
        Option("crossover_prob", float, 0.9, "Probability that a child is a crossover of two parents (0.9).",
               minimum=0),
        Option("swapping_prob", float, 0.5, "Uniform crossover: probability of taking each variable from the other "
                                             "parent (0.5).", minimum=0),
    )


@register_strategy("qmc")
class QMCStrategy(OptunaStrategy):
    """Optuna's quasi-Monte Carlo sampler: a scrambled low-discrepancy sequence over the variables."""

    paper = "Bergstra & Bengio 2012 (random search); Optuna's QMCSampler (scrambled Sobol / Halton sequences)"
    multi_objective = True
    sampler_class = optuna.samplers.QMCSampler
    options = (
        Option("qmc_type", str, "sobol", "The sequence: sobol or halton.", choices=("sobol", "halton")),
        Option("scramble", bool, True, "Scramble the sequence with the seed (Optuna's default: false)."),
    )
