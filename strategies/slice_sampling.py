"""Univariate slice sampling (Neal 2003, Annals of Statistics), as COMBO samples its GP's hyper-parameters.

One update draws a height under the density at the current point, finds an interval around the point by the
doubling procedure (an initial ``width`` placed at random, doubled on a random side while either end is still inside
the slice, at most ``max_doublings`` times) and samples from it by shrinkage: a uniform point inside the slice that
passes Neal's acceptance test for the doubling procedure is the new point, anything else narrows the interval towards
the current point. The update leaves the density invariant, so repeated updates form a Markov chain towards it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

LogDensity = Callable[[float], float]
MIN_WIDTH = 1e-12  # an interval shrunk below this around the current point returns the point itself


def slice_sample(log_density: LogDensity, x0: float, rng: np.random.Generator, width: float = 1.0,
                 max_doublings: int = 10) -> float:
    """One slice-sampling update of ``x0`` under ``log_density`` (unnormalized; -inf outside its support)."""
    current = log_density(x0)
    if not math.isfinite(current):
        raise ValueError(f"slice sampling starts at a point of zero density ({x0:g})")
    height = current - rng.standard_exponential()  # log(u * p(x0)) for u uniform in (0, 1)
    lower = x0 - width * rng.random()
    upper = lower + width
    cache: dict[float, float] = {}

    def density(x: float) -> float:
        if x not in cache:
            cache[x] = log_density(x)
        return cache[x]

    for _ in range(max_doublings):
        if density(lower) <= height and density(upper) <= height:
            break
        if rng.random() < 0.5:
            lower -= upper - lower
        else:
            upper += upper - lower
    left, right = lower, upper
    while right - left > MIN_WIDTH:
        x1 = left + rng.random() * (right - left)
        if density(x1) > height and _acceptable(x0, x1, height, lower, upper, width, density):
            return x1
        if x1 < x0:
            left = x1
        else:
            right = x1
    return x0


def _acceptable(x0: float, x1: float, height: float, lower: float, upper: float, width: float,
                density: LogDensity) -> bool:
    """Neal's test (his figure 6): whether the doubling from ``x1`` could have produced the same interval."""
    differ = False
    while upper - lower > 1.1 * width:
        middle = (lower + upper) / 2
        if (x0 < middle) != (x1 < middle):
            differ = True
        if x1 < middle:
            upper = middle
        else:
            lower = middle
        if differ and height >= density(lower) and height >= density(upper):
            return False
    return True
