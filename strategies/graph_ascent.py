"""COMBO's acquisition optimizer: greedy ascent over the graph Cartesian product of the variables.

A point is one choice index per variable. Its neighbours change one variable by one step of that variable's graph
(any other choice of a categorical variable, an adjacent value of an ordinal one). ``ranked`` scores ``random``
uniform points and ``incumbent_neighbours`` random neighbours of each incumbent, keeps the ``starts`` best as starting
points, and from each climbs by best improvement until no neighbour scores higher (the reference:
``acquisition_optimizers/greedy_ascent.py`` from 20,000 random points and 10 neighbours of the incumbent, best 20).
It yields the points that are not excluded (already evaluated or in flight) best first: the climbs' local optima,
then everything else it scored.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence

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


def climb(starts: np.ndarray, values: np.ndarray, score: Score,
          graphs: Sequence[FactorGraph]) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Best-improvement ascent from each start (scored ``values``): (local optima, their scores, what was scored).

    The climbs run in lockstep, so that each round is one call of ``score`` (one posterior per sample, not one per
    start and sample).
    """
    points, values = starts.copy(), np.asarray(values, dtype=np.float64).copy()
    active = list(range(len(points)))
    scored = []
    for _ in range(MAX_CLIMB):
        around = [neighbours(points[i], graphs) for i in active]
        sizes = [len(block) for block in around]
        if not active or not sum(sizes):
            break
        block_values = score(np.concatenate(around))
        scored.append((np.concatenate(around), block_values))
        still, offset = [], 0
        for i, block, size in zip(active, around, sizes):
            if size:
                best = offset + int(np.argmax(block_values[offset:offset + size]))
                if block_values[best] > values[i]:
                    points[i], values[i] = block[best - offset], block_values[best]
                    still.append(i)
            offset += size
        active = still
    return points, values, scored


def ranked(score: Score, graphs: Sequence[FactorGraph], rng: np.random.Generator,
           incumbents: Sequence[np.ndarray] = (), excluded: Collection[tuple[int, ...]] = (),
           random: int = 20_000, incumbent_neighbours: int = 10, starts: int = 20) -> Iterator[np.ndarray]:
    """The points ascent reaches, best first, then every other point it scored, best first; none of ``excluded``.

    Everything is scored before the first point comes out (the random draws do not depend on how many are taken); a
    caller walks down the ranking until a point suits it (a point that decodes to no member of a space, say).
    """
    candidates = [random_points(graphs, random, rng)] if random else []
    for incumbent in incumbents:
        around = neighbours(np.asarray(incumbent, dtype=np.int64), graphs)
        if len(around):
            candidates.append(around[rng.permutation(len(around))[:incumbent_neighbours]])
    if not candidates:
        return iter(())
    pool = np.unique(np.concatenate(candidates), axis=0)  # a small space draws points twice: score each once
    values = score(pool)
    order = np.argsort(-values, kind="stable")[:starts]
    optima, optimum_values, scored = climb(pool[order], values[order], score, graphs)
    looked = np.concatenate([pool, *(points for points, _ in scored)])
    looked_values = np.concatenate([values, *(block for _, block in scored)])
    in_order = itertools.chain((optima[i] for i in np.argsort(-optimum_values, kind="stable")),
                               (looked[i] for i in np.argsort(-looked_values, kind="stable")))
    return _distinct(in_order, excluded)


def _distinct(points: Iterable[np.ndarray], excluded: Collection[tuple[int, ...]]) -> Iterator[np.ndarray]:
    seen = set(excluded)
    for point in points:
        key = tuple(int(v) for v in point)
        if key not in seen:
            seen.add(key)
            yield point
