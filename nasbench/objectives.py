"""Objectives of a search (a metric and a direction) and the Pareto ranking that several of them need.

``val_acc:max,params:min`` names two objectives. Everything that compares results goes through ``oriented``: every
objective turned into "higher is better", with failures and missing or non-finite values the worst possible (-inf), so
strategies, the leaderboard and the store rank alike. ``pareto_fronts`` is NSGA-II's fast non-dominated sort and
``crowding_distances`` its crowding distance (Deb et al. 2002).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nasbench.errors import NasbenchError

MAXIMIZE = "maximize"
MINIMIZE = "minimize"
DIRECTIONS = {"max": MAXIMIZE, "maximize": MAXIMIZE, "min": MINIMIZE, "minimize": MINIMIZE}
# Every candidate's analytic size, reported by the search loop whatever the evaluator.
ANALYTIC_METRICS = ("params", "macs")


@dataclass(frozen=True)
class Objective:
    """One objective: the metric a search optimizes and its direction (``maximize`` or ``minimize``)."""

    metric: str
    direction: str = MAXIMIZE

    def __post_init__(self) -> None:
        direction = DIRECTIONS.get(str(self.direction).lower())
        if direction is None:
            raise NasbenchError(f"objective {self.metric!r}: direction must be max or min, got {self.direction!r}")
        object.__setattr__(self, "direction", direction)  # "max" and "maximize" are one direction

    @classmethod
    def parse(cls, text: str) -> Objective:
        """``metric:max`` or ``metric:min`` (``maximize``/``minimize`` also accepted)."""
        metric, sep, direction = str(text).strip().rpartition(":")
        if not sep or not metric.strip():
            raise NasbenchError(f"objective {text!r}: expected METRIC:max or METRIC:min")
        if direction.strip().lower() not in DIRECTIONS:
            raise NasbenchError(f"objective {text!r}: direction must be max or min, got {direction.strip()!r}")
        return cls(metric.strip(), DIRECTIONS[direction.strip().lower()])

    def __str__(self) -> str:
        return f"{self.metric}:{'max' if self.direction == MAXIMIZE else 'min'}"

    def oriented(self, value: float | None) -> float:
        """``value`` as "higher is better"; None, NaN and infinities are the worst possible (-inf)."""
        if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
            return -math.inf
        return float(value) if self.direction == MAXIMIZE else -float(value)

    def better(self, a: float, b: float) -> bool:
        """Whether value ``a`` is strictly better than ``b``."""
        return self.oriented(a) > self.oriented(b)


def parse_objectives(spec: str | Objective | Sequence[str | Objective]) -> tuple[Objective, ...]:
    """Objectives from ``"a:max,b:min"``, one Objective, or a sequence of either; a metric may appear once."""
    items: Sequence[str | Objective]
    if isinstance(spec, Objective):
        items = [spec]
    elif isinstance(spec, str):
        items = [part for part in spec.split(",") if part.strip()]
    else:
        items = list(spec)
    objectives = tuple(item if isinstance(item, Objective) else Objective.parse(item) for item in items)
    if not objectives:
        raise NasbenchError("objectives: name at least one, e.g. val_acc:max")
    metrics = [objective.metric for objective in objectives]
    repeated = sorted({metric for metric in metrics if metrics.count(metric) > 1})
    if repeated:
        raise NasbenchError(f"objectives: {', '.join(repeated)} named more than once")
    return objectives


def check_metrics(objectives: Sequence[Objective], reported: Sequence[str], who: str) -> None:
    """Raise if an objective is not among the ``reported`` metrics (the evaluator's plus the analytic ones)."""
    known = list(dict.fromkeys([*reported, *ANALYTIC_METRICS]))
    unknown = [objective.metric for objective in objectives if objective.metric not in known]
    if unknown:
        raise NasbenchError(f"unknown metric(s) {', '.join(unknown)} for {who} (metrics: {', '.join(known)})")


def format_objectives(objectives: Sequence[Objective]) -> str:
    """``a:max,b:min``: the text ``parse_objectives`` reads back."""
    return ",".join(str(objective) for objective in objectives)


def values_of(objectives: Sequence[Objective], metrics: Mapping[str, float]) -> tuple[float, ...]:
    """Each objective's value in ``metrics`` (NaN where missing)."""
    return tuple(float(metrics.get(objective.metric, math.nan)) for objective in objectives)


def oriented(objectives: Sequence[Objective], values: Sequence[float | None] | None) -> tuple[float, ...]:
    """``values`` (one per objective, None for a failure) as "higher is better" tuples; failures are all -inf."""
    if values is None:
        return tuple(-math.inf for _ in objectives)
    return tuple(objective.oriented(value) for objective, value in zip(objectives, values))


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether oriented point ``a`` Pareto-dominates ``b`` (no worse everywhere, better somewhere)."""
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def pareto_fronts(points: Sequence[Sequence[float]]) -> list[list[int]]:
    """Indices of ``points`` (oriented: higher is better) by non-dominated front, best front first."""
    dominated_by: list[list[int]] = [[] for _ in points]
    counts = [0] * len(points)
    for i, a in enumerate(points):
        for j in range(i + 1, len(points)):
            b = points[j]
            if dominates(a, b):
                dominated_by[i].append(j)
                counts[j] += 1
            elif dominates(b, a):
                dominated_by[j].append(i)
                counts[i] += 1
    fronts: list[list[int]] = []
    current = [i for i, count in enumerate(counts) if count == 0]
    while current:
        fronts.append(current)
        following = []
        for i in current:
            for j in dominated_by[i]:
                counts[j] -= 1
                if counts[j] == 0:
                    following.append(j)
        current = sorted(following)
    return fronts


def crowding_distances(points: Sequence[Sequence[float]], front: Sequence[int]) -> dict[int, float]:
    """NSGA-II's crowding distance of each member of ``front``: boundary points are infinitely far."""
    distance = {i: 0.0 for i in front}
    if len(front) <= 2:
        return {i: math.inf for i in front}
    for axis in range(len(points[front[0]])):
        ordered = sorted(front, key=lambda i: points[i][axis])
        low, high = points[ordered[0]][axis], points[ordered[-1]][axis]
        distance[ordered[0]] = distance[ordered[-1]] = math.inf
        span = high - low
        if not math.isfinite(span) or span <= 0:
            continue
        for before, here, after in zip(ordered, ordered[1:], ordered[2:]):
            distance[here] += (points[after][axis] - points[before][axis]) / span
    return distance


def crowded_ranks(points: Sequence[Sequence[float]]) -> list[tuple[int, float]]:
    """(front index, crowding distance) of every point.

    NSGA-II's crowded comparison prefers a lower front, then a larger distance.
    """
    ranks: list[tuple[int, float]] = [(0, 0.0)] * len(points)
    for level, front in enumerate(pareto_fronts(points)):
        for i, distance in crowding_distances(points, front).items():
            ranks[i] = (level, distance)
    return ranks
