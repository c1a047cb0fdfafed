"""Inception-v4 and Inception-ResNet-v2 as timm builds them (42,679,816 and 55,843,464 parameters).

Szegedy, Ioffe, Vanhoucke, Alemi, "Inception-v4, Inception-ResNet and the Impact of Residual Connections on
Learning", AAAI 2017 (arXiv:1602.07261).

Both follow timm's ports of the TensorFlow-Slim reference models (``inception_v4``: 42,679,816 parameters;
``inception_resnet_v2``: 55,843,464), which reproduce the published checkpoints: every convolution is conv-BN(eps
0.001)-ReLU, the stem modules are cell templates over their stride and padding (so a small input can keep them
without their reductions), and the residual blocks of Inception-ResNet scale their branch sum (0.17, 0.1, 0.2)
before adding it to the block input.
"""

from __future__ import annotations

from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from search_spaces.zoo.networks.inception import BN_EPS, MIN_FULL_STEM, Convs, concat, required, scaled
from search_spaces.zoo.networks.scaling import width
from search_spaces.zoo.registry import register

PAPER = ("Szegedy et al., Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning, "
         "AAAI 2017 (arXiv:1602.07261)")
GEOMETRY = {"s": 2, "p": 0}  # stride and padding of a stem reduction; a small input gets stride 1, 'same' padding

# Inception-v4 (Figs. 3-8 of the paper; widths as in the reference model).
STEM_3A = {"c": 96}
STEM_4A = {"c0r": 64, "c0": 96, "c1r": 64, "c1": 64, "c1o": 96}
STEM_5A = {"c": 192}
V4_A = {"c0": 96, "c1r": 64, "c1": 96, "c2r": 64, "c2": 96, "cp": 96}
V4_RA = {"c0": 384, "c1r": 192, "c1a": 224, "c1": 256}
V4_B = {"c0": 384, "c1r": 192, "c1a": 224, "c1": 256, "c2r": 192, "c2a": 224, "c2": 256, "cp": 128}
V4_RB = {"c0r": 192, "c0": 192, "c1r": 256, "c1a": 320}
V4_C = {"c0": 256, "c1r": 384, "c1": 256, "c2r": 384, "c2a": 448, "c2b": 512, "c2": 256, "cp": 256}

# Inception-ResNet-v2 (Figs. 16-19 of the paper; widths as in the reference model).
IR_5B = {"c0": 96, "c1r": 48, "c1": 64, "c2r": 64, "c2": 96, "cp": 64}
IR_35 = {"c0": 32, "c1r": 32, "c1": 32, "c2r": 32, "c2a": 48, "c2": 64}
IR_6A = {"c0": 384, "c1r": 256, "c1a": 256, "c1": 384}
IR_17 = {"c0": 192, "c1r": 128, "c1a": 160, "c1": 192}
IR_7A = {"c0r": 256, "c0": 384, "c1r": 256, "c1": 288, "c2r": 256, "c2a": 288, "c2": 320}
IR_8 = {"c0": 192, "c1r": 192, "c1a": 224, "c1": 256}


def _cell(widths: dict[str, int], **others: object) -> tuple[Cell, Convs]:
    cell = Cell(vars=required(widths, **others))
    return cell, Convs(cell, bn_eps=BN_EPS)


def _avg_pool_branch(cell: Cell, conv: Convs, out: str) -> str:
    # The reference models average over the valid pixels only (count_include_pad=False).
    cell.add("branch_pool_avg", "avg_pool", inputs=["x"], args={"kernel": 3, "stride": 1})
    return conv("branch_pool", "branch_pool_avg", out)


def _max_pool_branch(cell: Cell, stride: int | str = 2, padding: int | str = 0) -> str:
    return cell.add("branch_pool", "max_pool", inputs=["x"], args={"kernel": 3, "stride": stride, "padding": padding})


def stem_3a() -> Cell:
    """Stem (Fig. 3) 147 -> 73: 3x3/2 max pool and 3x3/2 conv, concatenated."""
    cell, conv = _cell(STEM_3A, **GEOMETRY)
    pool = _max_pool_branch(cell, "s", "p")
    concat(cell, [pool, conv("conv", "x", "c", 3, stride="s", padding="p")])
    return cell


