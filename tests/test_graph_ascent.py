"""COMBO's acquisition optimizer: greedy ascent on the product of complete and path graphs."""

from __future__ import annotations

import itertools

import numpy as np

from strategies.diffusion_kernel import FactorGraph
from strategies.graph_ascent import climb, neighbours, ranked

GRAPHS = [FactorGraph.complete(4), FactorGraph.path_graph(6), FactorGraph.complete(3), FactorGraph.path_graph(5)]
TARGET = np.array([2, 4, 0, 1])


def score(points: np.ndarray) -> np.ndarray:
    """A known function: categorical matches count 3, ordinal distance costs 1 per step; one maximum, at TARGET."""
    matches = (points[:, [0, 2]] == TARGET[[0, 2]]).sum(axis=1) * 3.0
    distance = np.abs(points[:, [1, 3]] - TARGET[[1, 3]]).sum(axis=1)
    return matches - distance


def test_neighbours_change_one_variable_by_one_graph_step():
    around = neighbours(np.array([0, 0, 1, 2]), GRAPHS)
    assert len(around) == 3 + 1 + 2 + 2  # K4: 3 others; P6 at an end: 1; K3: 2; P5 inside: 2
    changed = (around != np.array([0, 0, 1, 2])).sum(axis=1)
    assert (changed == 1).all()
    assert {tuple(row) for row in around if row[1] != 0} == {(0, 1, 1, 2)}  # the path moves to an adjacent value


def test_a_climb_reaches_the_maximum_of_a_unimodal_function():
    starts = np.array([[0, 0, 1, 4], [3, 5, 2, 0]])
    optima, values, _ = climb(starts, score(starts), score, GRAPHS)
    assert all(tuple(optimum) == tuple(TARGET) for optimum in optima) and (values == 6.0).all()


def test_the_ranking_starts_at_the_maximum_and_skips_excluded_points():
    rng = np.random.default_rng(0)
    everything = np.array(list(itertools.product(*(range(g.size) for g in GRAPHS))))
    best = everything[np.argmax(score(everything))]
    assert tuple(next(ranked(score, GRAPHS, rng, random=30, starts=3))) == tuple(best)
    order = list(ranked(score, GRAPHS, rng, random=30, starts=3, excluded={tuple(int(v) for v in TARGET)}))
    assert tuple(order[0]) != tuple(TARGET)
    assert score(order[0][None])[0] == np.sort(score(everything))[-2]  # a runner-up: 5.0, one ordinal step away
    keys = [tuple(point) for point in order]
    assert len(keys) == len(set(keys)) and tuple(TARGET) not in keys and len(keys) > 20


def test_incumbent_neighbours_alone_are_enough_starts():
    rng = np.random.default_rng(1)
    found = next(ranked(score, GRAPHS, rng, incumbents=[np.array([2, 3, 0, 1])], random=0))
    assert tuple(found) == tuple(TARGET)
    assert list(ranked(score, GRAPHS, rng, random=0)) == []  # nothing to start from
