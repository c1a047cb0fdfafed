"""COMBO's hyper-parameter posterior: the reference code's priors and one slice-sampling sweep over them.

The GP's hyper-parameters are a constant mean, the log signal variance, the log noise variance and one log beta per
variable (``strategies.diffusion_kernel``). Their priors are the reference's (QUVA-Lab/COMBO ``graphGP/sampler``):

- each beta: horseshoe-like, ``log p(beta) = log log(1 + 2 / (beta / 5)^2)``, with log beta in [-12, log 100];
- the noise variance: ``log log(1 + (0.1 / sigma^2)^2)``, with its log in [-12, log 10,000];
- the signal variance: a Gaussian in log space whose +-2 standard deviations span the log signal variances that give
  the kernel the outputs' variance at either of its scale bounds (``kernel_range``), log in [-12, log 10,000];
- the constant mean: a Gaussian at the middle of the observed outputs with a quarter of their range as its standard
  deviation, truncated to that range.

Like the reference, each prior is a density over the log-space parameter itself (no Jacobian term). One ``sweep``
updates the mean, the log signal variance, the log noise variance, then every log beta in a shuffled order, each by
one univariate slice-sampling step (``strategies.slice_sampling``) under prior + log marginal likelihood.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from strategies.diffusion_kernel import FactorGraph
from strategies.slice_sampling import slice_sample

LOG_LOWER = -12.0  # every log-space parameter stays above it (exp of it is a safe positive number)
LOG_VARIANCE_UPPER = math.log(10_000.0)
LOG_BETA_UPPER = math.log(100.0)
HORSESHOE_SCALE = 5.0


@dataclass(frozen=True)
class Hyperparameters:
    """One posterior sample: constant mean, log signal variance, log noise variance and a log beta per variable."""

    mean: float
    log_signal: float
    log_noise: float
    log_betas: tuple[float, ...]

    @property
    def betas(self) -> np.ndarray:
        """The betas themselves."""
        return np.exp(np.asarray(self.log_betas))

    def to_list(self) -> list[Any]:
        """JSON form."""
        return [self.mean, self.log_signal, self.log_noise, list(self.log_betas)]

    @classmethod
    def from_list(cls, data: Sequence[Any]) -> Hyperparameters:
        """Inverse of ``to_list``."""
        return cls(float(data[0]), float(data[1]), float(data[2]), tuple(float(b) for b in data[3]))


@dataclass(frozen=True)
class Outputs:
    """What the priors need to know of the observed outputs and of the kernel."""

    low: float
    high: float
    variance: float
    kernel_min: float
    kernel_max: float

    @classmethod
    def of(cls, values: np.ndarray, graphs: Sequence[FactorGraph]) -> Outputs:
        """The outputs' range and variance, and the kernel's scale bounds (``kernel_range``)."""
        kernel_min, kernel_max = kernel_range(graphs)
        return cls(float(values.min()), float(values.max()), float(values.var()), kernel_min, kernel_max)


def initial(values: np.ndarray, variables: int, beta: float = 1.0) -> Hyperparameters:
    """The reference's starting point before burn-in (``GPRegression.init_param``).

    The mean of the outputs, half their variance as the signal variance, ``mean / 1000`` as the log noise variance
    (the reference's choice, kept inside the noise prior's support) and the same beta for every variable.
    """
    mean = float(values.mean())
    log_signal = math.log(max(0.5 * float(values.var()), math.exp(LOG_LOWER)))
    log_noise = min(max(mean / 1000.0, LOG_LOWER), LOG_VARIANCE_UPPER)
    log_beta = min(max(math.log(beta), LOG_LOWER), LOG_BETA_UPPER)
    return Hyperparameters(mean, min(log_signal, LOG_VARIANCE_UPPER), log_noise, (log_beta,) * variables)


def supported(hyper: Hyperparameters, outputs: Outputs) -> Hyperparameters:
    """``hyper`` with its mean moved into the prior's support, which new outputs can move away from it.

    Slice sampling must start where the density is positive; the other priors' supports do not depend on the outputs.
    """
    return replace(hyper, mean=min(max(hyper.mean, outputs.low), outputs.high))


def kernel_range(graphs: Sequence[FactorGraph]) -> tuple[float, float]:
    """The reference's bounds on the kernel's scale, at beta = 1.

    They are the products over the factors of ``exp(-lambda_max) / mean(exp(-lambda))`` and of
    ``exp(-lambda_min) / mean(exp(-lambda))``.
    """
    low = high = 1.0
    for graph in graphs:
        transform = np.exp(-graph.eigenvalues)
        low *= float(transform.min() / transform.mean())
        high *= float(transform.max() / transform.mean())
    return low, high


def log_prior_beta(log_beta: float) -> float:
    """The horseshoe-like prior of one variable's beta."""
    if not LOG_LOWER <= log_beta <= LOG_BETA_UPPER:
        return -math.inf
    return math.log(math.log1p(2.0 / (math.exp(log_beta) / HORSESHOE_SCALE) ** 2))


