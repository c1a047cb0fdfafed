from __future__ import annotations

from search_toys import ToyEvaluator, ToySpace, toy_score

from nasbench.app.search import search
from nasbench.objectives import parse_objectives
from strategies import Observation
from strategies import get as get_strategy

SCORE = parse_objectives("score:max")


def test_local_search_reaches_the_optimum_of_a_small_landscape():
    results = search(strategy="local", space=ToySpace(), evaluator=ToyEvaluator(raising=False), budget=60,
                     storage="memory", progress=False, seeds="none", strategy_options={"initial": 3})
    assert results.best_value == toy_score(ToySpace().decode({f"w{i}": 5 for i in range(4)})) == 50.0
    origins = [t.user_attrs["origin"] for t in results.study.get_trials()]
    assert origins[:3] == ["sample"] * 3 and set(origins[3:]) <= {"neighbour", "restart"}


def test_moves_on_the_first_improvement_and_restarts_at_a_local_optimum():
    space = ToySpace()
    strategy = get_strategy("local", space, SCORE, seed=1, options={"initial": 1})
    start = strategy.ask()
    strategy.tell(start, Observation(True, (10.0,), {}))
    first = strategy.ask()
    assert first.info == {"origin": "neighbour", "parent": start.arch.hash()}
    changed = [k for k, v in space.encode(first.arch).items() if v != space.encode(start.arch)[k]]
    assert len(changed) == 1
    strategy.tell(first, Observation(True, (11.0,), {}))  # an improvement: the search moves there
    assert strategy.current.hash == first.arch.hash()
    told = 0
    while True:
        candidate = strategy.ask()
        if candidate.info["origin"] == "restart":
            break
        assert candidate.info["parent"] == first.arch.hash()
        strategy.tell(candidate, Observation(True, (1.0,), {}))
        told += 1
    # every unvisited neighbour of the new point (12 one-variable changes, less the point it came from) was tried
    assert told == 11 and strategy.current is None
