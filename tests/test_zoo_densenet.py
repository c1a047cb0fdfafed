"""DenseNet-specific checks: dense connectivity and growth, compression at transitions, depth, small-input stems."""

from __future__ import annotations

import math

import pytest
import torch

import nasbench
from nasbench.errors import NasbenchError
from nasbench.lowering import Lowered
from search_spaces import zoo

# name: (dense layers per block, growth rate k, channels entering block 1, final feature channels, published depth)
IMAGENET = {
    "densenet121": ((6, 12, 24, 16), 32, 64, 1024, 121),
    "densenet169": ((6, 12, 32, 32), 32, 64, 1664, 169),
    "densenet201": ((6, 12, 48, 32), 32, 64, 1920, 201),
}
BC100 = ((16, 16, 16), 12, 24, 342, 100)


def _weighted_layers(lowered: Lowered) -> int:
    return sum(1 for layer in lowered.layers if layer.op in ("bn_relu_conv", "conv", "conv_bn_relu", "linear"))


def _check_growth(lowered: Lowered, blocks: tuple[int, ...], k: int, channels: int) -> int:
    """Walk the blocks: every dense layer adds k channels to its input, every transition halves them and the grid."""
    for b, depth in enumerate(blocks, start=1):
        for j in range(depth):
            layer = f"denseblock{b}.{j}"
            bottleneck = lowered.layer(f"{layer}.conv1")
            assert bottleneck.in_shape[0] == channels + j * k  # it reads all earlier feature maps of the block
            assert bottleneck.out_shape[0] == 4 * k
            assert lowered.layer(f"{layer}.conv2").out_shape[0] == k
            joined = lowered.layer(f"{layer}.out")
            assert joined.merge == "concat" and joined.out_shape[0] == channels + (j + 1) * k
        channels += depth * k
        if b < len(blocks):
            pool = lowered.layer(f"transition{b}.pool")
            before = lowered.layer(f"transition{b}.conv").in_shape
            assert pool.out_shape == (math.floor(channels / 2), before[1] // 2, before[2] // 2)
            channels = pool.out_shape[0]
    return channels


@pytest.mark.parametrize("name", sorted(IMAGENET))
def test_imagenet_densenet_growth_and_depth(name: str) -> None:
    blocks, k, c0, final, depth = IMAGENET[name]
    lowered = zoo.get(name).lower()
    assert _check_growth(lowered, blocks, k, c0) == final
    assert lowered.layer("norm5").out_shape == (final, 7, 7)
    assert _weighted_layers(lowered) == depth  # the depth in the name counts convolutions and the classifier
    assert lowered.output_shape == (1000,)


def test_densenet_bc100_k12_matches_the_paper() -> None:
    blocks, k, c0, final, depth = BC100
    arch = zoo.get("densenet_bc100_k12")
    lowered = arch.lower()
    assert arch.input_shape == (3, 32, 32) and lowered.output_shape == (10,)
    assert _check_growth(lowered, blocks, k, c0) == final
    assert lowered.layer("norm").out_shape == (final, 8, 8)
    assert _weighted_layers(lowered) == depth
    assert lowered.params == pytest.approx(0.8e6, rel=0.05)  # Table 2: 0.8M for L=100, k=12


def test_densenet_bc_depth_must_fit_three_blocks() -> None:
    with pytest.raises(NasbenchError, match="6n\\+4"):
        zoo.get("densenet_bc100_k12", depth=99)


@pytest.mark.parametrize(("shape", "final_grid"), [((1, 16, 16), 2), ((3, 32, 32), 4), ((3, 64, 64), 2)])
def test_small_inputs_drop_the_stem_reductions(shape: tuple[int, int, int], final_grid: int) -> None:
    arch = zoo.adapt(zoo.get("densenet121"), shape, 10, width_mult=0.25)
    lowered = arch.lower()
    conv0 = lowered.layer("conv0")
    small = shape[1] < 64
    assert conv0.args["stride"] == ((1, 1) if small else (2, 2))
    assert ("pool0" in {layer.path for layer in lowered.layers}) is not small
    assert lowered.layer("norm5").out_shape[1:] == (final_grid, final_grid)
    assert lowered.output_shape == (10,)
    # width_mult scales the growth rate and the stem: k = 8, 16 stem channels
    assert lowered.layer("denseblock1.0.conv2").out_shape[0] == 8 and conv0.out_shape[0] == 16


def test_compiled_dense_block_concatenates_features() -> None:
    arch = zoo.adapt(zoo.get("densenet121"), (1, 16, 16), 10, width_mult=0.125)
    net = nasbench.build(arch).eval()
    assert sum(p.numel() for p in net.parameters()) == arch.params()
    with torch.no_grad():
        assert net(torch.randn(2, 1, 16, 16)).shape == (2, 10)
