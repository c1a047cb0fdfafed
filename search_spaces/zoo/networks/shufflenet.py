"""ShuffleNet v2 (Ma et al. 2018) as a zoo network, with torchvision's layout."""

from __future__ import annotations

from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.cell import NETWORK_INPUT, Cell
from search_spaces.zoo.networks.mobilenet import check_input, reduction_strides
from search_spaces.zoo.networks.scaling import width
from search_spaces.zoo.registry import register

# Output channels of the three stages and of conv5, and units per stage, for the 1.0x model (Table 5 of the paper).
STAGES_X1_0 = ((116, 4), (232, 8), (464, 4))
CONV5_X1_0 = 1024


def _branch(cell: Cell, source: str, channels: str) -> str:
    """The shared right branch: 1x1 conv-BN-ReLU, 3x3 depthwise conv-BN (stride s), 1x1 conv-BN-ReLU."""
    cell.add("pw1", "conv_bn_relu", inputs=[source], args={"out": channels, "kernel": 1})
    cell.add("dw", "conv_bn", inputs=["pw1"], args={"out": channels, "kernel": 3, "stride": "s", "groups": channels})
    return cell.add("pw2", "conv_bn_relu", inputs=["dw"], args={"out": channels, "kernel": 1})


def _cells() -> dict[str, Cell]:
    """The two units: the basic unit (channel split, one branch, concat, shuffle) and the downsampling unit."""
    basic = Cell(vars={"B": None, "s": 1})  # B: channels of each half; the input has 2B channels
    basic.add("left", "channel_slice", inputs=["x"], args={"start": 0, "stop": "B"})
    basic.add("right", "channel_slice", inputs=["x"], args={"start": "B", "stop": "2*B"})
    right = _branch(basic, "right", "B")
    basic.add("shuffle", "channel_shuffle", inputs=["left", right], merge="concat", args={"groups": 2})
    basic.output = "shuffle"

    down = Cell(vars={"Cin": None, "B": None, "s": 2})  # both branches read the whole input and halve its size
    down.add("left_dw", "conv_bn", inputs=["x"], args={"out": "Cin", "kernel": 3, "stride": "s", "groups": "Cin"})
    down.add("left_pw", "conv_bn_relu", inputs=["left_dw"], args={"out": "B", "kernel": 1})
    right = _branch(down, "x", "B")
    down.add("shuffle", "channel_shuffle", inputs=["left_pw", right], merge="concat", args={"groups": 2})
    down.output = "shuffle"
    return {"shuffle_unit": basic, "shuffle_down": down}


@register("shufflenet_v2_x1_0", family="shufflenet", params=2_278_604, macs=0.145e9, exact=True,
          paper="Ma et al., ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design, ECCV 2018")
def shufflenet_v2(num_classes: int = 1000, input_shape: Sequence[int] = (3, 224, 224),
                  width_mult: float = 1.0) -> Architecture:
    """ShuffleNet v2 1.0x (Ma et al. 2018): conv1 3x3/2, max pool 3x3/2, three stages of shuffle units, conv5, FC.

    Each stage starts with a downsampling unit (both branches strided, widths doubled); its other units split the
    channels in two halves, transform one, concatenate and shuffle the channels of the two groups.
    """
    shape = check_input(input_shape)
    strides = iter(reduction_strides(min(shape[1:]), 2 + len(STAGES_X1_0)))
    net = Cell(inputs=[NETWORK_INPUT])
    channels = width(24, width_mult)
    previous = net.add("conv1", "conv_bn_relu", inputs=[NETWORK_INPUT],
                       args={"out": channels, "kernel": 3, "stride": next(strides)})
    if next(strides) == 2:
        previous = net.add("maxpool", "max_pool", inputs=[previous], args={"kernel": 3, "stride": 2})
    for index, (out, units) in enumerate(STAGES_X1_0, start=2):
        half = width(out // 2, width_mult)
        previous = net.add(f"stage{index}", cell="shuffle_down", inputs=[previous],
                           vars={"Cin": channels, "B": half, "s": next(strides)})
        previous = net.add(f"stage{index}_rest", cell="shuffle_unit", inputs=[previous], vars={"B": half},
                           repeat=units - 1)
        channels = 2 * half
    net.add("conv5", "conv_bn_relu", inputs=[previous], args={"out": width(CONV5_X1_0, width_mult), "kernel": 1})
    net.add("pool", "global_avg_pool", inputs=["conv5"])
    net.add("fc", "linear", inputs=["pool"], args={"out": num_classes})
    net.output = "fc"
    return Architecture("shufflenet_v2_x1_0", shape, net, _cells())
