"""Univariate slice sampling draws from the density it is given."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from strategies.slice_sampling import slice_sample


def chain(log_density, start: float, draws: int, width: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x, out = start, []
    for _ in range(draws):
        x = slice_sample(log_density, x, rng, width=width)
        out.append(x)
    return np.array(out)


@pytest.mark.parametrize("name, log_density, start, distribution", [
    ("normal", lambda x: -0.5 * ((x - 3.0) / 2.0) ** 2, 0.0, stats.norm(3.0, 2.0)),
    ("gamma", lambda x: 2.0 * math.log(x) - x if x > 0 else -math.inf, 1.0, stats.gamma(3.0)),
    ("truncated", lambda x: -0.5 * x * x if -1.0 <= x <= 2.0 else -math.inf, 0.5, stats.truncnorm(-1.0, 2.0)),
])
def test_the_draws_follow_the_density(name, log_density, start, distribution):
    # every 5th of 2,500 draws after 100: close to independent, tested against the exact distribution
    draws = chain(log_density, start, 2600)[100::5]
    assert stats.kstest(draws, distribution.cdf).pvalue > 0.01


def test_a_narrow_initial_width_still_reaches_the_tails_by_doubling():
    draws = chain(lambda x: -0.5 * (x / 50.0) ** 2, 0.0, 600, width=1.0)
    assert draws.std() > 25.0


def test_a_start_outside_the_support_is_refused():
    with pytest.raises(ValueError, match="zero density"):
        slice_sample(lambda x: -math.inf, 0.0, np.random.default_rng(0))


def test_the_test_can_tell_a_shifted_density():
    draws = chain(lambda x: -0.5 * ((x - 3.0) / 2.0) ** 2, 0.0, 2600)[100::5]
    assert stats.kstest(draws, stats.norm(3.5, 2.0).cdf).pvalue < 0.01
