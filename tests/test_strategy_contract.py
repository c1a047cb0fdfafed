"""The strategy contract, run over every registered strategy on NAS-Bench-201 with the table evaluator.

A newly registered strategy is tested here without editing this file (as Optuna runs one suite over every sampler).
Every strategy is bound to a search context over digits (a one-shot strategy trains its supernet there) and runs
with its ``smoke_options``; a strategy that has nothing new to propose may stop with ``StrategyExhausted``, so the
sequences compared are those it proposes until then.
"""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path

import optuna
import pytest
from kill_switch import KillAt, exit_code_of_search

import search_spaces
from nasbench.app.search import search
from nasbench.errors import NasbenchError
from nasbench.objectives import format_objectives, parse_objectives, values_of
from results.store import evaluated_trials
from strategies import STRATEGIES, Candidate, Observation
from strategies import get as get_strategy
from strategies.base import StrategyExhausted
from strategies.context import SearchContext
from workers.datasets import load_dataset
from workers.table import TableEvaluator

NAMES = STRATEGIES.names()
TABLE = TableEvaluator()
SPACE = search_spaces.get("nb201")
ONE = parse_objectives("valid_acc_12:max")
TWO = parse_objectives("valid_acc_12:max,params:min")
TESTS = Path(__file__).parent
DATA = load_dataset("digits")


def observe(candidate: Candidate, objectives=ONE) -> Observation:
    result = TABLE.evaluate(candidate.arch)
    if not result.ok:
        return Observation.failure(result.error)
    metrics = {**result.metrics, "params": float(candidate.arch.lower().params)}
    return Observation(True, values_of(objectives, metrics), metrics)


def asked(strategy, steps: int):
    """Up to ``steps`` proposals, fewer if the strategy runs out of new ones."""
    for _ in range(steps):
        try:
            yield strategy.ask()
        except StrategyExhausted:
            return


def drive(strategy, steps: int) -> list[str]:
    """Ask and tell up to ``steps`` times; the proposed hashes in order."""
    hashes = []
    for candidate in asked(strategy, steps):
        hashes.append(candidate.arch.hash())
        strategy.tell(candidate, observe(candidate, strategy.objectives))
    return hashes


def goals(name: str):
    """The objectives a strategy is tested with: one, or two where it needs several."""
    return TWO if STRATEGIES.get(name).min_objectives > 1 else ONE


def smoke(name: str, objectives) -> dict:
    """The options a strategy is tested with: its cheapest configuration and what the objectives require."""
    strategy = STRATEGIES.get(name)
    return {**strategy.smoke_options, **strategy.required_options(objectives)}


def make(name: str, seed: int = 0, objectives=None, budget: int = 60):
    objectives = objectives or goals(name)
    strategy = get_strategy(name, SPACE, objectives, seed=seed, budget=budget, options=smoke(name, objectives))
    strategy.bind(SearchContext.of(DATA))
    return strategy


@pytest.mark.parametrize("name", NAMES)
def test_every_proposal_is_a_member_of_the_space(name):
    strategy = make(name)
    proposals = 0
    for candidate in asked(strategy, 25):
        proposals += 1
        assert SPACE.contains(candidate.arch) and isinstance(candidate.info, dict)
        json.dumps(candidate.info)
        strategy.tell(candidate, observe(candidate, strategy.objectives))
    assert proposals >= 3


@pytest.mark.parametrize("name", NAMES)
def test_the_same_seed_gives_the_same_proposals(name):
    proposals = drive(make(name, seed=4), 30)
    assert drive(make(name, seed=4), 30) == proposals
    assert drive(make(name, seed=5), 30) != proposals


@pytest.mark.parametrize("name", NAMES)
def test_a_state_dict_round_trip_gives_the_same_next_proposals(name):
    original = make(name, seed=2)
    drive(original, 23)
    state = json.loads(json.dumps(original.state_dict()))  # the state must survive JSON, as it is stored
    restored = make(name, seed=99)
    restored.load_state_dict(state)
    assert drive(restored, 20) == drive(original, 20)


def drive_in_flight(strategy, steps: int, in_flight: list[Candidate]) -> list[str]:
    """Ask up to ``steps`` times keeping three evaluations in flight (three workers), each announced as the search
    loop announces it and told oldest first; the proposed hashes in order."""
    hashes = []
    for candidate in asked(strategy, steps):
        assert SPACE.contains(candidate.arch)
        candidate.info["hash"] = candidate.arch.hash()
        strategy.evaluating(candidate)
        hashes.append(candidate.info["hash"])
        in_flight.append(candidate)
        if len(in_flight) == 3:
            done = in_flight.pop(0)
            strategy.tell(done, observe(done, strategy.objectives))
    return hashes


@pytest.mark.parametrize("name", NAMES)
def test_evaluations_in_flight_are_announced_and_survive_a_state_round_trip(name):
    original, in_flight = make(name, seed=3), []
    assert drive_in_flight(original, 20, in_flight)
    state = json.loads(json.dumps(original.state_dict()))
    restored = make(name, seed=98)
    restored.load_state_dict(state)
    copies = [Candidate(candidate.arch, dict(candidate.info)) for candidate in in_flight]
    assert drive_in_flight(restored, 15, copies) == drive_in_flight(original, 15, in_flight)


