"""COMBO's diffusion kernel: the closed form of the complete graph, positive semi-definiteness, the beta limits."""

from __future__ import annotations

import numpy as np
import pytest

from search_spaces.base import Variable
from strategies.diffusion_kernel import DiffusionKernel, FactorGraph, complete_graph_kernel


def eigendecomposition_kernel(laplacian: np.ndarray, beta: float) -> np.ndarray:
    """exp(-beta L) by its spectrum, divided by the mean of exp(-beta lambda) (the reference's normalization)."""
    eigenvalues, eigenvectors = np.linalg.eigh(laplacian)
    transform = np.exp(-beta * eigenvalues)
    return (eigenvectors * transform) @ eigenvectors.T / transform.mean()


@pytest.mark.parametrize("size", [2, 3, 5, 8])
@pytest.mark.parametrize("beta", [1e-4, 0.1, 0.7, 3.0])
def test_the_complete_graph_closed_form_equals_its_eigendecomposition(size, beta):
    laplacian = size * np.eye(size) - np.ones((size, size))
    assert np.allclose(complete_graph_kernel(size, beta), eigendecomposition_kernel(laplacian, beta), atol=1e-12)


@pytest.mark.parametrize("path", [False, True], ids=["complete", "path"])
def test_the_beta_limits(path):
    graph = FactorGraph.path_graph(6) if path else FactorGraph.complete(6)
    assert np.allclose(graph.kernel(0.0), np.eye(6))  # maximally rough: any change decorrelates
    assert np.allclose(graph.kernel(1e-9), np.eye(6), atol=1e-6)
    assert np.allclose(graph.kernel(60.0), np.ones((6, 6)), atol=1e-6)  # irrelevant: all choices alike


def test_a_path_graph_correlates_near_values_more_than_far_ones():
    kernel = FactorGraph.path_graph(5).kernel(0.5)
    assert kernel[0, 1] > kernel[0, 2] > kernel[0, 4] > 0
    assert np.mean(np.diag(kernel)) == pytest.approx(1.0)
    assert FactorGraph.path_graph(5).neighbours(0) == [1] and FactorGraph.path_graph(5).neighbours(2) == [1, 3]
    assert FactorGraph.complete(4).neighbours(2) == [0, 1, 3]


def test_variables_become_complete_or_path_graphs():
    assert not FactorGraph.of(Variable(("a", "b", "c"))).path
    assert FactorGraph.of(Variable((8, 16, 32), ordinal=True)).path
    assert not FactorGraph.of(Variable((8, 16), ordinal=True)).path  # P_2 is K_2


def test_the_gram_matrix_is_symmetric_positive_semidefinite_and_its_diagonal_matches():
    rng = np.random.default_rng(0)
    graphs = [FactorGraph.complete(5), FactorGraph.path_graph(4), FactorGraph.complete(3), FactorGraph.path_graph(7)]
    kernel = DiffusionKernel(graphs)
    points = np.column_stack([rng.integers(graph.size, size=40) for graph in graphs])
    betas = np.array([0.3, 1.2, 0.05, 2.0])
    hot = kernel.one_hot(points)
    assert (hot.sum(axis=1) == len(graphs)).all() and hot.shape == (40, 5 + 4 + 3 + 7)
    gram = kernel.gram(hot, hot, betas, 2.5)
    assert np.allclose(gram, gram.T)
    assert np.linalg.eigvalsh(gram).min() > -1e-9
    assert np.allclose(np.diag(gram), kernel.diagonal(hot, betas, 2.5))
    factors = [graph.kernel(beta) for graph, beta in zip(graphs, betas)]
    product = 2.5 * np.prod([factor[np.ix_(points[:, i], points[:, i])] for i, factor in enumerate(factors)], axis=0)
    assert np.allclose(gram, product, rtol=1e-12)
    # the product over factors: a point that differs in one categorical variable keeps the others' correlation
    a, b = points[:1].copy(), points[:1].copy()
    b[0, 0] = (a[0, 0] + 1) % 5
    assert kernel.gram(kernel.one_hot(a), kernel.one_hot(b), betas, 1.0)[0, 0] == pytest.approx(
        complete_graph_kernel(5, 0.3)[0, 1] * np.prod([np.diag(g.kernel(beta))[a[0, i]]
                                                       for i, (g, beta) in enumerate(zip(graphs, betas)) if i]))


def test_bad_betas_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        FactorGraph.path_graph(3).kernel(-1.0)
    with pytest.raises(ValueError, match="2 betas for 1 variables"):
        DiffusionKernel([FactorGraph.complete(3)]).gram(np.ones((1, 3)), np.ones((1, 3)), np.ones(2), 1.0)
