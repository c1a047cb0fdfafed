"""VGG configurations A, A-LRN, B, C, D and E (Simonyan & Zisserman 2015), with and without batch norm.

A configuration is data: per stage, the width, the number of 3x3 convs and of 1x1 convs (configuration C ends its last
three stages with a 1x1 conv). Each stage is one repeated conv node followed by a 2x2 max pool, then the classifier.
"""

from __future__ import annotations

from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.errors import NasbenchError
from search_spaces.zoo.networks.scaling import is_small, reductions_that_fit, width
from search_spaces.zoo.registry import register

PAPER = "Simonyan, Zisserman. Very Deep Convolutional Networks for Large-Scale Image Recognition. ICLR 2015"
IOFFE = "; batch norm: Ioffe, Szegedy. Batch Normalization. ICML 2015"

# (width, 3x3 convs, 1x1 convs) per stage: Table 1 of the paper.
CONFIGS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "A": ((64, 1, 0), (128, 1, 0), (256, 2, 0), (512, 2, 0), (512, 2, 0)),
    "B": ((64, 2, 0), (128, 2, 0), (256, 2, 0), (512, 2, 0), (512, 2, 0)),
    "C": ((64, 2, 0), (128, 2, 0), (256, 2, 1), (512, 2, 1), (512, 2, 1)),
    "D": ((64, 2, 0), (128, 2, 0), (256, 3, 0), (512, 3, 0), (512, 3, 0)),
    "E": ((64, 2, 0), (128, 2, 0), (256, 4, 0), (512, 4, 0), (512, 4, 0)),
}


def vgg(num_classes: int = 1000, input_shape: Sequence[int] = (3, 224, 224), width_mult: float = 1.0,
        config: str = "D", batch_norm: bool = False, lrn: bool = False, hidden: int = 4096,
        dropout: float = 0.5) -> Architecture:
    """VGG (Simonyan & Zisserman 2015) in configuration ``config``, as torchvision builds it.

    3x3 convs with bias and ReLU (BN before the ReLU in the ``_bn`` variants), 2x2 max pools, a 7x7 adaptive pool and
    the FC-4096-4096 classifier with dropout.

    ``lrn`` adds local response normalization after the first conv (configuration A-LRN). Below 64 pixels the first
    pools are dropped so that the last feature map keeps at least 1 pixel, and the classifier is the CIFAR variants'
    small one: global average pool and a single FC layer.
    """
    if config not in CONFIGS:
        raise NasbenchError(f"unknown VGG configuration {config!r} (use one of {', '.join(CONFIGS)})")
    stages = CONFIGS[config]
    small = is_small(input_shape[1])
    pools = reductions_that_fit(min(input_shape[1:]), len(stages), lambda size: size // 2)
    conv_op = "conv_bn_relu" if batch_norm else "conv_relu"
    net = Cell(inputs=["input"])
    source = "input"
    for i, (channels, n3, n1) in enumerate(stages, start=1):
        c = width(channels, width_mult)
        source = net.add(f"conv{i}", conv_op, inputs=[source], args={"out": c, "bias": True}, repeat=n3)
        if lrn and i == 1:
            source = net.add("lrn", "lrn", inputs=[source])
        if n1:
            source = net.add(f"conv{i}_1x1", conv_op, inputs=[source], args={"out": c, "kernel": 1, "bias": True},
                             repeat=n1)
        if i > len(stages) - pools:
            source = net.add(f"pool{i}", "max_pool", inputs=[source], args={"kernel": 2, "stride": 2, "padding": 0})
    if small:
        net.add("avgpool", "global_avg_pool", inputs=[source])
        net.add("fc", "linear", inputs=["avgpool"], args={"out": num_classes})
        net.output = "fc"
    else:
        net.add("avgpool", "adaptive_avg_pool", inputs=[source], args={"size": 7})
        _classifier(net, "avgpool", width(hidden, width_mult), num_classes, dropout)
    suffix = "_lrn" if lrn else "_bn" if batch_norm else ""
    return Architecture(f"vgg_{config}{suffix}", input_shape, net)


def _classifier(net: Cell, source: str, hidden: int, num_classes: int, dropout: float) -> None:
    for i in (6, 7):
        net.add(f"fc{i}", "linear", inputs=[source], args={"out": hidden})
        net.add(f"relu{i}", "relu", inputs=[f"fc{i}"])
        source = net.add(f"drop{i}", "dropout", inputs=[f"relu{i}"], args={"p": dropout})
    net.add("fc8", "linear", inputs=[source], args={"out": num_classes})
    net.output = "fc8"


# name: (configuration, batch norm, LRN, parameters, exact, MACs)
_ENTRIES = {
    "vgg11": ("A", False, False, 132_863_336, True, 7.609e9),
    "vgg11_lrn": ("A", False, True, 133_000_000, False, None),
    "vgg13": ("B", False, False, 133_047_848, True, 11.308e9),
    "vgg16_c": ("C", False, False, 134_000_000, False, None),
    "vgg16": ("D", False, False, 138_357_544, True, 15.470e9),
    "vgg19": ("E", False, False, 143_667_240, True, 19.632e9),
    "vgg11_bn": ("A", True, False, 132_868_840, True, 7.609e9),
    "vgg13_bn": ("B", True, False, 133_053_736, True, 11.308e9),
    "vgg16_bn": ("D", True, False, 138_365_992, True, 15.470e9),
    "vgg19_bn": ("E", True, False, 143_678_248, True, 19.632e9),
}

for _name, (_config, _bn, _lrn, _params, _exact, _macs) in _ENTRIES.items():
    # The paper's table gives millions: a count must round to it, i.e. lie within half a million.
    register(_name, family="vgg", paper=PAPER + (IOFFE if _bn else ""), params=_params, macs=_macs, exact=_exact,
             tolerance=0.5e6 / _params, config=_config, batch_norm=_bn, lrn=_lrn)(vgg)
