"""GoogLeNet, Inception v1 (Szegedy et al., "Going Deeper with Convolutions", CVPR 2015; arXiv:1409.4842).

``googlenet`` is the network of the paper's Table 1: convolutions with biases and ReLU (no batch norm), local
response normalization in the stem, inception modules with real 5x5 branches, and optionally the two auxiliary
classifiers on 4a and 4d. ``googlenet_tv`` is torchvision's variant (batch norm, 3x3 in place of the 5x5 branch,
no LRN), whose parameter count is exact. One module template serves all nine modules: its variables are the columns
of Table 1 (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from search_spaces.zoo.networks.inception import BN_EPS, Convs, aux_geometry, concat, scaled
from search_spaces.zoo.networks.scaling import is_small, width
from search_spaces.zoo.registry import register

PAPER = "Szegedy et al., Going Deeper with Convolutions, CVPR 2015 (arXiv:1409.4842)"
COLUMNS = ("c1", "c3r", "c3", "c5r", "c5", "cp")
# Table 1 of the paper: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj of every inception module.
TABLE = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
AUX_AFTER = ("4a", "4d")  # the auxiliary classifiers read these modules' outputs
# The paper's LRN (Caffe's defaults for bvlc_googlenet: 5 channels, alpha 1e-4, beta 0.75, k 1).
LRN = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 1.0}


def inception_module(op: str, fixed: dict[str, Any], k5: int) -> Cell:
    """Inception module with dimension reductions (Fig. 2b), its widths the columns of Table 1.

    Branches: 1x1; 1x1 -> 3x3; 1x1 -> ``k5`` x ``k5``; 3x3 max pool -> 1x1 projection; concatenated.
    """
    cell = Cell(vars=dict.fromkeys(COLUMNS))
    conv = Convs(cell, op, **fixed)
    conv("branch1", "x", "c1")
    conv("branch2_reduce", "x", "c3r")
    conv("branch2", "branch2_reduce", "c3", 3)
    conv("branch3_reduce", "x", "c5r")
    conv("branch3", "branch3_reduce", "c5", k5)
    cell.add("branch4_pool", "max_pool", inputs=["x"], args={"kernel": 3, "stride": 1})
    conv("branch4", "branch4_pool", "cp")
    concat(cell, ["branch1", "branch2", "branch3", "branch4"])
    return cell


def aux_classifier() -> Cell:
    """The paper's auxiliary classifier (section 5), a training-only output.

    5x5/3 average pool, 1x1 conv (128) + ReLU, FC 1024 + ReLU, 70% dropout, linear classifier.
    """
    cell = Cell(vars={"pool": 5, "c": 128, "fc": 1024, "classes": None})
    cell.add("pool", "avg_pool", inputs=["x"], args={"kernel": "pool", "stride": 3, "padding": 0})
    cell.add("conv", "conv_relu", inputs=["pool"], args={"out": "c", "kernel": 1})
    cell.add("fc1", "linear", inputs=["conv"], args={"out": "fc"})
    cell.add("relu", "relu", inputs=["fc1"])
    cell.add("dropout", "dropout", inputs=["relu"], args={"p": 0.7})
    cell.add("fc2", "linear", inputs=["dropout"], args={"out": "classes"})
    cell.output = "fc2"
    return cell


@register("googlenet", family="inception", paper=PAPER, params=6_800_000, tolerance=0.03, plain=True)
def googlenet(num_classes: int = 1000, input_shape: Sequence[int] = (3, 224, 224), width_mult: float = 1.0,
              aux: bool = False, dropout: float = 0.4) -> Architecture:
    """GoogLeNet as the paper defines it (Table 1, 6.8M parameters without the auxiliary classifiers).

    ``aux=True`` adds the two auxiliary classifiers (on 4a and 4d) as training outputs of the network. Small inputs
    (below 64 pixels) keep none of the stem's three reductions (7x7/2 conv and two 3x3/2 max pools).
    """
    small = is_small(min(input_shape[1:]))
    network = Cell(inputs=["input"])
    conv = Convs(network, "conv_relu")
    x = conv("conv1", "input", width(64, width_mult), 7, stride=1 if small else 2)
    if not small:
        x = _max_pool(network, "pool1", x)
    x = network.add("norm1", "lrn", inputs=[x], args=dict(LRN))
    x = conv("conv2_reduce", x, width(64, width_mult))
    x = conv("conv2", x, width(192, width_mult), 3)
    x = network.add("norm2", "lrn", inputs=[x], args=dict(LRN))
    if not small:
        x = _max_pool(network, "pool2", x)
    x = _modules(network, x, width_mult, last_pool=3)
    network.add("pool5", "global_avg_pool", inputs=[x])
    network.add("dropout", "dropout", inputs=["pool5"], args={"p": dropout})
    network.add("fc", "linear", inputs=["dropout"], args={"out": num_classes})
    network.output = "fc"
    cells = {"inception": inception_module("conv_relu", {}, 5)}
    arch = Architecture("googlenet", input_shape, network, cells)
    if aux:
        arch.cells["aux_classifier"] = aux_classifier()
        shapes = arch.shapes()
        for i, module in enumerate(AUX_AFTER, start=1):
            source = f"inception{module}"
            pool, _ = aux_geometry(min(shapes[f"{source}.out"][1:]))
            network.add(f"aux{i}", cell="aux_classifier", inputs=[source],
                        vars={"pool": pool, "c": width(128, width_mult), "fc": width(1024, width_mult),
                              "classes": num_classes})
            network.aux.append(f"aux{i}")
    return arch


@register("googlenet_tv", family="inception", paper=PAPER, params=6_624_904, macs=1.498e9, exact=True,
          tolerance=0.02)
def googlenet_tv(num_classes: int = 1000, input_shape: Sequence[int] = (3, 224, 224), width_mult: float = 1.0,
                 dropout: float = 0.2) -> Architecture:
    """GoogLeNet as torchvision builds it, without auxiliary heads (6,624,904 parameters, 1.498 GMACs).

    Conv-BN-ReLU everywhere, a 3x3 conv in the "5x5" branch, no LRN, a 2x2 max pool before 5a. Small inputs keep
    none of the stem's three reductions.
    """
    small = is_small(min(input_shape[1:]))
    network = Cell(inputs=["input"])
    conv = Convs(network, bn_eps=BN_EPS)
    x = conv("conv1", "input", width(64, width_mult), 7, stride=1 if small else 2)
    if not small:
        x = _max_pool(network, "maxpool1", x)
    x = conv("conv2", x, width(64, width_mult))
    x = conv("conv3", x, width(192, width_mult), 3)
    if not small:
        x = _max_pool(network, "maxpool2", x)
    x = _modules(network, x, width_mult, last_pool=2)
    network.add("avgpool", "global_avg_pool", inputs=[x])
    network.add("dropout", "dropout", inputs=["avgpool"], args={"p": dropout})
    network.add("fc", "linear", inputs=["dropout"], args={"out": num_classes})
    network.output = "fc"
    cells = {"inception": inception_module("conv_bn_relu", {"bn_eps": BN_EPS}, 3)}
    return Architecture("googlenet_tv", input_shape, network, cells)


def _max_pool(network: Cell, name: str, source: str, kernel: int = 3) -> str:
    # Caffe's pooling rounds up, as torchvision's ceil_mode does: 112 -> 56 -> 28 -> 14 -> 7.
    return network.add(name, "max_pool", inputs=[source],
                       args={"kernel": kernel, "stride": 2, "padding": 0, "ceil_mode": True})


def _modules(network: Cell, source: str, width_mult: float, last_pool: int) -> str:
    """The nine inception modules with the 3x3/2 max pools after 3b and after 4e (``last_pool`` x ``last_pool``)."""
    for module, row in TABLE.items():
        if module == "4a":
            source = _max_pool(network, "pool3", source)
        elif module == "5a":
            source = _max_pool(network, "pool4", source, last_pool)
        source = network.add(f"inception{module}", cell="inception", inputs=[source],
                             vars=scaled(dict(zip(COLUMNS, row)), width_mult))
    return source
