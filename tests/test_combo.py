"""The ``combo`` strategy: it finds the optimum of a mixed categorical/ordinal objective sooner than random search,
scalarizes several objectives with its weights, models failures at the worst value and skips non-members."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import search_spaces
from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.errors import NasbenchError
from nasbench.objectives import parse_objectives
from search_spaces.base import ChoiceSpace, Variable
from strategies import Candidate, Observation
from strategies import get as get_strategy

WIDTHS = (2, 3, 4, 5, 6)
KERNELS = (1, 3, 5)
LAYERS = 3
TARGET = {"w0": 5, "k0": 3, "w1": 3, "k1": 1, "w2": 6, "k2": 5}


class MixedSpace(ChoiceSpace):
    """Three convs, each with an ordinal width and a categorical kernel size: 15 ** 3 = 3,375 members."""

    name = "mixed-test"

    def __init__(self) -> None:
        super().__init__((1, 8, 8), 3)

    def variables(self) -> dict[str, Variable]:
        found = {}
        for i in range(LAYERS):
            found[f"w{i}"] = Variable(WIDTHS, ordinal=True)
            found[f"k{i}"] = Variable(KERNELS)
        return found

    def build(self, choices: Mapping[str, Any]) -> Architecture:
        net = Cell(inputs=["input"], output="fc")
        previous = "input"
        for i in range(LAYERS):
            previous = net.add(f"c{i}", "conv", inputs=[previous],
                               args={"out": int(choices[f"w{i}"]), "kernel": int(choices[f"k{i}"])})
        net.add("gap", "global_avg_pool", inputs=[previous])
        net.add("fc", "linear", inputs=["gap"], args={"out": self.num_classes})
        return Architecture("mixed", self.input_shape, net)

    def encode(self, arch: Architecture) -> dict[str, Any]:
        found = {}
        for i in range(LAYERS):
            args = arch.network.node(f"c{i}")["args"]
            found[f"w{i}"], found[f"k{i}"] = args["out"], args["kernel"]
        return found


SPACE = MixedSpace()
SCORE = parse_objectives("score:max")


def score(space: MixedSpace, arch: Architecture) -> float:
    """Quadratic in each width, a bonus for each right kernel: one optimum, TARGET, worth 6."""
    choices = space.encode(arch)
    return float(sum(2.0 * (choices[f"k{i}"] == TARGET[f"k{i}"]) - 0.5 * (choices[f"w{i}"] - TARGET[f"w{i}"]) ** 2
                     for i in range(LAYERS)))


def evaluations_to_optimum(name: str, seed: int, budget: int, options: Mapping[str, Any] | None = None) -> int:
    strategy = get_strategy(name, SPACE, SCORE, seed=seed, budget=budget, options=options)
    for count in range(1, budget + 1):
        candidate = strategy.ask()
        value = score(SPACE, candidate.arch)
        if value == 6.0:
            return count
        strategy.tell(candidate, Observation(True, (value,), {"score": value}))
    return budget + 1


def test_combo_reaches_the_optimum_in_fewer_evaluations_than_random_search():
    budget = 60
    options = {"burn_in": 20, "random_points": 500, "samples": 3}
    combo = [evaluations_to_optimum("combo", seed, budget, options) for seed in range(10)]
    chance = [evaluations_to_optimum("random", seed, budget) for seed in range(10)]
    assert sum(found <= budget for found in combo) >= 8  # random search finds it in 60 of 3,375 with p = 1.8 %
    assert np.mean(combo) < np.mean(chance) - 20


def test_several_objectives_are_scalarized_with_the_weights():
    objectives = parse_objectives("score:max,cost:min")
    with pytest.raises(NasbenchError, match="give weights for the 2 objectives .*--option weights=1,1"):
        get_strategy("combo", SPACE, objectives)
    with pytest.raises(NasbenchError, match="1 weights for 2 objectives"):
        get_strategy("combo", SPACE, objectives, options={"weights": "1"})
    strategy = get_strategy("combo", SPACE, objectives, options={"weights": "1,0.02"})
    told = [(4.0, 100.0), (2.0, 50.0), (None, None)]
    for values in told:
        candidate = strategy.ask()
        observation = (Observation.failure("diverged") if values[0] is None
                       else Observation(True, values, dict(zip(("score", "cost"), values))))
        strategy.tell(candidate, observation)
    # each objective oriented (cost negated), divided by its largest magnitude and weighted; a failure the worst
    first, second = 4.0 / 4.0 - 0.02 * 100.0 / 100.0, 2.0 / 4.0 - 0.02 * 50.0 / 100.0
    expected = [first, second, min(first, second)]
    assert np.allclose(strategy.targets(), expected)


def test_a_failure_enters_the_model_at_the_worst_value_observed():
    strategy = get_strategy("combo", SPACE, SCORE, seed=1, options={"initial": 4, "burn_in": 2, "samples": 1,
                                                                     "random_points": 50})
    for value in (3.0, None, 1.0, 2.0):
        candidate = strategy.ask()
        strategy.tell(candidate, Observation.failure("diverged") if value is None
                      else Observation(True, (value,), {"score": value}))
    assert strategy.targets().tolist() == [3.0, 1.0, 1.0, 2.0]
    assert strategy.ask().info["origin"] == "acquisition"


def test_points_that_are_no_member_are_skipped_and_remembered():
    space = search_spaces.get("nb101")
    strategy = get_strategy("combo", space, SCORE, seed=0, options={"initial": 5, "burn_in": 5, "samples": 2,
                                                                     "random_points": 300})
    for _ in range(12):
        candidate = strategy.ask()
        assert space.contains(candidate.arch)
        value = float(candidate.arch.lower().params)
        strategy.tell(candidate, Observation(True, (value,), {"score": value}))
    assert strategy.non_members  # NAS-Bench-101's variables describe many graphs that are not valid cells
    assert all(strategy._member(point) is None for point in strategy.non_members)


def test_options_out_of_range_are_refused():
    with pytest.raises(NasbenchError, match="option 'beta': must be positive, got -1"):
        get_strategy("combo", SPACE, SCORE, options={"beta": -1})
    with pytest.raises(NasbenchError, match="option 'samples' must be at least 1"):
        get_strategy("combo", SPACE, SCORE, options={"samples": 0})
    with pytest.raises(NasbenchError, match="needs non-negative weights"):
        get_strategy("combo", SPACE, parse_objectives("score:max,cost:min"), options={"weights": "1,-2"})
    with pytest.raises(NasbenchError, match="needs a space with a fixed-length encoding"):
        get_strategy("combo", search_spaces.get("graph"), SCORE)


def test_the_seeds_open_the_initial_design():
    strategy = get_strategy("combo", SPACE, SCORE, options={"initial": 3})
    seed = SPACE.decode({key: variable.choices[0] for key, variable in SPACE.variables().items()})
    strategy.tell(Candidate(seed, {"origin": "seed"}), Observation(True, (0.0,), {"score": 0.0}))
    origins = []
    for _ in range(3):
        candidate = strategy.ask()
        origins.append(candidate.info["origin"])
        strategy.tell(candidate, Observation(True, (1.0,), {"score": 1.0}))
    assert origins == ["sample", "sample", "acquisition"]  # the seed, then 2 random members, make the 3


def test_a_missing_extra_is_an_error_that_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "botorch.acquisition.analytic", None)  # None in sys.modules: ImportError
    with pytest.raises(NasbenchError, match=r"COMBO needs botorch and gpytorch: pip install 'nasbench\[combo\]'"):
        get_strategy("combo", SPACE, SCORE)
