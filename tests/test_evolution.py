from __future__ import annotations

import math

import pytest
from search_toys import ToySpace

from nasbench.errors import NasbenchError
from nasbench.objectives import crowded_ranks, pareto_fronts, parse_objectives
from strategies.base import Candidate, Observation
from strategies.evolution import RegularizedEvolution, default_population, mutation_count, parse_schedule

SCORE = parse_objectives("score:max")


def evolution(objectives=SCORE, **options) -> RegularizedEvolution:
    return RegularizedEvolution(ToySpace(), objectives, seed=0, options=options)


def scored(*values: float) -> Observation:
    return Observation(True, tuple(values), {})


def tell_scores(strategy: RegularizedEvolution, scores: list[float | None]) -> list[str]:
    """Tell one sampled candidate per score (None = a failure); returns their hashes in order."""
    space, hashes = strategy.space, []
    for i, score in enumerate(scores):
        arch = space.decode({f"w{k}": [2, 3, 4, 5][(i >> (2 * k)) % 4] for k in range(4)})
        observation = Observation.failure("boom") if score is None else scored(score)
        strategy.tell(Candidate(arch, {"origin": "sample"}), observation)
        hashes.append(arch.hash())
    return hashes


def population_hashes(strategy: RegularizedEvolution) -> list[str]:
    return [member.hash for member in strategy.population]


def test_aging_removes_the_oldest_even_when_it_is_the_best():
    strategy = evolution(population=3, tournament=2, remove="oldest")
    hashes = tell_scores(strategy, [10.0, 1.0, 5.0, 7.0])
    assert population_hashes(strategy) == hashes[1:]


def test_worst_removal_removes_the_least_fit_and_failures_first():
    strategy = evolution(population=3, tournament=2, remove="worst")
    hashes = tell_scores(strategy, [10.0, 1.0, 5.0, 7.0])
    assert population_hashes(strategy) == [hashes[0], hashes[2], hashes[3]]
    strategy.tell(Candidate(strategy.space.decode({f"w{k}": 5 for k in range(4)}), {}), Observation.failure("nan"))
    assert population_hashes(strategy) == [hashes[0], hashes[2], hashes[3]]


def test_failures_have_the_worst_fitness_and_can_still_age_out():
    strategy = evolution(population=2, tournament=2, remove="oldest")
    tell_scores(strategy, [None, 3.0])
    assert strategy.population[0].fitness == (-math.inf,)
    tell_scores(strategy, [4.0])
    assert [member.fitness for member in strategy.population] == [(3.0,), (4.0,)]


def test_samples_until_the_population_is_full_then_mutates_a_tournament_winner():
    strategy = evolution(population=4, tournament=50)
    assert strategy.ask().info["origin"] == "sample"
    hashes = tell_scores(strategy, [1.0, 9.0, 3.0])
    assert strategy.ask().info["origin"] == "sample"
    tell_scores(strategy, [2.0])
    space = strategy.space
    for _ in range(10):
        child = strategy.ask()
        assert child.info["origin"] == "mutation"
        # a tournament of 50 drawn from 4 members all but surely contains the best one
        assert child.info["parent"] == hashes[1]
        parent = next(m for m in strategy.population if m.hash == hashes[1])
        changed = [k for k, v in space.encode(child.arch).items() if v != space.encode(parent.arch)[k]]
        assert len(changed) == 1 and child.info["mutations"] == 1


def test_work_in_flight_counts_toward_the_population_so_that_workers_sample_exactly_p():
    strategy = evolution(population=5, tournament=2)
    in_flight, origins = [], []
    for _ in range(30):  # three workers: ask, announce, and tell the oldest once three are in flight
        candidate = strategy.ask()
        candidate.info["hash"] = candidate.arch.hash()
        strategy.evaluating(candidate)
        origins.append(candidate.info["origin"])
        in_flight.append(candidate)
        if len(in_flight) == 3:
            strategy.tell(in_flight.pop(0), scored(float(len(origins))))
    assert origins[:5] == ["sample"] * 5 and set(origins[5:]) == {"mutation"}


def test_another_searchers_evaluation_in_flight_fills_a_place_until_it_is_told():
    strategy = evolution(population=3, tournament=2)
    hashes = tell_scores(strategy, [1.0, 2.0])
    elsewhere = Candidate(strategy.space.decode({f"w{k}": 5 for k in range(4)}), {"origin": "sample"})
    elsewhere.info["hash"] = elsewhere.arch.hash()
    strategy.evaluating(elsewhere)
    assert strategy.ask().info["origin"] == "mutation"
    restored = evolution(population=3, tournament=2)
    restored.load_state_dict(strategy.state_dict())
    assert restored.in_flight == {elsewhere.info["hash"]}
    strategy.tell(elsewhere, scored(3.0))
    assert not strategy.in_flight and population_hashes(strategy) == [*hashes, elsewhere.info["hash"]]


