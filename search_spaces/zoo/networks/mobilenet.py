"""MobileNet v1 (Howard et al. 2017) and MobileNet v2 (Sandler et al. 2018) as zoo networks.

Also holds the reduction rule the efficient-net family shares (MobileNet, SqueezeNet, ShuffleNet, FractalNet, DPN):
on an input too small for all of them, the earliest stride-2 reductions become stride 1 (as the CIFAR variants of
ImageNet networks do) so that the last feature map keeps at least ``MIN_FINAL`` pixels a side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.cell import NETWORK_INPUT, Cell
from nasbench.errors import NasbenchError
from search_spaces.zoo.registry import register

MIN_FINAL = 4  # smallest last feature map an adapted network keeps (kuangliu's CIFAR MobileNets end at 4x4)


def reduction_strides(size: int, count: int, min_final: int = MIN_FINAL) -> list[int]:
    """Strides of ``count`` successive halvings of ``size``: as many 2s as leave ``min_final``, the earliest become 1.

    At ImageNet resolution every reduction stays (224 / 32 = 7); a 32x32 input keeps three, a 16x16 one two.
    """
    keep = max(0, int(math.floor(math.log2(size / min_final)))) if size >= min_final else 0
    keep = min(count, keep)
    return [1] * (count - keep) + [2] * keep


def make_divisible(value: float, divisor: int = 8) -> int:
    """TensorFlow's channel rounding used by MobileNet: nearest multiple of ``divisor``, never 10 % below ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def check_input(input_shape: Sequence[int]) -> tuple[int, int, int]:
    """``input_shape`` as a (C, H, W) tuple of positive ints, or NasbenchError."""
    shape = tuple(int(x) for x in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise NasbenchError(f"input_shape must be three positive integers (C, H, W), got {list(input_shape)}")
    return shape  # type: ignore[return-value]


def _v2_cells() -> dict[str, Cell]:
    """The inverted residual blocks: without expansion (t=1), with expansion, and with expansion plus residual."""
    dw_only = Cell(vars={"Cin": None, "C": None, "s": 1})
    dw_only.add("dw", "conv_bn_relu6", inputs=["x"], args={"out": "Cin", "kernel": 3, "stride": "s", "groups": "Cin"})
    dw_only.add("project", "conv_bn", inputs=["dw"], args={"out": "C", "kernel": 1})
    dw_only.output = "project"

    def expanded(residual: bool) -> Cell:
        cell = Cell(vars={"C": None, "t": 6} if residual else {"Cin": None, "C": None, "t": 6, "s": 1})
        hidden, stride = ("C*t", 1) if residual else ("Cin*t", "s")
        cell.add("expand", "conv_bn_relu6", inputs=["x"], args={"out": hidden, "kernel": 1})
        cell.add("dw", "conv_bn_relu6", inputs=["expand"],
                 args={"out": hidden, "kernel": 3, "stride": stride, "groups": hidden})
        cell.add("project", "conv_bn", inputs=["dw"], args={"out": "C", "kernel": 1})
        if residual:
            cell.add("out", "identity", inputs=["project", "x"], merge="add")
        cell.output = "out" if residual else "project"
        return cell

    return {"inverted_residual_t1": dw_only, "inverted_residual": expanded(False),
            "inverted_residual_skip": expanded(True)}


# (expansion t, output channels c, blocks n, stride s) of MobileNet v2's Table 2.
V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1))


@register("mobilenet_v2", family="mobilenet", exact=True, params=3_504_872, macs=0.301e9,
          paper="Sandler et al., MobileNetV2: Inverted Residuals and Linear Bottlenecks, CVPR 2018")
