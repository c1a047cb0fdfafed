"""DenseNet (Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional Networks", CVPR 2017).

Two cell templates carry the whole family: ``dense_layer`` (BN-ReLU-conv1x1 bottleneck to ``bn_size*k`` channels,
BN-ReLU-conv3x3 to ``k`` channels, concatenated to the layer's input, so every layer sees all earlier feature maps of
its block) repeated ``depth`` times as a dense block, and ``transition`` (BN-ReLU-conv1x1 compressing the channels,
2x2 average pooling) between blocks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.errors import NasbenchError
from search_spaces.zoo.networks.scaling import is_small, width
from search_spaces.zoo.registry import register

PAPER = "Huang et al., Densely Connected Convolutional Networks, CVPR 2017 (arXiv:1608.06993)"


def dense_layer() -> Cell:
    """One dense layer: ``concat(x, conv3x3(conv1x1(x)))`` with pre-activation BN-ReLU before each convolution."""
    cell = Cell(vars={"k": None, "bn_size": 4})
    cell.add("conv1", "bn_relu_conv", inputs=["x"], args={"out": "bn_size*k", "kernel": 1})
    cell.add("conv2", "bn_relu_conv", inputs=["conv1"], args={"out": "k", "kernel": 3})
    cell.add("out", "identity", inputs=["x", "conv2"], merge="concat")
    cell.output = "out"
    return cell


def transition() -> Cell:
    """Transition between dense blocks: BN-ReLU-conv1x1 to ``C`` channels, then 2x2 average pooling, stride 2."""
    cell = Cell(vars={"C": None})
    cell.add("conv", "bn_relu_conv", inputs=["x"], args={"out": "C", "kernel": 1})
    cell.add("pool", "avg_pool", inputs=["conv"], args={"kernel": 2, "stride": 2})
    cell.output = "pool"
    return cell


@register("densenet121", family="densenet", paper=PAPER, params=7_978_856, macs=2.834e9, exact=True,
          tolerance=0.02, depths=(6, 12, 24, 16))
@register("densenet169", family="densenet", paper=PAPER, params=14_149_480, macs=3.360e9, exact=True,
          tolerance=0.02, depths=(6, 12, 32, 32))
@register("densenet201", family="densenet", paper=PAPER, params=20_013_928, macs=4.291e9, exact=True,
          tolerance=0.02, depths=(6, 12, 48, 32))
def densenet(num_classes: int = 1000, input_shape: Sequence[int] = (3, 224, 224), width_mult: float = 1.0,
             depths: Sequence[int] = (6, 12, 24, 16), growth: int = 32, init_features: int = 64, bn_size: int = 4,
             compression: float = 0.5) -> Architecture:
    """DenseNet-BC for ImageNet as torchvision builds it (DenseNet-121/169/201 differ only in ``depths``).

    Stem: 7x7/2 conv-BN-ReLU and 3x3/2 max pooling, both reductions left out for small inputs (below 64 pixels, as
    DenseNet's own CIFAR networks have no stem reduction); dense blocks of
    ``depths`` layers with growth rate ``growth``; transitions halve the channels (``compression``); BN-ReLU, global
    average pooling and the classifier. ``width_mult`` scales the growth rate and the stem width.
    """
    small = is_small(min(input_shape[1:]))
    network = Cell(inputs=["input"])
    stem = network.add("conv0", "conv_bn_relu", inputs=["input"],
                       args={"out": width(init_features, width_mult), "kernel": 7, "stride": 1 if small else 2})
    if not small:
        stem = network.add("pool0", "max_pool", inputs=[stem], args={"kernel": 3, "stride": 2})
    features = _dense_body(network, stem, width(init_features, width_mult), depths,
                           width(growth, width_mult), bn_size, compression)
    network.add("norm5", "bn_relu", inputs=[features])
    network.add("pool", "global_avg_pool", inputs=["norm5"])
    network.add("classifier", "linear", inputs=["pool"], args={"out": num_classes})
    network.output = "classifier"
    return Architecture("densenet", input_shape, network, {"dense_layer": dense_layer(), "transition": transition()})


@register("densenet_bc100_k12", family="densenet", paper=PAPER, params=800_000, tolerance=0.05)
def densenet_cifar(num_classes: int = 10, input_shape: Sequence[int] = (3, 32, 32), width_mult: float = 1.0,
                   depth: int = 100, growth: int = 12, compression: float = 0.5) -> Architecture:
    """DenseNet-BC for CIFAR (the paper's Table 2): three dense blocks of (depth-4)/6 bottleneck layers each.

    A 3x3 convolution to ``2*growth`` channels, no stem reduction; transitions with compression 0.5; BN-ReLU, global
    average pooling, classifier. L=100, k=12 has 0.8M parameters in the paper (0.77M measured).
    """
    if (depth - 4) % 6:
        raise NasbenchError(f"DenseNet-BC depth must be 6n+4 (three blocks of n bottleneck layers), got {depth}")
    k = width(growth, width_mult)
    network = Cell(inputs=["input"])
    network.add("conv0", "conv", inputs=["input"], args={"out": 2 * k, "kernel": 3})
    blocks = ((depth - 4) // 6,) * 3
    features = _dense_body(network, "conv0", 2 * k, blocks, k, 4, compression)
    network.add("norm", "bn_relu", inputs=[features])
    network.add("pool", "global_avg_pool", inputs=["norm"])
    network.add("classifier", "linear", inputs=["pool"], args={"out": num_classes})
    network.output = "classifier"
    return Architecture("densenet_bc", input_shape, network, {"dense_layer": dense_layer(), "transition": transition()})


def _dense_body(network: Cell, source: str, channels: int, depths: Sequence[int], growth: int, bn_size: int,
                compression: float) -> str:
    """Add the dense blocks and the transitions between them after ``source``; return the last node."""
    for i, depth in enumerate(depths, start=1):
        source = network.add(f"denseblock{i}", cell="dense_layer", inputs=[source], repeat=depth,
                             vars={"k": growth, "bn_size": bn_size})
        channels += depth * growth
        if i < len(depths):
            channels = math.floor(channels * compression)
            source = network.add(f"transition{i}", cell="transition", inputs=[source], vars={"C": channels})
    return source
