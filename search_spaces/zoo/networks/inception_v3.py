"""Inception v3 as torchvision builds it: 27,161,264 parameters with its auxiliary head, 299x299 input.

Szegedy, Vanhoucke, Ioffe, Shlens, Wojna, "Rethinking the Inception Architecture for Computer Vision", CVPR 2016.

Five module templates (A: 35x35 with a 5x5 branch; B: reduction to 17x17; C: factorized 7x7 branches; D: reduction to
8x8; E: expanded 1x3 / 3x1 filter banks) and the auxiliary head, each over its widths.
"""

from __future__ import annotations

from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from search_spaces.zoo.networks.inception import BN_EPS, MIN_FULL_STEM, Convs, aux_geometry, concat, required, scaled
from search_spaces.zoo.networks.scaling import width
from search_spaces.zoo.registry import register

PAPER = "Szegedy et al., Rethinking the Inception Architecture for Computer Vision, CVPR 2016 (arXiv:1512.00567)"

A = {"c1": 64, "c5r": 48, "c5": 64, "c3r": 64, "c3": 96, "cp": 32}  # cp: 32 in Mixed_5b, 64 in Mixed_5c/5d
B = {"c3": 384, "c3r": 64, "c3a": 96}
C = {"c1": 192, "c7r": 128, "c7": 192, "cp": 192}  # c7r: 128, 160, 160, 192 in Mixed_6b-6e
D = {"c3r": 192, "c3": 320, "c7r": 192}
E = {"c1": 320, "c3r": 384, "c3": 384, "cdr": 448, "cd": 384, "cp": 192}
AUX = {"c0": 128, "c1": 768}


def _pool_branch(cell: Cell, conv: Convs, out: str) -> str:
    # torchvision's F.avg_pool2d(x, 3, 1, 1) counts the zero padding in the average.
    cell.add("branch_pool_avg", "avg_pool", inputs=["x"], args={"kernel": 3, "stride": 1, "count_include_pad": True})
    return conv("branch_pool", "branch_pool_avg", out)


def inception_a() -> Cell:
    """Module A (Fig. 5, 35x35 grid): 1x1; 1x1 -> 5x5; 1x1 -> 3x3 -> 3x3; 3x3 average pool -> 1x1."""
    cell = Cell(vars=required(A))
    conv = Convs(cell, bn_eps=BN_EPS)
    conv("branch1x1", "x", "c1")
    conv("branch5x5_1", "x", "c5r")
    conv("branch5x5_2", "branch5x5_1", "c5", 5)
    conv("branch3x3dbl_1", "x", "c3r")
    conv("branch3x3dbl_2", "branch3x3dbl_1", "c3", 3)
    conv("branch3x3dbl_3", "branch3x3dbl_2", "c3", 3)
    pool = _pool_branch(cell, conv, "cp")
    concat(cell, ["branch1x1", "branch5x5_2", "branch3x3dbl_3", pool])
    return cell


def inception_b() -> Cell:
    """Module B (grid reduction 35 -> 17): 3x3/2; 1x1 -> 3x3 -> 3x3/2; 3x3/2 max pool."""
    cell = Cell(vars=required(B))
    conv = Convs(cell, bn_eps=BN_EPS)
    conv("branch3x3", "x", "c3", 3, stride=2, padding=0)
    conv("branch3x3dbl_1", "x", "c3r")
    conv("branch3x3dbl_2", "branch3x3dbl_1", "c3a", 3)
    conv("branch3x3dbl_3", "branch3x3dbl_2", "c3a", 3, stride=2, padding=0)
    cell.add("branch_pool", "max_pool", inputs=["x"], args={"kernel": 3, "stride": 2, "padding": 0})
    concat(cell, ["branch3x3", "branch3x3dbl_3", "branch_pool"])
    return cell


def inception_c() -> Cell:
    """Module C (Fig. 6, 17x17 grid): 1x1; 1x1 -> 1x7 -> 7x1; 1x1 -> (7x1 -> 1x7) x 2; 3x3 average pool -> 1x1."""
    cell = Cell(vars=required(C))
    conv = Convs(cell, bn_eps=BN_EPS)
    conv("branch1x1", "x", "c1")
    conv("branch7x7_1", "x", "c7r")
    conv("branch7x7_2", "branch7x7_1", "c7r", [1, 7])
    conv("branch7x7_3", "branch7x7_2", "c7", [7, 1])
    conv("branch7x7dbl_1", "x", "c7r")
    conv("branch7x7dbl_2", "branch7x7dbl_1", "c7r", [7, 1])
    conv("branch7x7dbl_3", "branch7x7dbl_2", "c7r", [1, 7])
    conv("branch7x7dbl_4", "branch7x7dbl_3", "c7r", [7, 1])
    conv("branch7x7dbl_5", "branch7x7dbl_4", "c7", [1, 7])
    pool = _pool_branch(cell, conv, "cp")
    concat(cell, ["branch1x1", "branch7x7_3", "branch7x7dbl_5", pool])
    return cell


def inception_d() -> Cell:
    """Module D (grid reduction 17 -> 8): 1x1 -> 3x3/2; 1x1 -> 1x7 -> 7x1 -> 3x3/2; 3x3/2 max pool."""
    cell = Cell(vars=required(D))
    conv = Convs(cell, bn_eps=BN_EPS)
    conv("branch3x3_1", "x", "c3r")
    conv("branch3x3_2", "branch3x3_1", "c3", 3, stride=2, padding=0)
    conv("branch7x7x3_1", "x", "c7r")
    conv("branch7x7x3_2", "branch7x7x3_1", "c7r", [1, 7])
    conv("branch7x7x3_3", "branch7x7x3_2", "c7r", [7, 1])
    conv("branch7x7x3_4", "branch7x7x3_3", "c7r", 3, stride=2, padding=0)
    cell.add("branch_pool", "max_pool", inputs=["x"], args={"kernel": 3, "stride": 2, "padding": 0})
    concat(cell, ["branch3x3_2", "branch7x7x3_4", "branch_pool"])
    return cell


