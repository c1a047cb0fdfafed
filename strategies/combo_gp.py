"""COMBO's Gaussian process over the product graph, under one hyper-parameter sample, built on gpytorch and botorch.

The prior is a constant mean plus the diffusion kernel (``strategies.diffusion_kernel``) times the signal variance,
with Gaussian noise. linear_operator's Cholesky (with jitter when the kernel is nearly singular) factorizes the
covariance for the log marginal likelihood the slice sampler needs and for the posterior at new points; gpytorch's
``MultivariateNormal`` carries that posterior to botorch's ``LogExpectedImprovement``, and the expected improvement
is averaged over the posterior samples (COMBO marginalizes its acquisition over the hyper-parameters).

gpytorch and botorch are the ``combo`` extra (``pip install 'nasbench[combo]'``): they are imported where they are
used, so that the strategies load without them and without their import time, and ``require`` names what to install.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import torch

from nasbench.errors import NasbenchError
from nasbench.threads import num_threads
from strategies.combo_posterior import Hyperparameters
from strategies.diffusion_kernel import DiffusionKernel

THREADS = len(os.sched_getaffinity(0))  # the cores this process may use


def require() -> None:
    """A one-line NasbenchError saying what to install if the ``combo`` extra is missing."""
    try:
        import botorch.acquisition.analytic  # noqa: F401
        import gpytorch.distributions  # noqa: F401
        import linear_operator.utils.cholesky  # noqa: F401
        import threadpoolctl  # noqa: F401
    except ImportError as error:
        raise NasbenchError("COMBO needs botorch and gpytorch: pip install 'nasbench[combo]'") from error


class DiffusionGP:
    """The GP of observed ``values`` at ``points`` (one choice index per variable and row).

    A proposal evaluates the likelihood some 700 times while slice sampling (2,800 on a space of 32 variables) and
    predicts at 20,000 points under each of its samples, so the observed points are encoded once, the likelihood
    updates the kernel for the one beta a step changes and reuses it while only the signal or noise variance
    changes, and the Cholesky factor while only the mean does; each sample's factor and weights are kept for its
    predictions.
    """

    def __init__(self, kernel: DiffusionKernel, points: np.ndarray, values: np.ndarray) -> None:
        self.kernel = kernel
        self.points = np.asarray(points, dtype=np.int64)
        self.encoded = kernel.one_hot(self.points)
        self.values = torch.as_tensor(np.asarray(values, dtype=np.float64))
        self._correlation: tuple[tuple[float, ...], np.ndarray] | None = None  # the last log betas -> log_gram
        self._last: tuple[tuple[float, ...], torch.Tensor] | None = None  # (signal, noise, betas) -> Cholesky factor
        self._solved: dict[Hyperparameters, tuple[torch.Tensor, torch.Tensor]] = {}

    def _log_correlation(self, log_betas: tuple[float, ...]) -> np.ndarray:
        """The observations' ``log_gram`` under ``log_betas``, updated from the last one where few betas changed.

        A slice-sampling step changes one beta, which adds that factor's change of log kernel, gathered at the
        observed choices, to the sum: O(n^2) instead of O(n^2) times the choices of every variable.
        """
        cached = self._correlation
        changed = [] if cached is None else [i for i, (old, new) in enumerate(zip(cached[0], log_betas)) if old != new]
        if cached is None or len(changed) > len(log_betas) // 2:
            logs = self.kernel.log_gram(self.encoded, self.encoded, np.exp(np.asarray(log_betas)))
        else:
            logs = cached[1].copy()
            for index in changed:
                change = (self.kernel.log_factor(index, math.exp(log_betas[index]))
                          - self.kernel.log_factor(index, math.exp(cached[0][index])))
                column = self.points[:, index]
                logs += change[np.ix_(column, column)]
        self._correlation = log_betas, logs
        return logs

    def _factor(self, hyper: Hyperparameters, logs: np.ndarray) -> torch.Tensor:
        """The Cholesky factor of ``s^2 exp(logs) + noise I`` (linear_operator adds jitter if nearly singular)."""
        from linear_operator.utils.cholesky import psd_safe_cholesky

        covariance = torch.from_numpy(np.exp(logs + hyper.log_signal))
        covariance.diagonal().add_(math.exp(hyper.log_noise))
        return psd_safe_cholesky(covariance)

    def log_marginal_likelihood(self, hyper: Hyperparameters) -> float:
        """The log density of the values under ``hyper`` (-inf if the covariance cannot be factorized with jitter).

        It is the Gaussian density written on the Cholesky factor: gpytorch's ``MultivariateNormal`` on the same
        factor gives the same value (the tests check it) at twice the cost, and a proposal needs some 600 of them.
        """
        from linear_operator.utils.errors import NanError, NotPSDError

        key = (hyper.log_signal, hyper.log_noise, *hyper.log_betas)
        try:
            if self._last is None or self._last[0] != key:
                self._last = key, self._factor(hyper, self._log_correlation(hyper.log_betas))
        except (NotPSDError, NanError, RuntimeError):
            return -math.inf
        factor = self._last[1]
        whitened = torch.linalg.solve_triangular(factor, (self.values - hyper.mean)[:, None], upper=False)
        log_determinant = 2.0 * torch.log(torch.diagonal(factor)).sum()
        return float(-0.5 * ((whitened**2).sum() + log_determinant + len(factor) * math.log(2 * math.pi)))

    def predict(self, hyper: Hyperparameters, encoded: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The latent function's posterior mean and variance at points given ``one_hot`` (``kernel.one_hot``)."""
        from gpytorch import settings

        signal = float(np.exp(hyper.log_signal))
        factor, weights = self._solve(hyper)
        cross = torch.from_numpy(self.kernel.gram(self.encoded, encoded, hyper.betas, signal))  # observed x new
        mean = hyper.mean + (weights.T @ cross)[0]
        projected = torch.linalg.solve_triangular(factor, cross, upper=False)
        prior = torch.from_numpy(self.kernel.diagonal(encoded, hyper.betas, signal))
        # gpytorch rounds a variance below its minimum up to it, with a warning: the floor is that minimum
        floor = settings.min_variance.value(torch.float64)
        return mean, (prior - torch.linalg.vector_norm(projected, dim=0).square_()).clamp_min(floor)

    def _solve(self, hyper: Hyperparameters) -> tuple[torch.Tensor, torch.Tensor]:
        """The Cholesky factor and ``K^-1 (values - mean)`` under ``hyper``."""
        solved = self._solved.get(hyper)
        if solved is None:  # from scratch, not from the caches: the samples are solved on several threads at once
            factor = self._factor(hyper, self.kernel.log_gram(self.encoded, self.encoded, hyper.betas))
            solved = self._solved[hyper] = factor, torch.cholesky_solve((self.values - hyper.mean)[:, None], factor)
        return solved


