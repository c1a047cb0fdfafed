"""COMBO's acquisition optimizer: greedy ascent over the graph Cartesian product of the variables.

A point is one choice index per variable. Its neighbours change one variable by one step of that variable's graph
(any other choice of a categorical variable, an adjacent value of an ordinal one). ``maximize`` scores ``random``
uniform points and ``incumbent_neighbours`` random neighbours of each incumbent, keeps the ``starts`` best as starting
points, and from each climbs by best improvement until no neighbour scores higher (the reference:
``acquisition_optimizers/greedy_ascent.py`` from 20,000 random points and 10 neighbours of the incumbent, best 20).
It returns the best point reached that is not excluded (already evaluated or in flight): the climbs' local optima
first, then, if every one of them is excluded, the best-scored point of everything it looked at.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import numpy as np

from strategies.diffusion_kernel import FactorGraph

Score = Callable[[np.ndarray], np.ndarray]  # (points, variables) int array -> one score per point, higher is better
MAX_CLIMB = 1000  # steps of one climb, a bound that a finite graph with a strict ascent never reaches


def neighbours(point: np.ndarray, graphs: Sequence[FactorGraph]) -> np.ndarray:
    """Every point one graph step from ``point``, one per row."""
    rows = []
    for column, graph in enumerate(graphs):
        for value in graph.neighbours(int(point[column])):
            row = point.copy()
            row[column] = value
            rows.append(row)
    return np.array(rows, dtype=np.int64).reshape(len(rows), len(graphs))


def random_points(graphs: Sequence[FactorGraph], count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` uniform points of the product graph."""
    return np.column_stack([rng.integers(graph.size, size=count) for graph in graphs]).astype(np.int64)


def climb(start: np.ndarray, score: Score,
          graphs: Sequence[FactorGraph]) -> tuple[np.ndarray, float, list[tuple[np.ndarray, np.ndarray]]]:
    """Best-improvement ascent from ``start``: (local optimum, its score, the neighbourhoods scored on the way)."""
    point, value = start, float(score(start[None])[0])
    scored = []
    for _ in range(MAX_CLIMB):
        around = neighbours(point, graphs)
        if not len(around):
            break
        values = score(around)
        scored.append((around, values))
        best = int(np.argmax(values))
        if values[best] <= value:
            break
        point, value = around[best], float(values[best])
    return point, value, scored


def maximize(score: Score, graphs: Sequence[FactorGraph], rng: np.random.Generator,
             incumbents: Sequence[np.ndarray] = (), excluded: Collection[tuple[int, ...]] = (),
             random: int = 20_000, incumbent_neighbours: int = 10, starts: int = 20) -> np.ndarray | None:
    """The best point that ascent reaches and ``excluded`` does not hold (None if every point looked at is)."""
    candidates = [random_points(graphs, random, rng)] if random else []
    for incumbent in incumbents:
        around = neighbours(np.asarray(incumbent, dtype=np.int64), graphs)
        if len(around):
            candidates.append(around[rng.permutation(len(around))[:incumbent_neighbours]])
    if not candidates:
        return None
    pool = np.concatenate(candidates)
    values = score(pool)
    order = np.argsort(-values, kind="stable")[:starts]
    optima, looked = [], [(pool, values)]
    for index in order:
        optimum, value, scored = climb(pool[index], score, graphs)
        optima.append((value, optimum))
        looked += scored
    for _, optimum in sorted(optima, key=lambda pair: -pair[0]):
        if tuple(int(v) for v in optimum) not in excluded:
            return optimum
    points = np.concatenate([points for points, _ in looked])
    values = np.concatenate([values for _, values in looked])
    for index in np.argsort(-values, kind="stable"):
        if tuple(int(v) for v in points[index]) not in excluded:
            return points[index]
    return None
