"""The enas-macro and mobilenet spaces: their network structure, sizes and the enas-macro supernet."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasbench.errors import NasbenchError
from search_spaces import get
from search_spaces.enas_macro import OPS, EnasMacroSpace, op_variable, skip_variable
from search_spaces.mobilenet_space import DEPTHS, MobileNetSpace

SHAPE = (1, 16, 16)


def enas_choices(space: EnasMacroSpace, op: str = "conv_3x3", skips: tuple[tuple[int, int], ...] = ()) -> dict:
    choices = {}
    for layer in range(space.layers):
        choices[op_variable(layer)] = op
        for earlier in range(layer):
            choices[skip_variable(layer, earlier)] = int((layer, earlier) in skips)
    return choices


def test_enas_macro_has_enas_size_and_reductions() -> None:
    space = get("enas-macro", input_shape=SHAPE, num_classes=10)
    assert space.pool_layers == (3, 7)
    assert space.size() == 6**12 * 2**66 and len(space.variables()) == 12 + 66
    plain = space.decode(enas_choices(space))
    shapes = plain.shapes()
    assert shapes["layer3"] == (16, 16, 16) and shapes["layer4"] == (32, 8, 8) and shapes["layer11"] == (64, 4, 4)
    assert "layer5_join" not in shapes


def test_enas_macro_skip_connections_concat_then_1x1() -> None:
    space = EnasMacroSpace(SHAPE, 10)
    arch = space.decode(enas_choices(space, "max_pool_3x3", skips=((5, 1), (5, 4), (9, 0))))
    join = arch.lower().layer("layer5_join")
    assert join.merge == "concat" and join.in_shape == (32 * 3, 8, 8) and join.out_shape == (32, 8, 8)
    assert join.args["kernel"] == (1, 1)
    sources = {layer.path: layer for layer in arch.lower().layers}
    assert sources["reduce3_1"].op == "fact_reduce" and "reduce7_0" in sources and "reduce3_2" not in sources
    assert arch.params() > space.decode(enas_choices(space, "max_pool_3x3")).params()


def test_enas_macro_supernet_trains_and_derives_a_member() -> None:
    space = EnasMacroSpace(SHAPE, 10, layers=6, C=8)
    net = space.supernet(C=8, layers=6)
    alpha, beta = net.arch_parameters()
    assert alpha.shape == (6, len(OPS)) and beta.shape == (15,)
    loss = torch.nn.functional.cross_entropy(net(torch.randn(4, *SHAPE)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert alpha.grad is not None and beta.grad is not None and beta.grad.abs().sum() > 0
    with torch.no_grad():
        alpha.zero_()
        alpha[:, list(OPS).index("sep_conv_5x5")] = 1.0
        beta.fill_(-1.0)
        beta[0] = 1.0
    derived = net.genotype()
    assert space.contains(derived)
    choices = space.encode(derived)
    assert all(choices[op_variable(i)] == "sep_conv_5x5" for i in range(6))
    assert choices[skip_variable(1, 0)] == 1
    assert sum(choices[skip_variable(i, j)] for i in range(6) for j in range(i)) == 1
    with pytest.raises(NasbenchError, match="6 layers"):
        space.supernet(C=8, layers=8)


def test_mobilenet_blocks_follow_the_choices() -> None:
    space = MobileNetSpace(SHAPE, 10, width_mult=0.5)
    variables = space.variables()
    choices = {key: variable.choices[0] for key, variable in variables.items()}
    choices.update({"stage1_depth": 4, "stage1_block2_kernel": 7, "stage1_block2_expand": 6})
    arch = space.decode(choices)
    block = arch.network.node("stage1_block2")
    assert block["cell"] == "mbconv_res" and block["vars"]["k"] == 7
    assert block["vars"]["E"] == 6 * choices["stage1_width"]
    assert arch.network.node("stage1_block0")["cell"] == "mbconv" and "stage1_block4" not in arch.network.nodes()
    layers = {layer.path: layer for layer in arch.lower().layers}
    assert layers["stage1_block2.dw"].args["kernel"] == (7, 7) and layers["stage1_block2.dw"].args["groups"] > 1
    assert layers["stage1_block2.out"].merge == "add"
    unused = dict(choices, stage0_block3_kernel=7)  # stage 0 has depth 2: block 3 is not built
    assert space.decode(unused).hash() == arch.hash()


def test_mobilenet_size_counts_distinct_networks_and_mutation_changes_the_network() -> None:
    space = MobileNetSpace(SHAPE, 10)
    assert space.widths[0] == [24, 32]  # 0.75 x 24 rounds up to 24 (MobileNet's divisible-by-8 rule)
    blocks = sum(6**d for d in DEPTHS)
    assert space.size() == 2 * blocks * (3 * blocks) ** 4
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    for _ in range(5):
        child = space.mutate(arch, rng)
        assert child.hash() != arch.hash() and child.meta["parent"] == arch.hash()
        arch = child
