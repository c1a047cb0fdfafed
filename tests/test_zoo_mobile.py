"""Family checks for the efficient zoo networks: MobileNet v1's multiplier table, MobileNet v2's residuals, SqueezeNet's
ceil-mode pools, ShuffleNet v2's channel split and shuffle, and the reduction rule of their small adaptations."""

from __future__ import annotations

import pytest
import torch

import nasbench
from nasbench.architecture import Architecture
from nasbench.cell import NETWORK_INPUT, Cell
from nasbench.errors import NasbenchError
from search_spaces import zoo
from search_spaces.zoo.networks.mobilenet import reduction_strides

# The seed table (Howard et al. 2017, Tables 6 and 7): parameters in millions, mult-adds in millions.
ALPHA_TABLE = {1.0: (4.2, 569), 0.75: (2.6, 325), 0.5: (1.3, 149), 0.25: (0.5, 41)}
RHO_TABLE = {192: 418, 160: 290, 128: 186}


@pytest.mark.parametrize("alpha", sorted(ALPHA_TABLE))
def test_mobilenet_v1_width_multiplier_matches_the_paper(alpha: float) -> None:
    params, mult_adds = ALPHA_TABLE[alpha]
    arch = zoo.get("mobilenet_v1", alpha=alpha)
    assert arch.macs() / 1e6 == pytest.approx(mult_adds, rel=0.03)
    # The paper prints millions to one decimal: 0.47M appears as 0.5M, so the check is "within 3 % or rounds to it".
    measured = arch.params() / 1e6
    assert measured == pytest.approx(params, rel=0.03) or round(measured, 1) == params


@pytest.mark.parametrize("resolution", sorted(RHO_TABLE))
def test_mobilenet_v1_resolution_multiplier_matches_the_paper(resolution: int) -> None:
    arch = zoo.get("mobilenet_v1", rho=resolution / 224)
    assert arch.input_shape == (3, resolution, resolution)
    assert arch.macs() / 1e6 == pytest.approx(RHO_TABLE[resolution], rel=0.03)
    assert arch.params() == zoo.get("mobilenet_v1").params()  # resolution leaves the weights alone
    assert arch.shapes()["pool"] == (1024,)


def test_mobilenet_v1_rejects_bad_multipliers() -> None:
    with pytest.raises(NasbenchError, match="alpha"):
        zoo.get("mobilenet_v1", alpha=0)


def test_mobilenet_v2_has_the_ten_linear_bottleneck_residuals() -> None:
    layers = zoo.get("mobilenet_v2").lower().layers
    adds = [layer for layer in layers if layer.merge == "add"]
    assert len(adds) == 10  # stride-1 blocks of equal width: 1 + 2 + 3 + 2 + 2
    by_path = {layer.path: layer for layer in layers}
    for add in adds:  # the projection feeding the residual is linear: conv-BN without activation
        projection = by_path[add.inputs[0]]
        assert projection.op == "conv_bn" and projection.args["act"] == "none"
    assert layers[-1].out_shape == (1000,)


def test_reduction_rule_keeps_imagenet_networks_and_trims_small_inputs() -> None:
    assert reduction_strides(224, 5) == [2] * 5
    assert reduction_strides(128, 5) == [2] * 5
    assert reduction_strides(32, 5) == [1, 1, 2, 2, 2]
    assert reduction_strides(16, 5) == [1, 1, 1, 2, 2]
    assert reduction_strides(3, 5) == [1] * 5
    assert reduction_strides(32, 5, min_final=1) == [2] * 5


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "squeezenet1_0", "squeezenet1_1",
                                  "shufflenet_v2_x1_0"])
@pytest.mark.parametrize("shape", [(1, 16, 16), (3, 32, 32), (1, 5, 5)])
def test_small_adaptations_end_at_a_few_pixels(name: str, shape: tuple[int, int, int]) -> None:
    small = zoo.adapt(zoo.get(name), shape, 10, width_mult=0.25)
    spatial = [s for s in small.shapes().values() if len(s) == 3]
    assert min(min(s[1:]) for s in spatial) >= min(4, shape[1])
    assert small.output_shape() == (10,)
    assert small.params() < zoo.get(name).params() / 4


@pytest.mark.parametrize(("name", "fire9", "params"), [("squeezenet1_0", (512, 13, 13), 1_248_424),
                                                        ("squeezenet1_1", (512, 13, 13), 1_235_496)])
def test_squeezenet_ceil_mode_pools_and_conv_classifier(name: str, fire9: tuple[int, ...], params: int) -> None:
    arch = zoo.get(name)
    shapes = arch.shapes()
    assert shapes["fire9.out"] == fire9  # floor-mode pools would end at 12 x 12
    assert shapes["classifier"] == (1000, 13, 13) and shapes["pool"] == (1000,)
    assert arch.params() == params
    net = nasbench.build(zoo.adapt(arch, (1, 16, 16), 10, width_mult=0.25)).eval()
    with torch.no_grad():
        assert bool((net(torch.randn(4, 1, 16, 16)) >= 0).all())  # the ReLU after the classifier conv


def test_shufflenet_unit_passes_one_half_and_interleaves_the_halves() -> None:
    template = zoo.get("shufflenet_v2_x1_0")
    net = Cell(inputs=[NETWORK_INPUT])
    net.add("unit", cell="shuffle_unit", inputs=[NETWORK_INPUT], vars={"B": 4})
    net.output = "unit"
    arch = Architecture("unit", (8, 5, 5), net, {"shuffle_unit": template.cells["shuffle_unit"]})
    module = nasbench.build(arch).eval()
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        y = module(x)
    assert torch.equal(y[:, 0::2], x[:, :4])  # the untouched left half lands on the even channels
    assert not torch.allclose(y[:, 1::2], x[:, 4:])  # the right half went through the branch
    ops = [layer.op for layer in template.lower().layers]
    assert ops.count("channel_shuffle") == 16 and ops.count("channel_slice") == 26