def stem_4a() -> Cell:
    """Stem (Fig. 3) 73 -> 71: 1x1 -> 3x3 (valid) and 1x1 -> 1x7 -> 7x1 -> 3x3 (valid), concatenated."""
    cell, conv = _cell(STEM_4A, p=0)
    conv("branch0_1", "x", "c0r")
    conv("branch0_2", "branch0_1", "c0", 3, padding="p")
    conv("branch1_1", "x", "c1r")
    conv("branch1_2", "branch1_1", "c1", [1, 7])
    conv("branch1_3", "branch1_2", "c1", [7, 1])
    conv("branch1_4", "branch1_3", "c1o", 3, padding="p")
    concat(cell, ["branch0_2", "branch1_4"])
    return cell


def stem_5a() -> Cell:
    """Stem (Fig. 3) 71 -> 35: 3x3/2 conv and 3x3/2 max pool, concatenated."""
    cell, conv = _cell(STEM_5A, **GEOMETRY)
    conv("conv", "x", "c", 3, stride="s", padding="p")
    concat(cell, ["conv", _max_pool_branch(cell, "s", "p")])
    return cell


def inception_a() -> Cell:
    """Inception-A (Fig. 4, 35x35): 1x1; 1x1 -> 3x3; 1x1 -> 3x3 -> 3x3; average pool -> 1x1."""
    cell, conv = _cell(V4_A)
    conv("branch0", "x", "c0")
    conv("branch1_1", "x", "c1r")
    conv("branch1_2", "branch1_1", "c1", 3)
    conv("branch2_1", "x", "c2r")
    conv("branch2_2", "branch2_1", "c2", 3)
    conv("branch2_3", "branch2_2", "c2", 3)
    concat(cell, ["branch0", "branch1_2", "branch2_3", _avg_pool_branch(cell, conv, "cp")])
    return cell


def reduction_a() -> Cell:
    """Reduction-A (Fig. 7, 35 -> 17; k, l, m, n = 192, 224, 256, 384): 3x3/2; 1x1 -> 3x3 -> 3x3/2; max pool."""
    cell, conv = _cell(V4_RA)
    conv("branch0", "x", "c0", 3, stride=2, padding=0)
    conv("branch1_1", "x", "c1r")
    conv("branch1_2", "branch1_1", "c1a", 3)
    conv("branch1_3", "branch1_2", "c1", 3, stride=2, padding=0)
    concat(cell, ["branch0", "branch1_3", _max_pool_branch(cell)])
    return cell


def inception_b() -> Cell:
    """Inception-B (Fig. 5, 17x17): 1x1; 1x1 -> 1x7 -> 7x1; 1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7; average pool -> 1x1."""
    cell, conv = _cell(V4_B)
    conv("branch0", "x", "c0")
    conv("branch1_1", "x", "c1r")
    conv("branch1_2", "branch1_1", "c1a", [1, 7])
    conv("branch1_3", "branch1_2", "c1", [7, 1])
    conv("branch2_1", "x", "c2r")
    conv("branch2_2", "branch2_1", "c2r", [7, 1])
    conv("branch2_3", "branch2_2", "c2a", [1, 7])
    conv("branch2_4", "branch2_3", "c2a", [7, 1])
    conv("branch2_5", "branch2_4", "c2", [1, 7])
    concat(cell, ["branch0", "branch1_3", "branch2_5", _avg_pool_branch(cell, conv, "cp")])
    return cell


def reduction_b() -> Cell:
    """Reduction-B (Fig. 8, 17 -> 8): 1x1 -> 3x3/2; 1x1 -> 1x7 -> 7x1 -> 3x3/2; max pool."""
    cell, conv = _cell(V4_RB)
    conv("branch0_1", "x", "c0r")
    conv("branch0_2", "branch0_1", "c0", 3, stride=2, padding=0)
    conv("branch1_1", "x", "c1r")
    conv("branch1_2", "branch1_1", "c1r", [1, 7])
    conv("branch1_3", "branch1_2", "c1a", [7, 1])
    conv("branch1_4", "branch1_3", "c1a", 3, stride=2, padding=0)
    concat(cell, ["branch0_2", "branch1_4", _max_pool_branch(cell)])
    return cell


