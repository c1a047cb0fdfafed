"""Convolutional highway network (Srivastava, Greff, Schmidhuber 2015) for CIFAR-10.

A highway layer is a cell template over its width ``C``: a 3x3 conv with ReLU computes H(x), a 3x3 conv computes the
transform gate's pre-activation t, and the ``gate`` merge returns H(x) * sigmoid(t) + x * (1 - sigmoid(t)). The gate
conv's bias starts at ``b`` (-2 by default: the paper's negative initialization, so that the layers start by carrying).
"""

from __future__ import annotations

from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from search_spaces.zoo.networks.scaling import reductions_that_fit, width
from search_spaces.zoo.registry import register

PAPER = "Srivastava, Greff, Schmidhuber. Training Very Deep Networks. NIPS 2015"


def highway_layer() -> Cell:
    """One highway layer: H a 3x3 conv with ReLU, T = sigmoid of a 3x3 conv, joined by the gate merge."""
    cell = Cell(vars={"C": None, "b": -2.0})
    cell.add("h", "conv_relu", inputs=["x"], args={"out": "C"})
    cell.add("t", "gate_conv", inputs=["x"], args={"out": "C", "bias_init": "b"})
    cell.add("y", "identity", inputs=["h", "t", "x"], merge="gate")
    cell.output = "y"
    return cell


def highway(num_classes: int = 10, input_shape: Sequence[int] = (3, 32, 32), width_mult: float = 1.0,
            widths: Sequence[int] = (32, 80, 128), layers: int = 5, gate_bias: float = -2.0) -> Architecture:
    """The 19-layer convolutional highway network of the paper's CIFAR-10 experiments.

    The paper compares with FitNets (Romero et al. 2015) and keeps their layout; this reconstruction uses FitNet-4's
    widths: a plain 3x3 conv, then per stage ``layers`` highway layers, with a 2x2 max pool and a plain 3x3 conv
    changing the width between stages, then global average pooling and a linear classifier (1 + 3x5 + 2 + 1 = 19
    weight layers; 2.26M parameters against the paper's 2.3M). Highway layers cannot change their width (the carry
    path is the identity), hence the plain transition convs. Pools that would shrink the map below 1 pixel are
    dropped, earliest first.
    """
    channels = [width(c, width_mult) for c in widths]
    pools = reductions_that_fit(min(input_shape[1:]), len(channels) - 1, lambda size: size // 2)
    net = Cell(inputs=["input"])
    source = net.add("conv1", "conv_relu", inputs=["input"], args={"out": channels[0]})
    for i, c in enumerate(channels, start=1):
        if i > 1:
            if i - 1 > len(channels) - 1 - pools:
                source = net.add(f"pool{i - 1}", "max_pool", inputs=[source],
                                 args={"kernel": 2, "stride": 2, "padding": 0})
            source = net.add(f"transition{i}", "conv_relu", inputs=[source], args={"out": c})
        source = net.add(f"stage{i}", cell="highway", vars={"C": c, "b": gate_bias}, inputs=[source],
                         repeat=layers)
    net.add("avgpool", "global_avg_pool", inputs=[source])
    net.add("fc", "linear", inputs=["avgpool"], args={"out": num_classes})
    net.output = "fc"
    return Architecture("highway", input_shape, net, {"highway": highway_layer()})


register("highway", family="highway", paper=PAPER, params=2_300_000, tolerance=0.03, plain=True)(highway)