def test_with_an_empty_population_it_samples_whatever_is_in_flight():
    strategy = evolution(population=2, tournament=2)
    for _ in range(3):
        candidate = strategy.ask()
        assert candidate.info["origin"] == "sample"
        candidate.info["hash"] = candidate.arch.hash()
        strategy.evaluating(candidate)


def test_tournament_of_one_picks_uniformly():
    strategy = evolution(population=4, tournament=1)
    hashes = tell_scores(strategy, [1.0, 9.0, 3.0, 2.0])
    parents = {strategy.ask().info["parent"] for _ in range(60)}
    assert parents == set(hashes)


def test_mutation_schedule_counts():
    assert [mutation_count((3, 2), i) for i in range(7)] == [3, 3, 2, 2, 1, 1, 1]
    assert [mutation_count((2.5, 1), i) for i in range(4)] == [3, 2, 1, 1]
    assert all(mutation_count(None, i) == 1 for i in range(5))
    assert parse_schedule("4,10") == (4.0, 10.0)
    assert parse_schedule(None) is None
    for bad in ("4", "a,b", "0.5,1", "2,0"):
        with pytest.raises(NasbenchError):
            parse_schedule(bad)


def test_schedule_applies_per_round_of_children_told():
    strategy = evolution(population=2, tournament=2, mutations_schedule="3,1")
    tell_scores(strategy, [1.0, 2.0])
    counts = []
    for _ in range(5):
        child = strategy.ask()
        counts.append(child.info["mutations"])
        strategy.tell(child, scored(0.0))
    assert counts == [3, 2, 1, 1, 1]


def test_bad_options_are_nasbench_errors():
    with pytest.raises(NasbenchError):
        evolution(remove="random")
    with pytest.raises(NasbenchError):
        evolution(population=0)


def test_default_population_scales_with_the_budget():
    assert default_population(30) == (10, 3)
    assert default_population(100) == (10, 3)
    assert default_population(2000) == (100, 25)


def test_a_minimized_objective_prefers_smaller_values():
    strategy = evolution(parse_objectives("score:min"), population=3, tournament=2, remove="worst")
    hashes = tell_scores(strategy, [10.0, 1.0, 5.0, 7.0])
    assert population_hashes(strategy) == [hashes[1], hashes[2], hashes[3]]


def test_pareto_fronts_and_crowding_distance():
    points = [(1.0, 5.0), (2.0, 4.0), (3.0, 3.0), (2.0, 2.0), (0.0, 0.0), (5.0, 1.0)]
    assert pareto_fronts(points) == [[0, 1, 2, 5], [3], [4]]
    ranks = crowded_ranks(points)
    assert [rank for rank, _ in ranks] == [0, 0, 0, 1, 2, 0]
    # boundary points of a front are infinitely far; inner ones by the normalized gaps of their neighbours
    assert ranks[0][1] == ranks[5][1] == math.inf
    assert ranks[1][1] == pytest.approx((3 - 1) / 4 + (5 - 3) / 4)
    assert ranks[2][1] == pytest.approx((5 - 2) / 4 + (4 - 1) / 4)


def test_several_objectives_tournament_and_removal_use_the_crowded_comparison():
    two = parse_objectives("score:max,cost:min")
    strategy = evolution(two, population=4, tournament=60, remove="worst")
    space = strategy.space
    archs = [space.decode({f"w{k}": [2, 3, 4, 5][(i >> (2 * k)) % 4] for k in range(4)}) for i in range(5)]
    # (score, cost): 0 and 1 are on the front, 2 is dominated by 1, 3 by everything; 4 dominates everything
    for arch, values in zip(archs, [(9.0, 5.0), (5.0, 1.0), (4.0, 2.0), (1.0, 9.0)]):
        strategy.tell(Candidate(arch, {"origin": "sample"}), scored(*values))
    picked = {strategy.ask().info["parent"] for _ in range(20)}
    assert picked <= {archs[0].hash(), archs[1].hash()}  # a front member always wins a large tournament
    strategy.tell(Candidate(archs[4], {"origin": "sample"}), scored(10.0, 0.5))
    assert archs[3].hash() not in population_hashes(strategy)  # the last front dies first
    strategy.tell(Candidate(space.decode({f"w{k}": 5 for k in range(4)}), {"origin": "sample"}),
                  Observation.failure("diverged"))
    assert len(strategy.population) == 4 and all(m.fitness != (-math.inf, -math.inf) for m in strategy.population)