def inception_c() -> Cell:
    """Inception-C (Fig. 6, 8x8): 1x1; 1x1 -> (1x3, 3x1); 1x1 -> 3x1 -> 1x3 -> (1x3, 3x1); average pool -> 1x1."""
    cell, conv = _cell(V4_C)
    conv("branch0", "x", "c0")
    conv("branch1_0", "x", "c1r")
    conv("branch1_1a", "branch1_0", "c1", [1, 3])
    conv("branch1_1b", "branch1_0", "c1", [3, 1])
    conv("branch2_0", "x", "c2r")
    conv("branch2_1", "branch2_0", "c2a", [3, 1])
    conv("branch2_2", "branch2_1", "c2b", [1, 3])
    conv("branch2_3a", "branch2_2", "c2", [1, 3])
    conv("branch2_3b", "branch2_2", "c2", [3, 1])
    pool = _avg_pool_branch(cell, conv, "cp")
    concat(cell, ["branch0", "branch1_1a", "branch1_1b", "branch2_3a", "branch2_3b", pool])
    return cell


def _stem(network: Cell, width_mult: float, small: bool) -> tuple[Convs, str]:
    """The first three convolutions (Figs. 3 and 14): 3x3/2 valid, 3x3 valid, 3x3 same (small: stride 1, 'same')."""
    conv = Convs(network, bn_eps=BN_EPS)
    valid = None if small else 0
    x = conv("conv2d_1a", "input", width(32, width_mult), 3, stride=1 if small else 2, padding=valid)
    x = conv("conv2d_2a", x, width(32, width_mult), 3, padding=valid)
    return conv, conv("conv2d_2b", x, width(64, width_mult), 3)


def _head(network: Cell, source: str, num_classes: int) -> None:
    network.add("global_pool", "global_avg_pool", inputs=[source])
    network.add("classifier", "linear", inputs=["global_pool"], args={"out": num_classes})
    network.output = "classifier"


@register("inception_v4", family="inception", paper=PAPER, params=42_679_816, exact=True, tolerance=0.02)
def inception_v4(num_classes: int = 1000, input_shape: Sequence[int] = (3, 299, 299),
                 width_mult: float = 1.0) -> Architecture:
    """Inception-v4 (Fig. 9): stem, 4 x Inception-A, Reduction-A, 7 x Inception-B, Reduction-B, 3 x Inception-C.

    Exactly timm's ``inception_v4`` (42,679,816 parameters; the paper gives no count). Below 75 pixels the stem keeps
    no reduction: its convolutions and pools get stride 1 and 'same' padding, so Reduction-A and -B still fit.
    """
    small = min(input_shape[1:]) < MIN_FULL_STEM
    geometry = {"s": 1, "p": 1} if small else GEOMETRY
    network = Cell(inputs=["input"])
    _, x = _stem(network, width_mult, small)
    x = network.add("mixed_3a", cell="stem_3a", inputs=[x], vars={**scaled(STEM_3A, width_mult), **geometry})
    x = network.add("mixed_4a", cell="stem_4a", inputs=[x], vars={**scaled(STEM_4A, width_mult), "p": geometry["p"]})
    x = network.add("mixed_5a", cell="stem_5a", inputs=[x], vars={**scaled(STEM_5A, width_mult), **geometry})
    for name, template, widths, repeat in (("inception_a", "inception_a", V4_A, 4),
                                           ("reduction_a", "reduction_a", V4_RA, 1),
                                           ("inception_b", "inception_b", V4_B, 7),
                                           ("reduction_b", "reduction_b", V4_RB, 1),
                                           ("inception_c", "inception_c", V4_C, 3)):
        x = network.add(name, cell=template, inputs=[x], vars=scaled(widths, width_mult), repeat=repeat)
    _head(network, x, num_classes)
    cells = {make.__name__: make() for make in (stem_3a, stem_4a, stem_5a, inception_a, reduction_a, inception_b,
                                                reduction_b, inception_c)}
    return Architecture("inception_v4", input_shape, network, cells)


