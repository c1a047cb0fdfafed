"""Family-specific checks of LeNet, AlexNet, VGG, ResNet and HighwayNet beyond the whole-registry test."""

from __future__ import annotations

import pytest
import torch

import nasbench
from search_spaces import zoo
from search_spaces.zoo.networks.lenet import C3_TABLE


def _layers(name: str, **options: object) -> dict[str, object]:
    return {layer.path: layer for layer in zoo.get(name, **options).lower().layers}


def test_lenet5_c3_follows_the_connection_table() -> None:
    layers = _layers("lenet5")
    c3 = [layers[f"c3_{j}"] for j in range(16)]
    assert [layer.in_shape[0] for layer in c3] == [len(inputs) for inputs in C3_TABLE]
    assert sum(layer.cost.params for layer in c3) == 1516  # the paper's count for C3
    assert layers["s2"].cost.params == 12 and layers["s4"].cost.params == 32
    assert layers["c5"].out_shape == (120, 1, 1)


def test_alexnet_paper_layout() -> None:
    layers = _layers("alexnet")
    assert layers["conv1"].out_shape == (96, 55, 55)
    assert [p for p, layer in layers.items() if layer.op == "lrn"] == ["lrn1", "lrn2"]
    assert layers["pool5"].out_shape == (256, 6, 6)


@pytest.mark.parametrize(("name", "million"), [("vgg11", 133), ("vgg11_lrn", 133), ("vgg13", 133),
                                                ("vgg16_c", 134), ("vgg16", 138), ("vgg19", 144)])
def test_vgg_counts_round_to_the_papers_table(name: str, million: int) -> None:
    assert round(zoo.get(name).params() / 1e6) == million


def test_vgg16_c_ends_its_last_three_stages_with_1x1_convs() -> None:
    layers = _layers("vgg16_c")
    assert [p for p, layer in layers.items() if layer.op == "conv_relu" and layer.args["kernel"] == (1, 1)] == [
        "conv3_1x1", "conv4_1x1", "conv5_1x1"]


def test_small_inputs_lose_early_reductions() -> None:
    resnet = _layers("resnet18", input_shape=(3, 32, 32), num_classes=10)
    assert "maxpool" not in resnet and resnet["conv1"].args["kernel"] == (3, 3)
    assert resnet["layer4.out"].out_shape == (512, 4, 4)
    vgg = _layers("vgg16", input_shape=(1, 16, 16), num_classes=10)
    assert "pool1" not in vgg and vgg["pool5"].out_shape == (512, 1, 1)
    assert "fc6" not in vgg and vgg["fc"].out_shape == (10,)


def test_resnext_and_wide_resnet_blocks() -> None:
    resnext = _layers("resnext50_32x4d")
    assert resnext["layer1_0.conv2"].args["groups"] == 32 and resnext["layer1_0.conv2"].out_shape[0] == 128
    wrn = zoo.get("wrn28_10", dropout=0.3)
    assert wrn.params() == zoo.get("wrn28_10").params()
    assert sum(layer.op == "dropout" for layer in wrn.lower().layers) == 12


def test_preact_unit_adds_without_a_final_relu() -> None:
    layers = _layers("preact_resnet18")
    assert layers["layer1.0.out"].op == "identity" and layers["layer1.0.out"].merge == "add"
    assert layers["layer2_0.downsample"].inputs == ["layer2_0.preact"]
    assert layers["post"].op == "bn_relu"


def test_highway_layer_computes_the_gated_sum() -> None:
    arch = zoo.get("highway", input_shape=(3, 8, 8), width_mult=0.25)
    y = {layer.path: layer for layer in arch.lower().layers}["stage1.0.y"]
    assert y.merge == "gate" and y.inputs == ["stage1.0.h", "stage1.0.t", "conv1"]
    net = nasbench.build(arch).eval()
    assert torch.all(net.get_submodule("stage1.0.t").bias == -2.0)  # the paper's negative gate bias survives init
    seen: dict[str, torch.Tensor] = {}
    for path in ("conv1.1", "stage1.0.h.1", "stage1.0.t"):  # the last module of each unrolled op
        net.get_submodule(path).register_forward_hook(lambda m, i, o, path=path: seen.__setitem__(path, o.clone()))
    net.get_submodule("stage1.1.h.0").register_forward_pre_hook(lambda m, i: seen.__setitem__("y", i[0].clone()))
    net(torch.randn(2, 3, 8, 8))
    gate = torch.sigmoid(seen["stage1.0.t"])
    expected = seen["stage1.0.h.1"] * gate + seen["conv1.1"] * (1 - gate)
    torch.testing.assert_close(seen["y"], expected)
