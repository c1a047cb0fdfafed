"""Every registered op: analytic parameters, MACs and output shape agree with the module it builds.

``CASES`` gives each op one or more (input shape, args) variants, strided, dilated and grouped ones included; an op
registered by nasbench or the search spaces without an entry here fails ``test_every_op_has_cases``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import nasbench
from nasbench.app import load
from nasbench.architecture import Architecture
from nasbench.ops import Cost, Int, Op, Shape, get_op, op_names, ops_where, register_op
from nasbench.ops.registry import REGISTRY

IMG = (8, 9, 9)  # odd spatial size: catches padding and ceil/floor slips
CASES: dict[str, list[tuple[Shape, dict[str, Any]]]] = {
    "act": [(IMG, {"fn": "silu"}), (IMG, {"fn": "tanh"}), (IMG, {"fn": "hardswish"}), ((8,), {"fn": "relu6"})],
    "adaptive_avg_pool": [(IMG, {"size": 3}), (IMG, {"size": [2, 4]})],
    "avg_pool": [(IMG, {"kernel": 3, "stride": 2}), (IMG, {"kernel": 3, "count_include_pad": True}),
                 (IMG, {"kernel": 2, "stride": 2, "padding": 0, "ceil_mode": True})],
    "bn": [(IMG, {}), (IMG, {"affine": False}), ((8,), {"act": "relu"})],
    "bn_relu": [(IMG, {})],
    "bn_relu_conv": [(IMG, {"out": 16}), (IMG, {"out": 16, "stride": 2, "kernel": 1})],
    "channel_shuffle": [(IMG, {"groups": 4})],
    "channel_slice": [(IMG, {"start": 2, "stop": 6})],
    "conv": [(IMG, {"out": 16}), (IMG, {"out": 16, "kernel": 5, "stride": 2}), (IMG, {"out": 16, "dilation": 2}),
             (IMG, {"out": 16, "groups": 4}), (IMG, {"out": 8, "groups": 8, "kernel": [1, 7]}),
             (IMG, {"out": 12, "stride": [1, 2], "padding": 0, "bias": True}),
             (IMG, {"out": 8, "kernel": 3, "stride": 2, "dilation": 2, "groups": 2, "padding": [1, 2]})],
    "conv_1xk_kx1": [(IMG, {"out": 8}), (IMG, {"out": 12, "kernel": 3, "stride": 2})],
    "conv_bn": [(IMG, {"out": 16, "kernel": 1, "stride": 2})],
    "conv_bn_relu": [(IMG, {"out": 16, "stride": 2}), (IMG, {"out": 16, "affine": False})],
    "conv_bn_relu6": [(IMG, {"out": 16, "groups": 8})],
    "conv_relu": [(IMG, {"out": 16, "kernel": 11, "stride": 4, "padding": 2})],
    "relu_conv_bn": [(IMG, {"out": 16, "stride": 2})],
    "dil_conv": [(IMG, {"out": 8}), (IMG, {"out": 16, "kernel": 5, "stride": 2, "dilation": 2})],
    "drop_path_mean": [(IMG, {"branches": 2}), (IMG, {"branches": 4, "p": 0.0})],
    "drop_path_sampler": [(IMG, {"columns": 3})],
    "dropout": [(IMG, {"p": 0.3}), ((8,), {})],
    "dw_sep_conv": [(IMG, {"out": 16}), (IMG, {"out": 16, "stride": 2, "act": "relu6", "kernel": 5})],
    "fact_reduce": [(IMG, {"out": 16}), (IMG, {"out": 15, "stride": 1}), ((8, 8, 8), {"out": 7})],
    "flatten": [(IMG, {})],
    "gate_conv": [(IMG, {"out": 8}), (IMG, {"out": 8, "kernel": [1, 3], "bias_init": -2.0})],
    "global_avg_pool": [(IMG, {})],
    "identity": [(IMG, {}), ((8,), {})],
    "linear": [(IMG, {"out": 10}), ((8,), {"out": 5, "bias": False})],
    "lrn": [(IMG, {"size": 3})],
    "max_pool": [(IMG, {"kernel": 3, "stride": 2}), (IMG, {"kernel": 3, "stride": 2, "padding": 0, "ceil_mode": True})],
    "none": [(IMG, {}), (IMG, {"stride": 2})],
    "zero": [(IMG, {"stride": 2})],
    "relu": [(IMG, {}), ((8,), {})],
    "relu6": [(IMG, {})],
    "sigmoid": [(IMG, {})],
    "scale": [(IMG, {"factor": 0.2}), ((8,), {})],
    "sep_conv": [(IMG, {"out": 8}), (IMG, {"out": 16, "kernel": 5, "stride": 2})],
    "skip_connect": [(IMG, {}), (IMG, {"stride": 2})],
}


def _defined_in_tests(op: Op) -> bool:
    """Ops that other test modules register for themselves are not part of the product."""
    target = getattr(op, "_builder", type(op))
    source = inspect.getsourcefile(target)
    return source is not None and Path(source).resolve().parent == Path(__file__).resolve().parent


def test_every_op_has_cases() -> None:
    missing = [name for name in op_names() if name not in CASES and not _defined_in_tests(get_op(name))]
    assert not missing, f"ops without test cases in CASES: {missing}"
    unknown = [name for name in CASES if name not in op_names()]
    assert not unknown, f"CASES names ops that are not registered: {unknown}"


def _cases() -> Iterator[Any]:
    for name, variants in CASES.items():
        for i, (shape, args) in enumerate(variants):
            yield pytest.param(name, shape, args, id=f"{name}-{i}")


def _forward(module: nn.Module, shape: Shape) -> tuple[torch.Size, int]:
    """Output shape (batch dropped) and MACs (FlopCounterMode's FLOPs / 2) of one eval forward, batch 1."""
    module.eval()
    x = torch.randn(1, *shape)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = module(x)
    return y.shape[1:], counter.get_total_flops() // 2


@pytest.mark.parametrize(("name", "shape", "raw"), list(_cases()))
def test_op_cost_and_shape_match_module(name: str, shape: Shape, raw: Mapping[str, Any]) -> None:
    op = get_op(name)
    args = op.resolve_args(raw, {}, "args")
    op.check_input(shape, "op")
    out_shape = tuple(op.output_shape(shape, args))
    cost = op.cost(shape, args)
    module = op.build(shape, args)
    assert sum(p.numel() for p in module.parameters()) == cost.params
    real_shape, macs = _forward(module, shape)
    assert tuple(real_shape) == out_shape
    if cost.macs == 0:
        assert macs == 0
    else:
        assert abs(macs - cost.macs) <= 0.01 * cost.macs, (macs, cost.macs)


def test_strided_variants_really_stride() -> None:
    # Guards the table itself: the variants meant to be strided, dilated or grouped are.
    assert get_op("conv").output_shape(IMG, get_op("conv").resolve_args({"out": 4, "stride": 2}, {}, "a")) == (4, 5, 5)
    grouped = get_op("conv").cost(IMG, get_op("conv").resolve_args({"out": 16, "groups": 4}, {}, "a"))
    dense = get_op("conv").cost(IMG, get_op("conv").resolve_args({"out": 16}, {}, "a"))
    assert grouped.params * 4 == dense.params and grouped.macs * 4 == dense.macs


# --- custom ops registered with one decorator ---------------------------------------------------------------------


class _Sandwich(nn.Module):
    """1x1 conv with bias, then a fixed x2 (a toy custom op)."""

    def __init__(self, c_in: int, out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * 2


def _sandwich_shape(shape: Shape, a: Mapping[str, Any]) -> Shape:
    return (a["out"], shape[1], shape[2])


def _sandwich_cost(shape: Shape, a: Mapping[str, Any]) -> Cost:
    return Cost(shape[0] * a["out"] + a["out"], shape[0] * a["out"] * shape[1] * shape[2])


@pytest.fixture
def custom_op_names() -> Iterator[tuple[str, str]]:
    """Registers a function-form and a class-form custom op under unique names; removes them afterwards."""
    function_name, class_name = "test_core_ops_sandwich_fn", "test_core_ops_halve_cls"

    @register_op(function_name, args={"out": Int(minimum=1)}, shape=_sandwich_shape, cost=_sandwich_cost)
    def sandwich(shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        """A 1x1 conv with bias whose output is doubled."""
        return _Sandwich(shape[0], a["out"])

    @register_op(class_name, presets={"out": 6})
    class Halve(Op):
        """A stride-2 3x3 conv without bias: halves the spatial size."""

        args = {"out": Int(minimum=1)}

        def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
            return (a["out"], (shape[1] + 1) // 2, (shape[2] + 1) // 2)

        def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
            out = self.output_shape(shape, a)
            return Cost(9 * shape[0] * a["out"], 9 * shape[0] * a["out"] * out[1] * out[2])

        def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
            return nn.Conv2d(shape[0], a["out"], 3, 2, 1, bias=False)

    try:
        yield function_name, class_name
    finally:
        REGISTRY.unregister(function_name)
        REGISTRY.unregister(class_name)


def test_custom_ops_end_to_end(custom_op_names: tuple[str, str]) -> None:
    function_name, class_name = custom_op_names
    assert function_name in op_names() and class_name in op_names()
    assert get_op(function_name).doc == "A 1x1 conv with bias whose output is doubled."
    text = f"""
name: custom
input_shape: [3, 8, 8]
network:
  nodes:
    a: {{op: {function_name}, args: {{out: 5}}, inputs: [input]}}
    b: {{op: {class_name}, inputs: [a]}}
    gap: {{op: global_avg_pool, inputs: [b]}}
    fc: {{op: linear, args: {{out: 3}}, inputs: [gap]}}
  output: fc
"""
    arch = load(text)
    shapes = arch.shapes()
    assert shapes["a"] == (5, 8, 8) and shapes["b"] == (6, 4, 4)
    expected_params = (3 * 5 + 5) + 9 * 5 * 6 + (6 * 3 + 3)
    assert arch.params() == expected_params
    assert arch.macs() == 3 * 5 * 64 + 9 * 5 * 6 * 16 + 6 * 3
    model = nasbench.build(arch)
    assert sum(p.numel() for p in model.parameters()) == expected_params
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(torch.randn(2, 3, 8, 8))
    assert y.shape == (2, 3)
    assert counter.get_total_flops() // 2 == 2 * arch.macs()
    again = Architecture.from_yaml(arch.to_yaml())
    assert again == arch and again.hash() == arch.hash()
    other = Architecture.from_yaml(arch.to_yaml().replace("out: 5", "out: 4"))
    assert other.hash() != arch.hash()


def test_custom_op_errors(custom_op_names: tuple[str, str]) -> None:
    function_name, _ = custom_op_names
    with pytest.raises(ValueError, match="already registered"):
        register_op(function_name, shape=_sandwich_shape, cost=_sandwich_cost)(lambda shape, a: nn.Identity())
    with pytest.raises(ValueError, match="shape= and cost="):
        register_op("test_core_ops_incomplete")(lambda shape, a: nn.Identity())
    assert "test_core_ops_incomplete" not in op_names()
    text = f"""
name: custom
input_shape: [3, 8, 8]
network:
  nodes:
    a: {{op: {function_name}, args: {{out: 0}}, inputs: [input]}}
  output: a
"""
    with pytest.raises(nasbench.GenomeError, match="network.nodes.a.args.out"):
        load(text).validate()


def test_facts_are_declared_on_the_ops_and_queried_from_the_registry() -> None:
    assert {"conv", "conv_bn_relu", "relu_conv_bn"} <= set(ops_where(conv_like=True))
    assert "sep_conv" not in ops_where(conv_like=True) and get_op("sep_conv").category == "conv"
    assert {"relu", "bn", "max_pool", "skip_connect"} <= set(ops_where(preserves_width=True))
    assert not {"conv", "linear", "channel_slice", "flatten"} & set(ops_where(preserves_width=True))
    assert ops_where(category="head") == ["flatten", "linear"]
    with pytest.raises(TypeError, match="unknown fact"):
        ops_where(preserve_width=True)


def test_register_op_overrides_facts_for_one_registration(custom_op_names: tuple[str, str]) -> None:
    function_name, class_name = custom_op_names
    assert get_op(function_name).category == "other" and not get_op(class_name).preserves_width
    name = "test_core_ops_plain_relu"
    register_op(name, category="conv", preserves_width=False)(type(get_op("relu")))
    try:
        assert get_op(name).category == "conv" and not get_op(name).preserves_width
        assert get_op("relu").category == "plain" and get_op("relu").preserves_width
        assert name in ops_where(category="conv")
    finally:
        REGISTRY.unregister(name)
    with pytest.raises(ValueError, match="unknown category"):
        register_op(name, category="convolution")(type(get_op("relu")))
    with pytest.raises(TypeError, match="unknown fact"):
        register_op(name, conv=True)
    assert name not in op_names()
