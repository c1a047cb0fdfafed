"""Inception-family checks: GoogLeNet's module table, auxiliary heads, grid sizes, residual scaling, small inputs."""

from __future__ import annotations

import pytest
import torch

import nasbench
from nasbench.architecture import Architecture
from nasbench.lowering import Layer, Lowered
from search_spaces import zoo

# GoogLeNet's Table 1 (Szegedy et al. 2015): module -> (output channels, grid, params in K = 1024 weights, ops in M).
# The table's counts leave out biases.
TABLE1 = {
    "3a": (256, 28, 159, 128), "3b": (480, 28, 380, 304),
    "4a": (512, 14, 364, 73), "4b": (512, 14, 437, 88), "4c": (512, 14, 463, 100), "4d": (528, 14, 580, 119),
    "4e": (832, 14, 840, 170), "5a": (832, 7, 1072, 54), "5b": (1024, 7, 1388, 71),
}
# Two rows of the table disagree with its own columns: 4c's params contradict its ops (the ops match the filter
# counts), and 5a's params and ops were computed with a #5x5 reduce of 48 (5b's) instead of the listed 32.
PARAMS_ERRATA = {"4c", "5a"}


def _weights(layer: Layer) -> int:
    """Convolution / linear weights of a layer, biases and batch norm left out (as the table counts)."""
    if "conv" in layer.op:
        kh, kw = layer.args["kernel"]
        return layer.args["out"] * layer.in_shape[0] // layer.args["groups"] * kh * kw
    return 0


def _module(lowered: Lowered, module: str) -> list[Layer]:
    layers = [layer for layer in lowered.layers if layer.path.startswith(f"inception{module}.")]
    assert layers, f"no layers for inception{module}"
    return layers


@pytest.fixture(scope="module")
def googlenet() -> Lowered:
    return zoo.get("googlenet").lower()


@pytest.mark.parametrize("module", sorted(TABLE1))
def test_googlenet_module_matches_table1(googlenet: Lowered, module: str) -> None:
    channels, grid, params_k, ops_m = TABLE1[module]
    layers = _module(googlenet, module)
    assert googlenet.layer(f"inception{module}.out").out_shape == (channels, grid, grid)
    weights = sum(_weights(layer) for layer in layers) / 1024
    macs = sum(layer.cost.macs for layer in layers) / 1e6
    if module not in PARAMS_ERRATA:
        assert weights == pytest.approx(params_k, rel=0.03)
    if module != "5a":
        assert macs == pytest.approx(ops_m, rel=0.03)
    # Real 5x5 convolutions in the 5x5 branch, as the paper's modules have them.
    assert googlenet.layer(f"inception{module}.branch3").args["kernel"] == (5, 5)


def test_googlenet_table1_errata() -> None:
    """4c's ops match the filter counts; 5a's params and ops are those of a 48-wide 5x5 reduction."""
    lowered = zoo.get("googlenet").lower()
    assert sum(layer.cost.macs for layer in _module(lowered, "4c")) / 1e6 == pytest.approx(100, rel=0.01)
    arch = zoo.get("googlenet")
    arch.network.node("inception5a")["vars"]["c5r"] = 48
    layers = _module(arch.lower(), "5a")
    assert sum(_weights(layer) for layer in layers) / 1024 == pytest.approx(1072, rel=0.01)
    assert sum(layer.cost.macs for layer in layers) / 1e6 == pytest.approx(54, rel=0.01)


def test_googlenet_paper_stem_and_totals(googlenet: Lowered) -> None:
    paths = [layer.path for layer in googlenet.layers]
    assert paths[:7] == ["conv1", "pool1", "norm1", "conv2_reduce", "conv2", "norm2", "pool2"]
    assert googlenet.layer("norm1").op == "lrn" and googlenet.layer("conv1").args["bias"]
    assert not any(layer.op.startswith("conv_bn") for layer in googlenet.layers)  # no batch norm in 2014
    assert googlenet.layer("pool2").out_shape == (192, 28, 28)
    assert googlenet.params == pytest.approx(6.8e6, rel=0.03)
    assert googlenet.aux_outputs == []


def test_googlenet_auxiliary_classifiers() -> None:
    plain = zoo.get("googlenet").lower()
    lowered = zoo.get("googlenet", aux=True).lower()
    assert lowered.aux_outputs == ["aux1.fc2", "aux2.fc2"]
    # 5x5/3 average pooling gives 4x4x512 after 4a and 4x4x528 after 4d, then 128 1x1 filters and FC 1024.
    assert lowered.layer("aux1.pool").out_shape == (512, 4, 4)
    assert lowered.layer("aux2.pool").out_shape == (528, 4, 4)
    assert lowered.layer("aux1.fc1").in_shape == (128, 4, 4) and lowered.layer("aux1.fc1").out_shape == (1024,)
    heads = (512 * 128 + 128) + (528 * 128 + 128) + 2 * (2048 * 1024 + 1024 + 1024 * 1000 + 1000)
    assert lowered.params == plain.params + heads
    assert lowered.macs == plain.macs  # the heads are training outputs only