@pytest.mark.parametrize("name", NAMES)
def test_seeds_are_told_before_the_first_ask(name):
    strategy = make(name)
    seeds = SPACE.seeds()
    assert seeds
    for arch in seeds:
        seed = Candidate(arch, {"origin": "seed", "seed": arch.name})
        strategy.tell(seed, observe(seed, strategy.objectives))
    assert all(SPACE.contains(candidate.arch) for candidate in asked(strategy, 3))


@pytest.mark.parametrize("name", NAMES)
def test_failures_are_told_and_survive(name):
    strategy = make(name)
    for candidate in asked(strategy, 20):
        strategy.tell(candidate, Observation.failure("diverged"))
    drive(strategy, 10)
    json.dumps(strategy.state_dict())


@pytest.mark.parametrize("name", NAMES)
def test_several_objectives_where_declared(name):
    if not STRATEGIES.get(name).multi_objective:
        with pytest.raises(NasbenchError, match=f"strategy {name!r} optimizes one objective"):
            make(name, objectives=TWO)
        return
    required = STRATEGIES.get(name).required_options(TWO)
    if required:  # a strategy that scalarizes several objectives says which options it needs for them
        with pytest.raises(NasbenchError, match="|".join(required)):
            get_strategy(name, SPACE, TWO)
    strategy = make(name, objectives=TWO)
    assert len(set(drive(strategy, 40))) > 10


@pytest.mark.parametrize("name", NAMES)
def test_options_are_declared_and_checked(name):
    strategy_class = STRATEGIES.get(name)
    for option in strategy_class.options:
        assert option.name.isidentifier() and option.help and option.type in (int, float, str, bool)
    with pytest.raises(NasbenchError, match=f"strategy {name!r}: unknown option"):
        get_strategy(name, SPACE, goals(name), options={"no_such_option": 1})
    for option in strategy_class.options:
        if option.type in (int, float, bool):
            with pytest.raises(NasbenchError, match=f"option {option.name!r} expects"):
                get_strategy(name, SPACE, goals(name), options={option.name: "not-a-number"})


BUDGET = 45
CHECKPOINT_EVERY = 7
# Kill points: during the seed (nb201 has one), on the first evaluation after a checkpoint, at a random evaluation,
# and at a random evaluation of a study that has no checkpoint yet (resumed by replay from the start).
KILLS = {"seed": (1, CHECKPOINT_EVERY), "after-checkpoint": (CHECKPOINT_EVERY + 1, CHECKPOINT_EVERY),
         "random": (None, CHECKPOINT_EVERY), "no-checkpoint": (None, 1000)}
# Every strategy is killed where its own state matters: after a checkpoint with observations to replay on top of it,
# and with nothing but the replay. A kill during the seed (the strategy has proposed nothing) or just after a
# checkpoint (its state restored with nothing to replay, what the state_dict round trip above checks in-process) is
# the loop's case, run for one black-box strategy and one one-shot strategy.
KILL_CASES = ([(name, kill) for name in NAMES for kill in ("random", "no-checkpoint")]
              + [(name, kill) for name in ("evolution", "gdas") for kill in ("seed", "after-checkpoint")])


def sequence(study) -> list[str]:
    return [trial.user_attrs["hash"] for trial in evaluated_trials(study)]


@functools.cache
def uninterrupted(name: str) -> list[str]:
    results = search(strategy=name, space="nb201", evaluator=KillAt(), budget=BUDGET, seed=3, storage="memory",
                     study="exact", progress=False, checkpoint_every=CHECKPOINT_EVERY,
                     objectives=format_objectives(goals(name)), strategy_options=smoke(name, goals(name)))
    return sequence(results.study)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "kill"), KILL_CASES)
def test_a_search_killed_and_rerun_proposes_exactly_the_uninterrupted_sequence(name, kill, tmp_path):
    expected = uninterrupted(name)
    # A strategy that runs out of new proposals (a one-shot search) stops early: the kill points fall inside its run.
    assert len(expected) == BUDGET or len(expected) >= CHECKPOINT_EVERY + 1
    kill_at, every = KILLS[kill]
    kill_at = kill_at or random.Random(f"{name}-{kill}").randint(3, len(expected) - 3)
    url = f"sqlite:///{tmp_path / 'exact.db'}"
    options = dict(strategy=name, space="nb201", budget=BUDGET, seed=3, storage=url, study="exact",
                   checkpoint_every=every, objectives=format_objectives(goals(name)),
                   strategy_options=smoke(name, goals(name)))
    assert exit_code_of_search(kill_at, **options) == -9  # SIGKILL, in the middle of evaluation number kill_at
    stored = optuna.load_study(storage=url, study_name="exact").get_trials()
    assert [t.state.name for t in stored].count("RUNNING") == 1 and len(stored) == kill_at

    assert exit_code_of_search(None, **options) == 0
    study = optuna.load_study(storage=url, study_name="exact")
    assert sequence(study) == expected
    stale = [t for t in study.get_trials() if t.user_attrs.get("outcome", {}).get("stale")]
    assert len(stale) == 1 and stale[0].user_attrs["hash"] == expected[kill_at - 1]