def inception_e() -> Cell:
    """Module E (Fig. 7, 8x8 grid): 1x1; 1x1 -> (1x3, 3x1); 1x1 -> 3x3 -> (1x3, 3x1); 3x3 average pool -> 1x1."""
    cell = Cell(vars=required(E))
    conv = Convs(cell, bn_eps=BN_EPS)
    conv("branch1x1", "x", "c1")
    conv("branch3x3_1", "x", "c3r")
    conv("branch3x3_2a", "branch3x3_1", "c3", [1, 3])
    conv("branch3x3_2b", "branch3x3_1", "c3", [3, 1])
    conv("branch3x3dbl_1", "x", "cdr")
    conv("branch3x3dbl_2", "branch3x3dbl_1", "cd", 3)
    conv("branch3x3dbl_3a", "branch3x3dbl_2", "cd", [1, 3])
    conv("branch3x3dbl_3b", "branch3x3dbl_2", "cd", [3, 1])
    pool = _pool_branch(cell, conv, "cp")
    concat(cell, ["branch1x1", "branch3x3_2a", "branch3x3_2b", "branch3x3dbl_3a", "branch3x3dbl_3b", pool])
    return cell


def aux_head() -> Cell:
    """Auxiliary classifier on the 17x17 grid: 5x5/3 average pool, 1x1 conv, 5x5 conv, global pool, linear."""
    cell = Cell(vars=required(AUX, classes=None, pool=5, kernel=5))
    conv = Convs(cell, bn_eps=BN_EPS)
    cell.add("pool", "avg_pool", inputs=["x"], args={"kernel": "pool", "stride": 3, "padding": 0})
    conv("conv0", "pool", "c0")
    conv("conv1", "conv0", "c1", "kernel", padding=0)
    cell.add("gap", "global_avg_pool", inputs=["conv1"])
    cell.add("fc", "linear", inputs=["gap"], args={"out": "classes"})
    cell.output = "fc"
    return cell


TEMPLATES = {"inception_a": inception_a, "inception_b": inception_b, "inception_c": inception_c,
             "inception_d": inception_d, "inception_e": inception_e, "aux_head": aux_head}


@register("inception_v3", family="inception", paper=PAPER, params=27_161_264, macs=5.713e9, exact=True,
          tolerance=0.02)
def inception_v3(num_classes: int = 1000, input_shape: Sequence[int] = (3, 299, 299), width_mult: float = 1.0,
                 aux: bool = True, dropout: float = 0.5) -> Architecture:
    """Inception v3 as torchvision builds it (``aux``: the auxiliary classifier on Mixed_6e, a training output).

    Below 75 pixels the stem keeps no reduction: its stride-2 convolution gets stride 1, its two max pools go and
    its unpadded convolutions are padded, so a 16x16 input reaches the 35x35-grid modules at 16x16 (then 7, then 3).
    """
    small = min(input_shape[1:]) < MIN_FULL_STEM
    network = Cell(inputs=["input"])
    conv = Convs(network, bn_eps=BN_EPS)
    valid = None if small else 0
    x = conv("Conv2d_1a_3x3", "input", width(32, width_mult), 3, stride=1 if small else 2, padding=valid)
    x = conv("Conv2d_2a_3x3", x, width(32, width_mult), 3, padding=valid)
    x = conv("Conv2d_2b_3x3", x, width(64, width_mult), 3)
    if not small:
        x = network.add("maxpool1", "max_pool", inputs=[x], args={"kernel": 3, "stride": 2, "padding": 0})
    x = conv("Conv2d_3b_1x1", x, width(80, width_mult))
    x = conv("Conv2d_4a_3x3", x, width(192, width_mult), 3, padding=valid)
    if not small:
        x = network.add("maxpool2", "max_pool", inputs=[x], args={"kernel": 3, "stride": 2, "padding": 0})
    modules = [("Mixed_5b", "inception_a", A | {"cp": 32}), ("Mixed_5c", "inception_a", A | {"cp": 64}),
               ("Mixed_5d", "inception_a", A | {"cp": 64}), ("Mixed_6a", "inception_b", B)]
    modules += [(f"Mixed_6{i}", "inception_c", C | {"c7r": c7}) for i, c7 in zip("bcde", (128, 160, 160, 192))]
    modules += [("Mixed_7a", "inception_d", D), ("Mixed_7b", "inception_e", E), ("Mixed_7c", "inception_e", E)]
    for name, template, widths in modules:
        x = network.add(name, cell=template, inputs=[x], vars=scaled(widths, width_mult))
    network.add("avgpool", "global_avg_pool", inputs=[x])
    network.add("dropout", "dropout", inputs=["avgpool"], args={"p": dropout})
    network.add("fc", "linear", inputs=["dropout"], args={"out": num_classes})
    network.output = "fc"
    cells = {name: make() for name, make in TEMPLATES.items()}
    arch = Architecture("inception_v3", input_shape, network, cells)
    if aux:
        grid = min(arch.shapes()["Mixed_6e.out"][1:])
        pool, pooled = aux_geometry(grid)
        network.add("AuxLogits", cell="aux_head", inputs=["Mixed_6e"],
                    vars={**scaled(AUX, width_mult), "classes": num_classes, "pool": pool, "kernel": min(5, pooled)})
        network.aux.append("AuxLogits")
    else:
        del arch.cells["aux_head"]
    return arch