def test_googlenet_torchvision_variant() -> None:
    lowered = zoo.get("googlenet_tv").lower()
    assert lowered.params == 6_624_904
    assert lowered.layer("inception3a.branch3").args["kernel"] == (3, 3)
    assert not any(layer.op == "lrn" for layer in lowered.layers)


def test_inception_v3_grids_and_aux_head() -> None:
    lowered = zoo.get("inception_v3").lower()
    assert lowered.layer("Mixed_5d.out").out_shape == (288, 35, 35)
    assert lowered.layer("Mixed_6e.out").out_shape == (768, 17, 17)
    assert lowered.layer("Mixed_7c.out").out_shape == (2048, 8, 8)
    assert lowered.aux_outputs == ["AuxLogits.fc"]
    assert lowered.layer("AuxLogits.pool").out_shape == (768, 5, 5)
    assert lowered.layer("AuxLogits.conv1").out_shape == (768, 1, 1)
    assert zoo.get("inception_v3", aux=False).lower().params == 23_834_568  # torchvision with aux_logits=False


@pytest.mark.parametrize(("name", "grids"), [
    ("inception_v4", {"inception_a.3.out": 35, "inception_b.6.out": 17, "inception_c.2.out": 8}),
    ("inception_resnet_v2", {"repeat.9.out": 35, "repeat_1.19.out": 17, "block8.out": 8}),
])
def test_inception_v4_family_grids(name: str, grids: dict[str, int]) -> None:
    lowered = zoo.get(name).lower()
    for path, grid in grids.items():
        assert lowered.layer(path).out_shape[1:] == (grid, grid)
    assert lowered.layer("global_pool").out_shape == (1536,)


def test_inception_resnet_v2_residual_scaling() -> None:
    lowered = zoo.get("inception_resnet_v2").lower()
    factors = [layer.args["factor"] for layer in lowered.layers if layer.op == "scale"]
    assert factors == [0.17] * 10 + [0.1] * 20 + [0.2] * 9 + [1.0]
    for layer in lowered.layers:
        if layer.path.endswith(".out") and layer.merge == "add":
            scaled, shortcut = (lowered.layer(path).out_shape for path in layer.inputs)
            assert scaled == shortcut
    assert lowered.layer("block8.out").op == "identity"  # the last block has no ReLU
    assert lowered.layer("repeat_2.8.out").op == "relu"


SMALL_NETS = ("googlenet", "googlenet_tv", "inception_v3", "inception_v4", "inception_resnet_v2")


def _first_module(lowered: Lowered) -> Layer:
    return next(layer for layer in lowered.layers if layer.merge == "concat")


@pytest.mark.parametrize("name", SMALL_NETS)
@pytest.mark.parametrize("shape", [(1, 16, 16), (3, 32, 32)])
def test_small_inputs_keep_the_grid_until_the_first_module(name: str, shape: tuple[int, int, int]) -> None:
    arch = zoo.adapt(zoo.get(name), shape, 10, width_mult=0.25)
    lowered = arch.lower()  # validates every spatial size >= 1
    assert _first_module(lowered).out_shape[1:] == shape[1:]
    assert lowered.output_shape == (10,)


@pytest.mark.parametrize("name", ("inception_v3", "inception_v4", "inception_resnet_v2"))
def test_75_pixels_keep_the_full_stem(name: str) -> None:
    """75x75 is the smallest input of the unchanged network: its last grid is 1x1 (torchvision's documented minimum).

    (Inception v3's auxiliary head shrinks its 5x5 conv to the 1x1 grid it gets there, so it is left out.)
    """
    options = {"aux": False} if name == "inception_v3" else {}
    full = zoo.get(name, input_shape=(3, 75, 75), **options).lower()
    assert full.params == zoo.get(name, **options).lower().params
    pooled = next(layer for layer in full.layers if layer.op == "global_avg_pool" and not layer.aux)
    assert pooled.in_shape[1:] == (1, 1)


@pytest.mark.parametrize(("name", "options", "heads"), [("googlenet", {"aux": True}, 2), ("inception_v3", {}, 1)])
def test_auxiliary_heads_train_on_small_inputs(name: str, options: dict[str, bool], heads: int) -> None:
    arch: Architecture = zoo.adapt(zoo.get(name, **options), (1, 16, 16), 10, width_mult=0.0625)
    net = nasbench.build(arch)
    x = torch.randn(4, 1, 16, 16)
    outputs = net.train()(x)
    assert isinstance(outputs, tuple) and len(outputs) == 1 + heads
    assert all(out.shape == (4, 10) for out in outputs)
    loss = sum(torch.nn.functional.cross_entropy(out, torch.zeros(4, dtype=torch.long)) for out in outputs)
    loss.backward()
    with torch.no_grad():
        assert net.eval()(x).shape == (4, 10)
