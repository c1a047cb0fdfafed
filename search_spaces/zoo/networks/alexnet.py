"""AlexNet (Krizhevsky, Sutskever, Hinton 2012): the paper's network as the seed lecture lists it, and torchvision's.

A variant is data: its five conv layers (width, kernel, stride, padding), where LRN and the max pools sit, and the
classifier. The seed lecture's network is the single-tower form of the paper's (no two-GPU grouping): conv 96 11x11/4,
LRN, pool, conv 256 5x5, LRN, pool, conv 384, 384, 256 3x3, pool, FC 4096-4096-1000 on 227x227 inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.errors import NasbenchError
from nasbench.ops.conv import conv_out
from nasbench.ops.pooling import pool_out
from search_spaces.zoo.networks.scaling import is_small, reductions_that_fit, width
from search_spaces.zoo.registry import register

PAPER = "Krizhevsky, Sutskever, Hinton. ImageNet Classification with Deep Convolutional Neural Networks. NIPS 2012"
TORCHVISION = PAPER + "; torchvision's variant after Krizhevsky, One weird trick for parallelizing CNNs, 2014"

# (width, kernel, stride, padding) of conv1..conv5; the pools follow conv1, conv2 and conv5.
LAYERS = {
    "paper": ((96, 11, 4, 0), (256, 5, 1, 2), (384, 3, 1, 1), (384, 3, 1, 1), (256, 3, 1, 1)),
    "torchvision": ((64, 11, 4, 2), (192, 5, 1, 2), (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1)),
}
POOLED = (1, 2, 5)


def alexnet(num_classes: int = 1000, input_shape: Sequence[int] = (3, 227, 227), width_mult: float = 1.0,
            variant: str = "paper", hidden: int = 4096, dropout: float = 0.5) -> Architecture:
    """AlexNet: five conv layers with ReLU, LRN after conv1 and conv2 (paper variant), 3x3/2 max pools, FC classifier.

    The paper variant applies dropout after the ReLU of FC6 and FC7, as the paper describes; torchvision's drops
    out before FC6 and FC7 and adds a 6x6 adaptive pool. Below 64 pixels the first conv becomes 3x3 stride 1, the
    first pools that would shrink the map below 1 pixel are dropped, and the classifier is global average pooling
    and one FC layer (the small heads of CIFAR-sized variants).
    """
    if variant not in LAYERS:
        raise NasbenchError(f"unknown AlexNet variant {variant!r} (use {' or '.join(LAYERS)})")
    small = is_small(input_shape[1])
    layers = list(LAYERS[variant])
    if small:
        layers[0] = (layers[0][0], 3, 1, 1)
    _, kernel, stride, padding = layers[0]
    size = conv_out(min(input_shape[1:]), kernel, stride, padding)  # the later convs keep the size
    pools = reductions_that_fit(size, len(POOLED), lambda n: pool_out(n, 3, 2, 0, False))
    kept = POOLED[len(POOLED) - pools:]
    net = Cell(inputs=["input"])
    source = "input"
    for i, (channels, kernel, stride, padding) in enumerate(layers, start=1):
        args = {"out": width(channels, width_mult), "kernel": kernel, "stride": stride, "padding": padding,
                "bias": True}
        source = net.add(f"conv{i}", "conv_relu", inputs=[source], args=args)
        if variant == "paper" and i in (1, 2):
            source = net.add(f"lrn{i}", "lrn", inputs=[source])
        if i in kept:
            source = net.add(f"pool{i}", "max_pool", inputs=[source], args={"kernel": 3, "stride": 2, "padding": 0})
    if small:
        net.add("avgpool", "global_avg_pool", inputs=[source])
        net.add("fc", "linear", inputs=["avgpool"], args={"out": num_classes})
        net.output = "fc"
    else:
        if variant == "torchvision":
            source = net.add("avgpool", "adaptive_avg_pool", inputs=[source], args={"size": 6})
        _classifier(net, source, width(hidden, width_mult), num_classes, dropout, before=variant == "torchvision")
    return Architecture("alexnet" if variant == "paper" else "alexnet_tv", input_shape, net)


def _classifier(net: Cell, source: str, hidden: int, num_classes: int, dropout: float, before: bool) -> None:
    for i in (6, 7):
        if before:
            source = net.add(f"drop{i}", "dropout", inputs=[source], args={"p": dropout})
        net.add(f"fc{i}", "linear", inputs=[source], args={"out": hidden})
        source = net.add(f"relu{i}", "relu", inputs=[f"fc{i}"])
        if not before:
            source = net.add(f"drop{i}", "dropout", inputs=[source], args={"p": dropout})
    net.add("fc8", "linear", inputs=[source], args={"out": num_classes})
    net.output = "fc8"


register("alexnet", family="alexnet", paper=PAPER, params=62_378_344, exact=True)(alexnet)
register("alexnet_tv", family="alexnet", paper=TORCHVISION, params=61_100_840, macs=0.714e9, exact=True,
         variant="torchvision", input_shape=(3, 224, 224))(alexnet)