def mobilenet_v2(num_classes: int = 1000, input_shape: Sequence[int] = (3, 224, 224),
                 width_mult: float = 1.0, dropout: float = 0.2) -> Architecture:
    """MobileNet v2 (Sandler et al. 2018), torchvision's layout: stem, 17 inverted residual blocks, 1x1 conv to 1280.

    Blocks with stride 1 and equal widths add their input (linear bottleneck, no activation after the projection).
    Channels round to multiples of 8 after ``width_mult``; the last conv keeps 1280 channels below width 1.
    """
    shape = check_input(input_shape)
    reductions = iter(reduction_strides(min(shape[1:]), 1 + sum(1 for *_, s in V2_SETTINGS if s == 2)))
    net = Cell(inputs=[NETWORK_INPUT])
    width = make_divisible(32 * width_mult)
    previous = net.add("stem", "conv_bn_relu6", inputs=[NETWORK_INPUT],
                       args={"out": width, "kernel": 3, "stride": next(reductions)})
    for index, (t, c, n, s) in enumerate(V2_SETTINGS, start=1):
        out = make_divisible(c * width_mult)
        stride = next(reductions) if s == 2 else 1
        if t == 1:
            previous = net.add(f"block{index}", cell="inverted_residual_t1", inputs=[previous],
                               vars={"Cin": width, "C": out, "s": stride})
        else:
            previous = net.add(f"block{index}", cell="inverted_residual", inputs=[previous],
                               vars={"Cin": width, "C": out, "t": t, "s": stride})
        if n > 1:
            previous = net.add(f"block{index}_rest", cell="inverted_residual_skip", inputs=[previous],
                               vars={"C": out, "t": t}, repeat=n - 1)
        width = out
    last = make_divisible(1280 * max(1.0, width_mult))
    net.add("head_conv", "conv_bn_relu6", inputs=[previous], args={"out": last, "kernel": 1})
    net.add("pool", "global_avg_pool", inputs=["head_conv"])
    net.add("dropout", "dropout", inputs=["pool"], args={"p": dropout})
    net.add("fc", "linear", inputs=["dropout"], args={"out": num_classes})
    net.output = "fc"
    return Architecture("mobilenet_v2", shape, net, _v2_cells())


# (output channels, stride) of the 13 depthwise separable layers of MobileNet v1's Table 1.
V1_LAYERS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
             (512, 1), (1024, 2), (1024, 1))


@register("mobilenet_v1", family="mobilenet", params=4_200_000, macs=0.569e9,
          paper="Howard et al., MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications, "
                "arXiv 1704.04861, 2017")
def mobilenet_v1(num_classes: int = 1000, input_shape: Sequence[int] = (3, 224, 224), width_mult: float = 1.0,
                 alpha: float = 1.0, rho: float = 1.0) -> Architecture:
    """MobileNet v1 (Howard et al. 2017): a 3x3 stem and 13 depthwise separable convolutions, avg pool, FC.

    ``alpha`` is the paper's width multiplier (every layer's channels times alpha), ``rho`` its resolution multiplier:
    the network is built for an input of ``rho`` times ``input_shape``'s height and width (224 * rho on ImageNet).
    ``width_mult`` (the zoo's adaptation factor) multiplies alpha.
    """
    if alpha <= 0 or rho <= 0:
        raise NasbenchError(f"mobilenet_v1: alpha and rho must be positive, got alpha={alpha}, rho={rho}")
    c, h, w = check_input(input_shape)
    shape = (c, max(1, round(h * rho)), max(1, round(w * rho)))
    reductions = iter(reduction_strides(min(shape[1:]), 1 + sum(1 for _, s in V1_LAYERS if s == 2)))
    scale = alpha * width_mult
    net = Cell(inputs=[NETWORK_INPUT])
    previous = net.add("stem", "conv_bn_relu", inputs=[NETWORK_INPUT],
                       args={"out": make_divisible(32 * scale), "kernel": 3, "stride": next(reductions)})
    index = 0
    while index < len(V1_LAYERS):
        out, s = V1_LAYERS[index]
        run = 1  # consecutive identical stride-1 layers become one repeated node (the five 512-wide layers)
        while s == 1 and index + run < len(V1_LAYERS) and V1_LAYERS[index + run] == (out, 1):
            run += 1
        stride = next(reductions) if s == 2 else 1
        previous = net.add(f"dw{index + 1}", "dw_sep_conv", inputs=[previous], repeat=run,
                           args={"out": make_divisible(out * scale), "kernel": 3, "stride": stride})
        index += run
    net.add("pool", "global_avg_pool", inputs=[previous])
    net.add("fc", "linear", inputs=["pool"], args={"out": num_classes})
    net.output = "fc"
    return Architecture("mobilenet_v1", shape, net)