def mixed_5b() -> Cell:
    """Inception-ResNet-v2's last stem module (35x35): 1x1; 1x1 -> 5x5; 1x1 -> 3x3 -> 3x3; average pool -> 1x1."""
    cell, conv = _cell(IR_5B)
    conv("branch0", "x", "c0")
    conv("branch1_1", "x", "c1r")
    conv("branch1_2", "branch1_1", "c1", 5)
    conv("branch2_1", "x", "c2r")
    conv("branch2_2", "branch2_1", "c2", 3)
    conv("branch2_3", "branch2_2", "c2", 3)
    concat(cell, ["branch0", "branch1_2", "branch2_3", _avg_pool_branch(cell, conv, "cp")])
    return cell


def _residual(cell: Cell, branches: list[str], relu: bool = True) -> None:
    """Concatenate ``branches``, project to the input width ``C`` (1x1 conv with bias, no BN), scale, add, ReLU."""
    cell.add("mixed", "identity", inputs=branches, merge="concat")
    cell.add("up", "conv", inputs=["mixed"], args={"out": "C", "kernel": 1, "bias": True})
    cell.add("scaled", "scale", inputs=["up"], args={"factor": "scale"})
    cell.add("out", "relu" if relu else "identity", inputs=["scaled", "x"], merge="add")
    cell.output = "out"


def block35() -> Cell:
    """Inception-ResNet-A (Fig. 16, 35x35): 1x1; 1x1 -> 3x3; 1x1 -> 3x3 -> 3x3; 1x1 up to C; x + 0.17 * branch."""
    cell, conv = _cell(IR_35, C=None, scale=0.17)
    conv("branch0", "x", "c0")
    conv("branch1_1", "x", "c1r")
    conv("branch1_2", "branch1_1", "c1", 3)
    conv("branch2_1", "x", "c2r")
    conv("branch2_2", "branch2_1", "c2a", 3)
    conv("branch2_3", "branch2_2", "c2", 3)
    _residual(cell, ["branch0", "branch1_2", "branch2_3"])
    return cell


def mixed_6a() -> Cell:
    """Reduction-A of Inception-ResNet-v2 (Fig. 7 with k, l, m, n = 256, 256, 384, 384)."""
    cell, conv = _cell(IR_6A)
    conv("branch0", "x", "c0", 3, stride=2, padding=0)
    conv("branch1_1", "x", "c1r")
    conv("branch1_2", "branch1_1", "c1a", 3)
    conv("branch1_3", "branch1_2", "c1", 3, stride=2, padding=0)
    concat(cell, ["branch0", "branch1_3", _max_pool_branch(cell)])
    return cell


def block17() -> Cell:
    """Inception-ResNet-B (Fig. 17, 17x17): 1x1; 1x1 -> 1x7 -> 7x1; 1x1 up to C; x + 0.1 * branch."""
    cell, conv = _cell(IR_17, C=None, scale=0.1)
    conv("branch0", "x", "c0")
    conv("branch1_1", "x", "c1r")
    conv("branch1_2", "branch1_1", "c1a", [1, 7])
    conv("branch1_3", "branch1_2", "c1", [7, 1])
    _residual(cell, ["branch0", "branch1_3"])
    return cell


def mixed_7a() -> Cell:
    """Reduction-B of Inception-ResNet-v2 (Fig. 18, 17 -> 8): three 1x1 -> 3x3/2 branches and a max pool."""
    cell, conv = _cell(IR_7A)
    conv("branch0_1", "x", "c0r")
    conv("branch0_2", "branch0_1", "c0", 3, stride=2, padding=0)
    conv("branch1_1", "x", "c1r")
    conv("branch1_2", "branch1_1", "c1", 3, stride=2, padding=0)
    conv("branch2_1", "x", "c2r")
    conv("branch2_2", "branch2_1", "c2a", 3)
    conv("branch2_3", "branch2_2", "c2", 3, stride=2, padding=0)
    concat(cell, ["branch0_2", "branch1_2", "branch2_3", _max_pool_branch(cell)])
    return cell


