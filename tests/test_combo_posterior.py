"""COMBO's priors and its slice-sampling sweep over the GP hyper-parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from strategies.combo_posterior import (
    LOG_BETA_UPPER,
    LOG_LOWER,
    Hyperparameters,
    Outputs,
    kernel_range,
    log_prior_beta,
    log_prior_mean,
    log_prior_noise,
    log_prior_signal,
    sweep,
)
from strategies.diffusion_kernel import FactorGraph

GRAPHS = [FactorGraph.complete(5), FactorGraph.path_graph(4)]
OUTPUTS = Outputs.of(np.array([70.0, 80.0, 84.0, 60.0]), GRAPHS)
START = Hyperparameters(72.0, 0.0, -2.0, (0.0, 0.0))


def test_the_priors_vanish_outside_their_bounds():
    assert log_prior_beta(LOG_LOWER - 0.1) == -math.inf and log_prior_beta(LOG_BETA_UPPER + 0.1) == -math.inf
    assert math.isfinite(log_prior_beta(0.0)) and log_prior_beta(-3.0) > log_prior_beta(3.0)  # small betas likelier
    assert log_prior_noise(LOG_LOWER - 1) == -math.inf and log_prior_noise(-5.0) > log_prior_noise(2.0)
    assert log_prior_mean(59.0, OUTPUTS) == -math.inf and log_prior_mean(85.0, OUTPUTS) == -math.inf
    assert log_prior_mean(72.0, OUTPUTS) > log_prior_mean(62.0, OUTPUTS)  # peaked at the middle of the outputs
    assert math.isfinite(log_prior_signal(math.log(OUTPUTS.variance), OUTPUTS))


def test_the_kernel_range_of_a_complete_graph():
    low, high = kernel_range([FactorGraph.complete(3)])
    mean = (1 + 2 * math.exp(-3)) / 3
    assert low == pytest.approx(math.exp(-3) / mean) and high == pytest.approx(1 / mean)


def grid_cdf(log_density, low: float, high: float):
    """The normalized CDF of an unnormalized log density on [low, high], by the trapezoid rule on a fine grid."""
    grid = np.linspace(low, high, 20001)
    density = np.exp([log_density(x) for x in grid])
    cumulative = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(grid))])
    return lambda x: np.interp(x, grid, cumulative / cumulative[-1])


def test_without_data_the_sweeps_draw_from_the_priors():
    rng = np.random.default_rng(0)
    hyper, draws = START, []
    for _ in range(1600):
        hyper = sweep(hyper, lambda _: 0.0, OUTPUTS, rng)
        draws.append(hyper)
    kept = draws[100::3]
    for values, log_density, low, high in [
        ([h.log_betas[0] for h in kept], log_prior_beta, LOG_LOWER, LOG_BETA_UPPER),
        ([h.log_betas[1] for h in kept], log_prior_beta, LOG_LOWER, LOG_BETA_UPPER),
        ([h.mean for h in kept], lambda x: log_prior_mean(x, OUTPUTS), OUTPUTS.low, OUTPUTS.high),
    ]:
        assert stats.kstest(values, grid_cdf(log_density, low, high)).pvalue > 0.01


def test_a_likelihood_pulls_the_sweeps_towards_it():
    # a likelihood peaked at log beta = (-1, 2): the draws gather there, far from the prior's preference
    def log_likelihood(hyper: Hyperparameters) -> float:
        return -50.0 * ((hyper.log_betas[0] + 1.0) ** 2 + (hyper.log_betas[1] - 2.0) ** 2)

    rng = np.random.default_rng(1)
    hyper, kept = START, []
    for step in range(300):
        hyper = sweep(hyper, log_likelihood, OUTPUTS, rng)
        if step >= 50:
            kept.append(hyper.log_betas)
    assert np.allclose(np.mean(kept, axis=0), [-1.0, 2.0], atol=0.1)


def test_a_sample_round_trips_through_json():
    assert Hyperparameters.from_list(START.to_list()) == START
    assert np.allclose(START.betas, [1.0, 1.0])
