"""The compiler: straight-line fx forward, seeded init, analytic counts, memory formats, export, compile, aux heads."""

from __future__ import annotations

import random

import pytest
import torch
from genomes import tiny_resnet
from torch import fx
from torch.utils.flop_counter import FlopCounterMode

import nasbench
from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.compiler import WithAuxiliaryHeads

RESNET = tiny_resnet(size=16, width=8)

# Not the shared tiny ResNet: a cell-free network whose aux head (pool, 1x1 conv, linear) reads a strided mid feature;
# without the head it is the small network that test_torch_compile compiles.
AUX = """
name: with_aux
input_shape: [3, 16, 16]
network:
  nodes:
    stem: {op: conv_bn_relu, args: {out: 8}, inputs: [input]}
    mid: {op: sep_conv, args: {out: 16, stride: 2}, inputs: [stem]}
    aux_pool: {op: avg_pool, args: {kernel: 5, stride: 3, padding: 0}, inputs: [mid]}
    aux_conv: {op: conv_bn_relu, args: {out: 8, kernel: 1}, inputs: [aux_pool]}
    aux_fc: {op: linear, args: {out: 10}, inputs: [aux_conv]}
    top: {op: dil_conv, args: {out: 16}, inputs: [mid]}
    gap: {op: global_avg_pool, inputs: [top]}
    fc: {op: linear, args: {out: 10}, inputs: [gap]}
  output: fc
  aux: [aux_fc]
"""

OPS = ["conv_bn_relu", "sep_conv", "dil_conv", "dw_sep_conv", "max_pool", "avg_pool", "skip_connect", "conv_1xk_kx1",
       "relu_conv_bn"]
WIDTH_OPS = {"conv_bn_relu", "sep_conv", "dil_conv", "dw_sep_conv", "conv_1xk_kx1", "relu_conv_bn"}


def random_arch(seed: int) -> Architecture:
    """A small random network: a DAG of random ops, widths and strides with add and concat merges."""
    rng = random.Random(seed)
    net = Cell(inputs=["input"])
    net.add("stem", "conv_bn", inputs=["input"], args={"out": rng.choice([4, 8])})
    shapes = {"stem": "s0"}  # spatial level of each node: merges only join nodes of one level
    names = ["stem"]
    for i in range(rng.randint(3, 7)):
        op = rng.choice(OPS)
        stride = rng.choice([1, 1, 2])
        args: dict[str, object] = {}
        if op in WIDTH_OPS:
            args["out"] = rng.choice([4, 8, 12])
        if op != "skip_connect" or stride == 2:
            args["stride"] = stride
        level = shapes[names[-1]]
        peers = [n for n in names[:-1] if shapes[n] == level]
        if peers and rng.random() < 0.4:
            inputs, merge = [names[-1], rng.choice(peers)], "concat"
        else:
            inputs, merge = [names[-1]], None
        name = f"n{i}"
        net.add(name, op, inputs=inputs, args=args, merge=merge)
        shapes[name] = f"{level}/{stride}" if stride == 2 else level
        names.append(name)
    net.add("gap", "global_avg_pool", inputs=[names[-1]])
    net.add("fc", "linear", inputs=["gap"], args={"out": 5})
    net.output = "fc"
    return Architecture(f"random_{seed}", (3, 12, 12), net)


def _param_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_forward_is_straight_line_graph_module() -> None:
    arch = Architecture.from_yaml(RESNET)
    model = nasbench.build(arch)
    assert isinstance(model, fx.GraphModule)
    code = model.code
    lines = [line.strip() for line in code.splitlines()]
    assert not any(line.startswith(("if ", "for ", "while ")) for line in lines), code
    # Sequential op modules are unrolled: the graph calls conv, bn and relu leaves directly.
    targets = {node.target for node in model.graph.nodes if node.op == "call_module"}
    assert "stem.0" in targets and "b.0.c1.1" in targets and "stem" not in targets
    assert {type(model.get_submodule(t)).__name__ for t in targets} >= {"Conv2d", "BatchNorm2d", "ReLU", "Linear"}
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_seeded_init_is_deterministic() -> None:
    arch = Architecture.from_yaml(RESNET)
    first, second = nasbench.build(arch, seed=3).state_dict(), nasbench.build(arch, seed=3).state_dict()
    other = nasbench.build(arch, seed=4).state_dict()
    assert first.keys() == second.keys() == other.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first if k.endswith("weight"))
    # Building with a seed leaves the global RNG alone.
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    nasbench.build(arch, seed=5)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("seed", range(8))
def test_random_arch_counts_match_module(seed: int) -> None:
    arch = random_arch(seed)
    model = nasbench.build(arch, seed=seed)
    assert _param_count(model) == arch.params()
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(torch.randn(1, *arch.input_shape))
    assert out.shape == (1, *arch.output_shape())
    assert abs(counter.get_total_flops() // 2 - arch.macs()) <= 0.01 * arch.macs()


def test_channels_last_matches_default() -> None:
    arch = random_arch(3)
    model = nasbench.build(arch).eval()
    x = torch.randn(2, *arch.input_shape)
    with torch.no_grad():
        expected = model(x)
        model_cl = nasbench.build(arch).eval().to(memory_format=torch.channels_last)
        got = model_cl(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_autocast_bfloat16_cpu() -> None:
    arch = Architecture.from_yaml(RESNET)
    model = nasbench.build(arch).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(x)
    assert y.shape == (2, 10) and y.dtype == torch.bfloat16
    assert torch.isfinite(y.float()).all()


def test_torch_export() -> None:
    arch = Architecture.from_yaml(RESNET)
    model = nasbench.build(arch).eval()
    x = torch.randn(2, 3, 16, 16)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), model(x))


@pytest.mark.slow
def test_torch_compile() -> None:
    # Inductor's first compile dominates (tens of seconds on a busy CPU): the smallest network keeps it bearable.
    arch = Architecture.from_yaml(AUX.replace("  aux: [aux_fc]\n", ""))
    model = nasbench.build(arch).eval()
    x = torch.randn(2, *arch.input_shape)
    compiled = torch.compile(model)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)


def test_aux_heads() -> None:
    arch = Architecture.from_yaml(AUX)
    lowered = arch.lower()
    aux_params = sum(layer.cost.params for layer in lowered.layers if layer.aux)
    assert aux_params > 0
    model = nasbench.build(arch)
    assert isinstance(model, WithAuxiliaryHeads)
    assert _param_count(model) == arch.params()
    x = torch.randn(2, 3, 16, 16)
    model.train()
    out = model(x)
    assert isinstance(out, tuple) and len(out) == 2
    assert out[0].shape == out[1].shape == (2, 10)
    model.eval()
    with torch.no_grad():
        logits = model(x)
    assert isinstance(logits, torch.Tensor) and logits.shape == (2, 10)
    # Eval calls the very modules of the training graph (one set of weights).
    with torch.no_grad():
        torch.testing.assert_close(logits, model.net(x)[0])
    plain = nasbench.build(arch, aux=False)
    assert isinstance(plain, fx.GraphModule)
    assert _param_count(plain) == arch.params() - aux_params
    assert not any(name.startswith("aux") for name, _ in plain.named_modules())
    assert plain.train()(x).shape == (2, 10)


def test_input_shape_override_build() -> None:
    arch = Architecture.from_yaml(RESNET)
    model = nasbench.build(arch, input_shape=(3, 24, 24))
    assert model(torch.randn(1, 3, 24, 24)).shape == (1, 10)
    assert _param_count(model) == arch.params((3, 24, 24))
