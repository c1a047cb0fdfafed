from __future__ import annotations

import json
import math

import pytest
from search_toys import ToySpace

import strategies
from nasbench.errors import NasbenchError
from workers.base import Result


def ok(value: float) -> Result:
    return Result("ok", {"score": value})


def test_registry_lists_and_builds_builtin_strategies():
    assert {"random", "evolution"} <= set(strategies.names())
    strategy = strategies.get("random", ToySpace(), seed=1, objective="score")
    assert strategy.name == "random"
    with pytest.raises(NasbenchError, match="unknown strategy"):
        strategies.get("nope", ToySpace())
    with pytest.raises(NasbenchError, match="bad options"):
        strategies.get("random", ToySpace(), population=3)


def test_random_search_samples_members_and_is_seeded():
    space = ToySpace()
    first = [strategies.get("random", space, seed=7).ask() for _ in range(1)][0]
    again = strategies.get("random", space, seed=7).ask()
    assert first.arch.hash() == again.arch.hash()
    proposals = strategies.get("random", space, seed=7)
    hashes = {proposals.ask().arch.hash() for _ in range(30)}
    assert len(hashes) > 15
    assert all(space.contains(proposals.ask().arch) for _ in range(5))


def test_fitness_orders_by_direction_and_failures_are_worst():
    space = ToySpace()
    maximize = strategies.get("random", space, objective="score")
    minimize = strategies.get("random", space, objective="score", direction="minimize")
    assert maximize.fitness(ok(3.0)) > maximize.fitness(ok(1.0))
    assert minimize.fitness(ok(1.0)) > minimize.fitness(ok(3.0))
    for strategy in (maximize, minimize):
        assert strategy.fitness(Result.failure("boom")) == -math.inf
        assert strategy.fitness(ok(float("nan"))) == -math.inf
        assert strategy.fitness(Result("ok", {"other": 1.0})) == -math.inf


@pytest.mark.parametrize("name", ["random", "evolution"])
def test_state_dict_is_json_and_restores_the_random_stream(name):
    space = ToySpace()
    options = {"population": 3, "tournament": 2} if name == "evolution" else {}
    strategy = strategies.get(name, space, seed=3, objective="score", **options)
    for value in (1.0, 5.0, 2.0, 4.0):
        candidate = strategy.ask()
        strategy.tell(candidate, ok(value) if value != 2.0 else Result.failure("x"))
    state = json.loads(json.dumps(strategy.state_dict(), allow_nan=False))
    twin = strategies.get(name, space, seed=99, objective="score", **options)
    twin.load_state_dict(state)
    for _ in range(5):
        assert strategy.ask().arch.hash() == twin.ask().arch.hash()