def block8(relu: bool = True) -> Cell:
    """Inception-ResNet-C (Fig. 19, 8x8): 1x1; 1x1 -> 1x3 -> 3x1; 1x1 up to C; x + 0.2 * branch (then ReLU)."""
    cell, conv = _cell(IR_8, C=None, scale=0.2)
    conv("branch0", "x", "c0")
    conv("branch1_1", "x", "c1r")
    conv("branch1_2", "branch1_1", "c1a", [1, 3])
    conv("branch1_3", "branch1_2", "c1", [3, 1])
    _residual(cell, ["branch0", "branch1_3"], relu)
    return cell


@register("inception_resnet_v2", family="inception", paper=PAPER, params=55_843_464, exact=True, tolerance=0.02)
def inception_resnet_v2(num_classes: int = 1000, input_shape: Sequence[int] = (3, 299, 299),
                        width_mult: float = 1.0) -> Architecture:
    """Inception-ResNet-v2 (Fig. 15), with residual blocks scaled by 0.17, 0.1 and 0.2.

    Stem, 10 x block35, Reduction-A, 20 x block17, Reduction-B, 9 x block8, a last block8 without ReLU (scale 1),
    1x1 conv to 1536, global pooling, classifier. Exactly timm's ``inception_resnet_v2`` (55,843,464 parameters;
    the paper gives none), whose stem is Inception v3's. Below 75 pixels the stem keeps no reduction (stride 1,
    'same' padding, no max pools).
    """
    small = min(input_shape[1:]) < MIN_FULL_STEM
    network = Cell(inputs=["input"])
    conv, x = _stem(network, width_mult, small)
    if not small:
        x = network.add("maxpool_3a", "max_pool", inputs=[x], args={"kernel": 3, "stride": 2, "padding": 0})
    x = conv("conv2d_3b", x, width(80, width_mult))
    x = conv("conv2d_4a", x, width(192, width_mult), 3, padding=None if small else 0)
    if not small:
        x = network.add("maxpool_5a", "max_pool", inputs=[x], args={"kernel": 3, "stride": 2, "padding": 0})
    x = network.add("mixed_5b", cell="mixed_5b", inputs=[x], vars=scaled(IR_5B, width_mult))
    c35 = _concat_width(IR_5B, ("c0", "c1", "c2", "cp"), width_mult)
    x = network.add("repeat", cell="block35", inputs=[x], repeat=10, vars={**scaled(IR_35, width_mult), "C": c35})
    x = network.add("mixed_6a", cell="mixed_6a", inputs=[x], vars=scaled(IR_6A, width_mult))
    c17 = _concat_width(IR_6A, ("c0", "c1"), width_mult) + c35
    x = network.add("repeat_1", cell="block17", inputs=[x], repeat=20, vars={**scaled(IR_17, width_mult), "C": c17})
    x = network.add("mixed_7a", cell="mixed_7a", inputs=[x], vars=scaled(IR_7A, width_mult))
    c8 = _concat_width(IR_7A, ("c0", "c1", "c2"), width_mult) + c17
    x = network.add("repeat_2", cell="block8", inputs=[x], repeat=9, vars={**scaled(IR_8, width_mult), "C": c8})
    x = network.add("block8", cell="block8_last", inputs=[x], vars={**scaled(IR_8, width_mult), "C": c8, "scale": 1.0})
    x = conv("conv2d_7b", x, width(1536, width_mult))
    _head(network, x, num_classes)
    cells = {"mixed_5b": mixed_5b(), "block35": block35(), "mixed_6a": mixed_6a(), "block17": block17(),
             "mixed_7a": mixed_7a(), "block8": block8(), "block8_last": block8(relu=False)}
    return Architecture("inception_resnet_v2", input_shape, network, cells)


def _concat_width(widths: dict[str, int], outputs: Sequence[str], width_mult: float) -> int:
    """Channels a module's concatenated conv branches produce (the residual blocks' width ``C`` follows from it)."""
    return sum(scaled(widths, width_mult)[name] for name in outputs)
