from __future__ import annotations

import pickle

import pytest
import torch
from faulty_ops import NAN_OP, RAISING_OP
from torch import nn

from nasbench import Architecture
from nasbench.errors import NasbenchError
from workers.base import get_evaluator
from workers.train_evaluator import TrainEvaluator


def cnn(extra: str = "", width: int = 16) -> Architecture:
    inner = f"    x: {{op: {extra}, inputs: [c2]}}\n" if extra else ""
    return Architecture.from_yaml(f"""
name: small
input_shape: [1, 16, 16]
network:
  nodes:
    c1: {{op: conv_bn_relu, args: {{out: {width}}}, inputs: [input]}}
    p1: {{op: max_pool, args: {{kernel: 2, stride: 2}}, inputs: [c1]}}
    c2: {{op: conv_bn_relu, args: {{out: 32}}, inputs: [p1]}}
{inner}    gap: {{op: global_avg_pool, inputs: [{'x' if extra else 'c2'}]}}
    fc: {{op: linear, args: {{out: 10}}, inputs: [gap]}}
  output: fc
""")


@pytest.fixture(scope="module")
def evaluator() -> TrainEvaluator:
    return get_evaluator("train", dataset="digits", epochs=5, threads=1)


@pytest.fixture(scope="module")
def quick() -> TrainEvaluator:
    return get_evaluator("train", dataset="digits", fraction=0.25, epochs=1, threads=1)


def without_time(curve):
    return [{k: v for k, v in entry.items() if k != "seconds"} for entry in curve]


def test_small_cnn_learns_digits(evaluator):
    result = evaluator.evaluate(cnn(), seed=0)
    assert result.ok, result.error
    assert [str(o) for o in evaluator.default_objectives()] == ["val_acc:max"]
    assert set(evaluator.metrics) <= set(result.metrics)
    assert evaluator.input_shape == (1, 16, 16) and evaluator.num_classes == 10
    assert [entry["epoch"] for entry in result.curve] == [1, 2, 3, 4, 5]
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"} <= set(result.curve[0])
    assert result.metrics["val_acc"] == result.curve[-1]["val_acc"] > 80.0  # percent; chance is 10
    assert result.curve[-1]["train_loss"] < result.curve[0]["train_loss"]
    assert result.metrics["params"] == cnn().params((1, 16, 16))
    assert result.metrics["best_val_acc"] >= result.metrics["val_acc"]
    assert result.seconds > 0 and result.error is None


def test_same_seed_same_metrics_other_seed_differs(quick):
    first = quick.evaluate(cnn(), fidelity=2, seed=7)
    second = quick.evaluate(cnn(), fidelity=2, seed=7)
    other = quick.evaluate(cnn(), fidelity=2, seed=8)
    assert len(first.curve) == 2  # fidelity = epochs
    assert without_time(first.curve) == without_time(second.curve)
    assert without_time(first.curve) != without_time(other.curve)
    # The caller's global RNG and thread setting are left as they were.
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    quick.evaluate(cnn(), fidelity=1, seed=1)
    assert torch.equal(torch.rand(3), expected) and torch.get_num_threads() == threads


def test_failures_become_fail_results(evaluator):
    raised = evaluator.evaluate(cnn(RAISING_OP), fidelity=1)
    assert raised.status == "fail" and raised.error == "RuntimeError: boom in forward" and not raised.metrics
    nan = evaluator.evaluate(cnn(NAN_OP), fidelity=2)
    assert nan.status == "fail" and "training loss is nan in epoch 1" in nan.error
    assert not nan.metrics
    wrong_classes = Architecture.from_yaml(cnn().to_yaml().replace("out: 10", "out: 3"))
    assert "does not match the 10 classes" in evaluator.evaluate(wrong_classes, fidelity=1).error
    limited = get_evaluator("train", epochs=1, max_params=cnn().params((1, 16, 16)) - 1)
    result = limited.evaluate(cnn())
    assert result.status == "fail" and "max_params" in result.error and result.seconds < 1.0
    assert "max_macs" in get_evaluator("train", epochs=1, max_macs=1000).evaluate(cnn()).error
    # Fits the genome's 16x16 input, but a 9x9 valid convolution cannot run on the 8x8 images of this dataset.
    big_kernel = Architecture.from_yaml(cnn().to_yaml().replace("out: 16}", "out: 16, kernel: 9, padding: 0}"))
    assert evaluator.evaluate(big_kernel, fidelity=1).ok
    small_images = get_evaluator("train", epochs=1, resolution=8).evaluate(big_kernel)
    assert small_images.status == "fail" and "c1" in small_images.error


def test_configuration_errors_raise_at_construction():
    with pytest.raises(NasbenchError, match="evaluator 'train': unknown option"):
        get_evaluator("train", learning_rate=0.1)
    with pytest.raises(NasbenchError, match="dataset 'cifar10' not found"):
        get_evaluator("train", dataset="cifar10", data_dir="/nonexistent")
    with pytest.raises(NasbenchError, match="unknown evaluator"):
        get_evaluator("nope")


def test_pickles_without_its_data_and_reloads(quick):
    clone = pickle.loads(pickle.dumps(quick))
    assert clone._dataset is None and len(pickle.dumps(quick)) < 10_000
    first = clone.evaluate(cnn(), fidelity=1, seed=3)
    assert without_time(first.curve) == without_time(quick.evaluate(cnn(), fidelity=1, seed=3).curve)


def test_auxiliary_heads_train_and_dropout_is_seeded(quick):
    arch = Architecture.from_yaml("""
name: aux
input_shape: [1, 16, 16]
network:
  nodes:
    c1: {op: conv_bn_relu, args: {out: 8}, inputs: [input]}
    agap: {op: global_avg_pool, inputs: [c1]}
    afc: {op: linear, args: {out: 10}, inputs: [agap]}
    c2: {op: conv_bn_relu, args: {out: 16, stride: 2}, inputs: [c1]}
    gap: {op: global_avg_pool, inputs: [c2]}
    drop: {op: dropout, args: {p: 0.3}, inputs: [gap]}
    fc: {op: linear, args: {out: 10}, inputs: [drop]}
  output: fc
  aux: [afc]
""")
    first = quick.evaluate(arch, fidelity=1, seed=5)
    assert first.ok, first.error
    assert without_time(first.curve) == without_time(quick.evaluate(arch, fidelity=1, seed=5).curve)


def test_fit_returns_the_trained_module():
    evaluator = get_evaluator("train", epochs=1, fraction=0.25, optimizer="adamw", lr=1e-3, label_smoothing=0.1)
    seen = []
    model, result = evaluator.fit(cnn(width=8), seed=0, on_epoch=seen.append)
    assert result.ok and isinstance(model, nn.Module) and seen == result.curve
    assert model(torch.zeros(2, 1, 16, 16)).shape == (2, 10)
