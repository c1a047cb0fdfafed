"""The evaluator contract, run over every registered evaluator with its ``smoke_options``.

A newly registered evaluator is tested here without editing this file: it declares the space it scores
(``scores_space``, None for any) and its cheapest options (``smoke_options``).
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from faulty_ops import RAISING_OP

import search_spaces
from nasbench import Architecture
from nasbench.objectives import ANALYTIC_METRICS
from workers.base import EVALUATORS, get_evaluator

NAMES = EVALUATORS.names()


def evaluator(name: str):
    return get_evaluator(name, **EVALUATORS.get(name).smoke_options)


def candidate(judge) -> Architecture:
    space = search_spaces.get(judge.scores_space or "graph", input_shape=judge.input_shape,
                              num_classes=judge.num_classes)
    seeds = space.seeds()
    return seeds[0] if seeds else space.sample(np.random.default_rng(0))


def broken(judge) -> Architecture:
    """The candidate with a final op that raises; its meta (a benchmark key, say) no longer describes it."""
    arch = candidate(judge)
    arch.network.add("contract_raise", RAISING_OP, inputs=[arch.network.output])
    arch.network.output = "contract_raise"
    arch.meta.clear()
    return arch


@pytest.mark.parametrize("name", NAMES)
def test_declared_metrics_are_reported_and_objectives_are_among_them(name):
    judge = evaluator(name)
    result = judge.evaluate(candidate(judge), seed=0)
    assert result.ok, result.error
    assert judge.metrics and set(judge.metrics) <= set(result.metrics)
    assert all(isinstance(result.metrics[m], float) and math.isfinite(result.metrics[m]) for m in judge.metrics)
    for objective in judge.default_objectives():
        assert objective.metric in (*judge.metrics, *ANALYTIC_METRICS)


@pytest.mark.parametrize("name", NAMES)
def test_a_broken_candidate_is_a_fail_result_with_a_reason(name):
    judge = evaluator(name)
    arch = broken(judge)
    result = judge.evaluate(arch, seed=0)
    assert result.status == "fail" and isinstance(result.error, str) and result.error


@pytest.mark.parametrize("name", NAMES)
def test_the_evaluator_pickles_before_first_use(name):
    judge = evaluator(name)
    copy = pickle.loads(pickle.dumps(judge))
    copy.setup()
    assert copy.evaluate(candidate(copy), seed=0).ok


@pytest.mark.parametrize("name", NAMES)
def test_unknown_options_are_one_line_errors(name):
    from nasbench.errors import NasbenchError

    with pytest.raises(NasbenchError, match=f"evaluator {name!r}"):
        get_evaluator(name, definitely_not_an_option=1)


@pytest.mark.parametrize("name", NAMES)
def test_a_declared_curve_reports_its_metrics_every_epoch_as_it_goes(name):
    judge = evaluator(name)
    entries: list[dict[str, float]] = []
    result = judge.evaluate_with_curve(candidate(judge), seed=0, on_epoch=entries.append)
    assert result.ok, result.error
    if not judge.curve_metrics:
        assert entries == []
        return
    assert entries and entries == result.curve
    assert all(set(judge.curve_metrics) <= set(entry) for entry in entries)
    assert set(judge.curve_metrics) <= set(judge.metrics)
