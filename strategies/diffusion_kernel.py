"""COMBO's diffusion kernel on the graph Cartesian product of a space's variables (Oh et al., NeurIPS 2019).

Each variable is a graph over its choices: a complete graph for a categorical variable (every change is one step), a
path graph for an ordinal one (only adjacent values are one step apart). The search space is the Cartesian product
of these graphs; its Laplacian is the Kronecker sum of theirs, so the diffusion kernel ``exp(-L)`` with one weight
``beta_i`` per factor is the product of the factors' kernels ``exp(-beta_i L_i)``. Each factor kernel is computed from
its Laplacian's eigendecomposition and divided by the mean of ``exp(-beta_i lambda)``, as the reference code does, so
that its diagonal averages 1 whatever ``beta_i``: the signal variance alone sets the kernel's scale.

The complete graph K_n has eigenvalues 0 (once) and n (n - 1 times), which gives the normalized factor in closed
form: 1 on the diagonal and ``(1 - e^{-n beta}) / (1 + (n - 1) e^{-n beta})`` elsewhere. ``beta -> 0`` makes the
variable maximally rough (the identity: any change decorrelates), ``beta -> infinity`` makes it irrelevant (all ones).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from search_spaces.base import Variable


@dataclass(frozen=True)
class FactorGraph:
    """The graph of one variable's choices, complete (categorical) or a path (ordinal), and its Laplacian's spectrum."""

    size: int
    path: bool
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray

    @classmethod
    def complete(cls, size: int) -> FactorGraph:
        """K_size: every pair of choices is one change apart."""
        return cls._of(size, False, size * np.eye(size) - np.ones((size, size)))

    @classmethod
    def path_graph(cls, size: int) -> FactorGraph:
        """P_size: choice i is next to i - 1 and i + 1 only."""
        adjacency = np.eye(size, k=1) + np.eye(size, k=-1)
        return cls._of(size, size > 2, np.diag(adjacency.sum(axis=1)) - adjacency)

    @classmethod
    def of(cls, variable: Variable) -> FactorGraph:
        """The graph of a space's variable (a path when it is ordinal)."""
        size = len(variable.choices)
        return cls.path_graph(size) if variable.ordinal else cls.complete(size)

    @classmethod
    def _of(cls, size: int, path: bool, laplacian: np.ndarray) -> FactorGraph:
        if size < 1:
            raise ValueError(f"a factor graph needs at least one vertex, got {size}")
        eigenvalues, eigenvectors = np.linalg.eigh(laplacian)
        return cls(size, path, np.clip(eigenvalues, 0.0, None), eigenvectors)

    def kernel(self, beta: float) -> np.ndarray:
        """The normalized factor kernel ``U diag(exp(-beta lambda)) U^T / mean(exp(-beta lambda))``."""
        if beta < 0:
            raise ValueError(f"beta must be non-negative, got {beta:g}")
        if not self.path:
            return complete_graph_kernel(self.size, beta)
        transform = np.exp(-beta * self.eigenvalues)
        return (self.eigenvectors * transform) @ self.eigenvectors.T / transform.mean()

    def neighbours(self, vertex: int) -> list[int]:
        """The choices one step from ``vertex``."""
        if self.path:
            return [other for other in (vertex - 1, vertex + 1) if 0 <= other < self.size]
        return [other for other in range(self.size) if other != vertex]


def complete_graph_kernel(size: int, beta: float) -> np.ndarray:
    """The normalized diffusion kernel of K_size in closed form: 1 on the diagonal, r elsewhere."""
    decay = np.exp(-size * beta)
    off = (1.0 - decay) / (1.0 + (size - 1) * decay)
    return np.full((size, size), off) + (1.0 - off) * np.eye(size)


class DiffusionKernel:
    """``K(x, x') = s^2 * prod_i k_i(x_i, x'_i)`` over points, each one choice index per variable.

    ``gram`` and ``diagonal`` take the points ``one_hot`` encoded (one 0/1 column per choice of every variable): the
    product is ``exp(sum_i log k_i(x_i, x'_i))``, and that sum is one matrix product, the points' one-hot rows
    times the block-diagonal matrix of the factors' log kernels times the other points' one-hot rows. One BLAS call
    replaces a gather per variable over the whole (points x points) matrix, which made scoring the acquisition's
    20,000 random points the slowest step of a proposal.
    """

    def __init__(self, graphs: Sequence[FactorGraph]) -> None:
        self.graphs = tuple(graphs)
        self.offsets = np.cumsum([0] + [graph.size for graph in self.graphs])
        # Slice sampling changes one beta at a time: each factor's log kernel is kept for its last beta.
        self._last_logs: list[tuple[float, np.ndarray] | None] = [None] * len(self.graphs)

    def one_hot(self, points: np.ndarray) -> np.ndarray:
        """Each row of choice indices as a 0/1 row over every variable's choices."""
        encoded = np.zeros((len(points), self.offsets[-1]))
        encoded[np.arange(len(points))[:, None], np.asarray(points) + self.offsets[:-1]] = 1.0
        return encoded

    def log_factor(self, index: int, beta: float) -> np.ndarray:
        """Factor ``index``'s log kernel at ``beta`` (entries below 1e-300 are taken as 1e-300)."""
        last = self._last_logs[index]
        if last is None or last[0] != beta:
            kernel = self.graphs[index].kernel(float(beta))
            last = self._last_logs[index] = float(beta), np.log(np.maximum(kernel, 1e-300))
        return last[1]

    def log_factors(self, betas: np.ndarray) -> np.ndarray:
        """The block-diagonal matrix of every factor's log kernel."""
        if len(betas) != len(self.graphs):
            raise ValueError(f"{len(betas)} betas for {len(self.graphs)} variables")
        blocks = np.zeros((self.offsets[-1], self.offsets[-1]))
        for index, (start, graph, beta) in enumerate(zip(self.offsets, self.graphs, betas)):
            blocks[start:start + graph.size, start:start + graph.size] = self.log_factor(index, beta)
        return blocks

    def log_gram(self, left: np.ndarray, right: np.ndarray, betas: np.ndarray) -> np.ndarray:
        """``log(K / s^2)`` between the rows of ``left`` and of ``right``, points given ``one_hot``."""
        return left @ (self.log_factors(betas) @ right.T)  # the small product first: right is the short side

    def gram(self, left: np.ndarray, right: np.ndarray, betas: np.ndarray, signal_variance: float) -> np.ndarray:
        """The kernel between the rows of ``left`` and of ``right``, points given ``one_hot``."""
        logs = self.log_gram(left, right, betas)
        logs += math.log(signal_variance)
        return np.exp(logs, out=logs)

    def diagonal(self, points: np.ndarray, betas: np.ndarray, signal_variance: float) -> np.ndarray:
        """``K(x, x)`` for every row given ``one_hot`` (a path graph's diagonal is 1 on average only)."""
        return np.exp(points @ np.diag(self.log_factors(betas)).copy() + math.log(signal_variance))
