from __future__ import annotations

import math

import pytest
from search_toys import ToySpace

import strategies
from nasbench.errors import NasbenchError
from nasbench.objectives import Objective, parse_objectives
from nasbench.registry import Registry
from strategies import Observation

SCORE = parse_objectives("score:max")


def ok(*values: float) -> Observation:
    return Observation(True, tuple(values), {})


def test_registry_lists_and_builds_builtin_strategies():
    assert {"random", "evolution"} <= set(strategies.names())
    strategy = strategies.get("random", ToySpace(), SCORE, seed=1)
    assert strategy.name == "random" and strategy.config == {}
    with pytest.raises(NasbenchError, match=r"unknown strategy 'evolutoin' \(did you mean evolution\?"):
        strategies.get("evolutoin", ToySpace())
    with pytest.raises(NasbenchError, match=r"strategy 'random': unknown option\(s\) population \(options: none\)"):
        strategies.get("random", ToySpace(), options={"population": 3})


def test_budget_derived_defaults_and_given_options():
    evolution = strategies.get("evolution", ToySpace(), SCORE, budget=2000)
    assert (evolution.config["population"], evolution.config["tournament"]) == (100, 25)
    given = strategies.get("evolution", ToySpace(), SCORE, budget=2000,
                           options={"population": "12", "remove": "worst", "mutations_schedule": "3,5"})
    assert given.config == {"population": 12, "tournament": 25, "mutations_schedule": "3,5", "remove": "worst"}
    assert given.schedule == (3.0, 5.0)
    with pytest.raises(NasbenchError, match="option 'mutations_schedule': mutations schedule must be 'd,r'"):
        strategies.get("evolution", ToySpace(), SCORE, options={"mutations_schedule": "3"})
    with pytest.raises(NasbenchError, match="option 'population' must be at least 1, got 0"):
        strategies.get("evolution", ToySpace(), SCORE, options={"population": 0})


def test_random_search_samples_members_and_is_seeded():
    space = ToySpace()
    first = strategies.get("random", space, seed=7).ask()
    again = strategies.get("random", space, seed=7).ask()
    assert first.arch.hash() == again.arch.hash()
    proposals = strategies.get("random", space, seed=7)
    hashes = {proposals.ask().arch.hash() for _ in range(30)}
    assert len(hashes) > 15
    assert all(space.contains(proposals.ask().arch) for _ in range(5))


def test_fitness_orders_by_direction_and_failures_are_worst():
    space = ToySpace()
    maximize = strategies.get("random", space, parse_objectives("score:max"))
    minimize = strategies.get("random", space, parse_objectives("score:min"))
    assert maximize.fitness(ok(3.0)) > maximize.fitness(ok(1.0))
    assert minimize.fitness(ok(1.0)) > minimize.fitness(ok(3.0))
    for strategy in (maximize, minimize):
        assert strategy.fitness(Observation.failure("boom")) == (-math.inf,)
        assert strategy.fitness(ok(float("nan"))) == (-math.inf,)
    both = strategies.get("random", space, parse_objectives("score:max,params:min"))
    assert both.fitness(ok(3.0, 10.0)) == (3.0, -10.0)


def test_a_type_error_inside_a_constructor_is_not_reported_as_bad_options():
    registry: Registry = Registry("widget")

    @registry.register("broken")
    class Broken:
        def __init__(self, size: int = 1) -> None:
            raise TypeError("a bug inside the constructor")

    with pytest.raises(TypeError, match="a bug inside the constructor"):
        registry.create("broken", size=2)
    with pytest.raises(NasbenchError, match=r"widget 'broken': unknown option\(s\) colour \(options: size\)"):
        registry.create("broken", colour="red")
    assert Broken.name == "broken"  # the registry states the name once


def test_a_registry_refuses_a_second_entry_under_a_taken_name():
    registry: Registry = Registry("widget")
    registry.register("a", min)
    registry.register("a", min)  # the same entry again (a module imported twice) is harmless
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        registry.register("a", max)
    registry.register("a", max, replace=True)
    assert registry.get("a") is max and registry.names() == ["a"]


def test_objectives_parse_and_normalize_their_direction():
    assert parse_objectives("val_acc:max, params:MIN") == (Objective("val_acc", "maximize"), Objective("params", "min"))
    assert Objective("params", "min").direction == "minimize" and str(Objective("a", "maximize")) == "a:max"
    with pytest.raises(NasbenchError, match="named more than once"):
        parse_objectives("a:max,a:min")
    with pytest.raises(NasbenchError, match="direction must be max or min, got 'upward'"):
        Objective("a", "upward")