@functools.cache
def _fixed_posterior() -> type:
    """The class of botorch's view of the GP's predictions under one sample (its inputs are points ``one_hot``)."""
    from botorch.models.model import Model
    from botorch.posteriors.gpytorch import GPyTorchPosterior
    from gpytorch.distributions import MultivariateNormal

    class FixedPosterior(Model):
        def __init__(self, gp: DiffusionGP, hyper: Hyperparameters) -> None:
            super().__init__()
            self.gp, self.hyper = gp, hyper

        @property
        def num_outputs(self) -> int:
            return 1

        def posterior(self, X: torch.Tensor, *args: object, **kwargs: object) -> GPyTorchPosterior:  # noqa: N803
            mean, variance = self.gp.predict(self.hyper, X.reshape(-1, X.shape[-1]).numpy())
            shape = X.shape[:-1]
            return GPyTorchPosterior(MultivariateNormal(mean.reshape(shape),
                                                        torch.diag_embed(variance.reshape(shape))))

    return FixedPosterior


@contextmanager
def single_threaded() -> Iterator[None]:
    """One thread inside BLAS and torch while a proposal is computed.

    Its matrices are small (observations x observations) or split by sample over ``THREADS`` Python threads
    (``expected_improvement``); the kernels' own threads on top of those only contend for the same cores.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), num_threads(1):
        yield


def expected_improvement(gp: DiffusionGP, samples: Sequence[Hyperparameters], points: np.ndarray,
                         best: float) -> np.ndarray:
    """The expected improvement over ``best`` (maximizing) at each point, averaged over the posterior samples.

    The samples are scored on ``THREADS`` threads (NumPy's and torch's kernels release the GIL), each sample's
    score is computed alone, and they are summed in order, so the result does not depend on the thread count.
    """
    from botorch.acquisition.analytic import LogExpectedImprovement

    inputs = torch.from_numpy(gp.kernel.one_hot(np.asarray(points, dtype=np.int64)))[:, None, :]
    model = _fixed_posterior()

    def score(hyper: Hyperparameters) -> np.ndarray:
        with torch.no_grad():
            return LogExpectedImprovement(model(gp, hyper), best_f=best)(inputs).exp().numpy()

    with ThreadPoolExecutor(max_workers=min(len(samples), THREADS)) as pool:
        return np.sum(list(pool.map(score, samples)), axis=0) / len(samples)