def log_prior_noise(log_noise: float) -> float:
    """The prior of the log noise variance."""
    if not LOG_LOWER <= log_noise <= LOG_VARIANCE_UPPER:
        return -math.inf
    return math.log(math.log1p((0.1 / math.exp(log_noise)) ** 2))


def log_prior_signal(log_signal: float, outputs: Outputs) -> float:
    """The prior of the log signal variance: Gaussian, centred between the variances that fit the kernel's range."""
    if not LOG_LOWER <= log_signal <= LOG_VARIANCE_UPPER:
        return -math.inf
    variance = max(outputs.variance, 1e-12)
    lower = math.log(variance) - math.log(outputs.kernel_max)
    upper = math.log(variance) - math.log(max(outputs.kernel_min, 1e-100))
    middle, deviation = (lower + upper) / 2, max((upper - lower) / 4, 1e-6)
    return -math.log(deviation) - 0.5 * ((log_signal - middle) / deviation) ** 2


def log_prior_mean(mean: float, outputs: Outputs) -> float:
    """The prior of the constant mean: Gaussian at the middle of the outputs, truncated to their range."""
    middle, radius = (outputs.low + outputs.high) / 2, (outputs.high - outputs.low) / 2
    if radius <= 0:
        return 0.0 if mean == middle else -math.inf
    if not middle - radius <= mean <= middle + radius:
        return -math.inf
    deviation = radius / 2
    return -math.log(deviation) - 0.5 * ((mean - middle) / deviation) ** 2


def sweep(hyper: Hyperparameters, log_likelihood: Callable[[Hyperparameters], float], outputs: Outputs,
          rng: np.random.Generator) -> Hyperparameters:
    """One sweep of univariate slice sampling over every hyper-parameter, under prior plus ``log_likelihood``.

    The order is the mean, the log signal variance, the log noise variance, then each log beta in a shuffled order;
    ``log_likelihood`` is the GP's log marginal likelihood of the observations under a sample.
    """

    def step(value: float, prior: Callable[[float], float],
             build: Callable[[float], Hyperparameters]) -> Hyperparameters:
        def log_density(x: float) -> float:
            density = prior(x)
            return density if not math.isfinite(density) else density + log_likelihood(build(x))

        return build(slice_sample(log_density, value, rng))

    hyper = step(hyper.mean, lambda x: log_prior_mean(x, outputs), lambda x: replace(hyper, mean=x))
    hyper = step(hyper.log_signal, lambda x: log_prior_signal(x, outputs),
                 lambda x: replace(hyper, log_signal=x))
    hyper = step(hyper.log_noise, log_prior_noise, lambda x: replace(hyper, log_noise=x))
    for index in rng.permutation(len(hyper.log_betas)):
        base = hyper

        def with_beta(x: float, base: Hyperparameters = base, index: int = int(index)) -> Hyperparameters:
            betas = list(base.log_betas)
            betas[index] = x
            return replace(base, log_betas=tuple(betas))

        hyper = step(hyper.log_betas[index], log_prior_beta, with_beta)
    return hyper
