"""COMBO's GP under one hyper-parameter sample: likelihood, posterior and the averaged expected improvement."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gpytorch.distributions import MultivariateNormal
from linear_operator.operators import CholLinearOperator, TriangularLinearOperator
from scipy import stats

from strategies.combo_gp import DiffusionGP, expected_improvement
from strategies.combo_posterior import Hyperparameters
from strategies.diffusion_kernel import DiffusionKernel, FactorGraph

GRAPHS = [FactorGraph.complete(4), FactorGraph.path_graph(5), FactorGraph.complete(3)]
KERNEL = DiffusionKernel(GRAPHS)
RNG = np.random.default_rng(0)
POINTS = np.unique(np.column_stack([RNG.integers(g.size, size=30) for g in GRAPHS]), axis=0)  # distinct points
COUNT = len(POINTS)
VALUES = POINTS[:, 1] * 1.5 + (POINTS[:, 0] == 2) * 2.0 + RNG.normal(scale=0.1, size=COUNT)
HYPER = Hyperparameters(3.0, 1.0, -4.0, (-1.0, 0.5, 0.0))


def dense(hyper: Hyperparameters, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return KERNEL.gram(KERNEL.one_hot(left), KERNEL.one_hot(right), hyper.betas, np.exp(hyper.log_signal))


def test_the_log_marginal_likelihood_is_the_gaussian_density():
    gp = DiffusionGP(KERNEL, POINTS, VALUES)
    covariance = dense(HYPER, POINTS, POINTS) + np.exp(HYPER.log_noise) * np.eye(COUNT)
    expected = stats.multivariate_normal(np.full(COUNT, HYPER.mean), covariance).logpdf(VALUES)
    assert gp.log_marginal_likelihood(HYPER) == pytest.approx(expected, rel=1e-9)
    factor = CholLinearOperator(TriangularLinearOperator(torch.linalg.cholesky(torch.from_numpy(covariance))))
    library = MultivariateNormal(torch.full((COUNT,), HYPER.mean, dtype=torch.float64), factor)
    assert gp.log_marginal_likelihood(HYPER) == pytest.approx(float(library.log_prob(torch.from_numpy(VALUES))),
                                                              rel=1e-9)


def test_the_posterior_is_the_textbook_one_and_interpolates_with_little_noise():
    gp = DiffusionGP(KERNEL, POINTS, VALUES)
    test = np.column_stack([RNG.integers(g.size, size=7) for g in GRAPHS])
    covariance = dense(HYPER, POINTS, POINTS) + np.exp(HYPER.log_noise) * np.eye(COUNT)
    cross = dense(HYPER, test, POINTS)
    mean, variance = gp.predict(HYPER, KERNEL.one_hot(test))
    assert np.allclose(mean.numpy(), HYPER.mean + cross @ np.linalg.solve(covariance, VALUES - HYPER.mean))
    expected = np.diag(dense(HYPER, test, test)) - np.einsum("ij,ji->i", cross, np.linalg.solve(covariance, cross.T))
    assert np.allclose(variance.numpy(), expected, atol=1e-9)
    at_data, spread = gp.predict(HYPER, KERNEL.one_hot(POINTS[:3]))
    assert np.allclose(at_data.numpy(), VALUES[:3], atol=0.05) and (spread.numpy() < 0.02).all()


def test_the_expected_improvement_is_averaged_over_samples_and_prefers_promising_points():
    gp = DiffusionGP(KERNEL, POINTS, VALUES)
    other = Hyperparameters(3.0, 0.0, -3.0, (0.5, 0.0, -2.0))
    points = np.array([[2, 4, 0], [0, 0, 1]])  # the function is highest at the first, lowest at the second
    best = float(VALUES.max())
    both = expected_improvement(gp, [HYPER, other], points, best)
    each = [expected_improvement(gp, [hyper], points, best) for hyper in (HYPER, other)]
    assert np.allclose(both, (each[0] + each[1]) / 2)
    assert both[0] > both[1] >= 0
    mean, variance = gp.predict(HYPER, KERNEL.one_hot(points[:1]))
    z = (mean.item() - best) / variance.sqrt().item()
    closed = variance.sqrt().item() * (z * stats.norm.cdf(z) + stats.norm.pdf(z))
    assert each[0][0] == pytest.approx(closed, rel=1e-6)


def test_the_likelihood_updated_for_one_beta_equals_the_one_computed_afresh():
    gp = DiffusionGP(KERNEL, POINTS, VALUES)
    gp.log_marginal_likelihood(HYPER)
    for betas in ((-1.0, 2.0, 0.0), (-1.0, 2.0, -3.0), (1.0, 2.0, -3.0)):  # one beta at a time, as a sweep does
        moved = Hyperparameters(HYPER.mean, HYPER.log_signal, HYPER.log_noise, betas)
        fresh = DiffusionGP(KERNEL, POINTS, VALUES).log_marginal_likelihood(moved)
        assert gp.log_marginal_likelihood(moved) == pytest.approx(fresh, rel=1e-12)
