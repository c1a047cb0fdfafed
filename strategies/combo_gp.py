"""COMBO's Gaussian process over the product graph, under one hyper-parameter sample, built on gpytorch and botorch.

The prior is a constant mean plus the diffusion kernel (``strategies.diffusion_kernel``) times the signal variance,
with Gaussian noise. gpytorch's ``MultivariateNormal`` gives the log marginal likelihood the slice sampler needs
(linear_operator's Cholesky, with jitter when the kernel is nearly singular); the posterior at new points solves with
linear_operator's jittered Cholesky too; botorch's ``LogExpectedImprovement`` scores them, and the expected
improvement is averaged over the posterior samples (COMBO marginalizes its acquisition over the hyper-parameters).

gpytorch and botorch are the ``combo`` extra: ``pip install 'nasbench[combo]'``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from nasbench.errors import NasbenchError
from strategies.combo_posterior import Hyperparameters
from strategies.diffusion_kernel import DiffusionKernel

try:
    from botorch.acquisition.analytic import LogExpectedImprovement
    from botorch.models.model import Model
    from botorch.posteriors.gpytorch import GPyTorchPosterior
    from gpytorch.distributions import MultivariateNormal
    from linear_operator.utils.cholesky import psd_safe_cholesky
    from linear_operator.utils.errors import NanError, NotPSDError
except ImportError as error:  # pragma: no cover - depends on the environment
    raise NasbenchError("COMBO needs botorch and gpytorch: pip install 'nasbench[combo]'") from error


class DiffusionGP:
    """The GP of observed ``values`` at ``points`` (one choice index per variable and row)."""

    def __init__(self, kernel: DiffusionKernel, points: np.ndarray, values: np.ndarray) -> None:
        self.kernel = kernel
        self.points = np.asarray(points, dtype=np.int64)
        self.values = torch.as_tensor(np.asarray(values, dtype=np.float64))
        # The acquisition's ascent predicts at a few hundred small sets of points under the same samples: each
        # sample's Cholesky factor and weights are computed once.
        self._solved: dict[Hyperparameters, tuple[torch.Tensor, torch.Tensor]] = {}

    def _covariance(self, hyper: Hyperparameters) -> torch.Tensor:
        gram = self.kernel.gram(self.points, self.points, hyper.betas, float(np.exp(hyper.log_signal)))
        return torch.from_numpy(gram) + float(np.exp(hyper.log_noise)) * torch.eye(len(self.points),
                                                                                     dtype=torch.float64)

    def log_marginal_likelihood(self, hyper: Hyperparameters) -> float:
        """The log density of the values under ``hyper`` (-inf if the covariance cannot be factorized with jitter)."""
        mean = torch.full_like(self.values, hyper.mean)
        try:
            return float(MultivariateNormal(mean, self._covariance(hyper)).log_prob(self.values))
        except (NotPSDError, NanError, RuntimeError):
            return -float("inf")

    def predict(self, hyper: Hyperparameters, points: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """The latent function's posterior mean and variance at ``points``."""
        points = np.asarray(points, dtype=np.int64)
        signal = float(np.exp(hyper.log_signal))
        factor, weights = self._solve(hyper)
        cross = torch.from_numpy(self.kernel.gram(points, self.points, hyper.betas, signal))
        mean = hyper.mean + (cross @ weights)[:, 0]
        projected = torch.linalg.solve_triangular(factor, cross.T, upper=False)
        prior = torch.from_numpy(self.kernel.diagonal(points, hyper.betas, signal))
        return mean, (prior - (projected**2).sum(dim=0)).clamp_min(1e-12)


    def _solve(self, hyper: Hyperparameters) -> tuple[torch.Tensor, torch.Tensor]:
        """The covariance's jittered Cholesky factor and ``K^-1 (values - mean)`` under ``hyper``."""
        if hyper not in self._solved:
            factor = psd_safe_cholesky(self._covariance(hyper))
            self._solved[hyper] = factor, torch.cholesky_solve((self.values - hyper.mean)[:, None], factor)
        return self._solved[hyper]


class _FixedPosterior(Model):
    """botorch's view of the GP's predictions under one sample, for its acquisition functions."""

    def __init__(self, gp: DiffusionGP, hyper: Hyperparameters) -> None:
        super().__init__()
        self.gp, self.hyper = gp, hyper

    @property
    def num_outputs(self) -> int:
        return 1

    def posterior(self, X: torch.Tensor, *args: object, **kwargs: object) -> GPyTorchPosterior:  # noqa: N803
        flat = X.reshape(-1, X.shape[-1])
        mean, variance = self.gp.predict(self.hyper, flat.round().long().numpy())
        shape = X.shape[:-1]
        return GPyTorchPosterior(MultivariateNormal(mean.reshape(shape), torch.diag_embed(variance.reshape(shape))))


def expected_improvement(gp: DiffusionGP, samples: Sequence[Hyperparameters], points: np.ndarray,
                         best: float) -> np.ndarray:
    """The expected improvement over ``best`` (maximizing) at each point, averaged over the posterior samples."""
    inputs = torch.as_tensor(np.asarray(points, dtype=np.float64))[:, None, :]
    total = np.zeros(len(points))
    with torch.no_grad():
        for hyper in samples:
            total += LogExpectedImprovement(_FixedPosterior(gp, hyper), best_f=best)(inputs).exp().numpy()
    return total / len(samples)
