"""Every default seed of the main job learns on digits at the main job's fidelity (the train evaluator's search
defaults: 3 epochs)."""

from __future__ import annotations

import pytest

import search_spaces
from workers.base import EVALUATORS, get_evaluator

pytestmark = pytest.mark.slow
SPACE = search_spaces.get("graph", input_shape=(1, 16, 16), num_classes=10)
JUDGE = get_evaluator("train", dataset="digits", **EVALUATORS.get("train").search_defaults)


@pytest.mark.parametrize("seed", SPACE.seeds(), ids=lambda arch: arch.name)
def test_a_default_seed_reaches_90_percent_on_digits(seed):
    result = JUDGE.evaluate(seed, seed=0)
    assert result.ok, result.error
    assert result.metrics["val_acc"] >= 90.0, f"{seed.name}: {result.metrics['val_acc']:.2f} %"
