"""Dual Path Networks (Chen et al. 2017) as zoo networks: DPN-92 with timm's / Cadene's layout."""

from __future__ import annotations

from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.cell import NETWORK_INPUT, Cell
from search_spaces.zoo.networks.mobilenet import check_input, reduction_strides
from search_spaces.zoo.networks.scaling import width
from search_spaces.zoo.registry import register

PAPER = "Chen et al., Dual Path Networks, NeurIPS 2017"
BN_EPS = 0.001  # the reference implementation's batch-norm epsilon


def _bn_relu_conv(cell: Cell, name: str, source: str, out: str, kernel: int = 1, stride: object = 1,
                  groups: object = 1) -> str:
    return cell.add(name, "bn_relu_conv", inputs=[source],
                    args={"out": out, "kernel": kernel, "stride": stride, "groups": groups, "bn_eps": BN_EPS})


def _dual_path_block(projected: bool) -> Cell:
    """One dual path block over the concatenation [residual path (W channels), dense path (D channels)].

    The bottleneck (BN-ReLU-conv 1x1 to R, grouped 3x3 with G groups and stride s, 1x1 to W + inc) reads the whole
    input; its first W channels are added to the residual path, its last ``inc`` channels are appended to the dense
    path. A projected block (the first of a stage) first maps the input by a strided 1x1 conv to W + 2 inc channels
    that it splits into the two paths; the others split their input with ``channel_slice``.
    """
    if projected:
        cell = Cell(vars={"W": None, "R": None, "G": None, "inc": None, "s": 1})
        _bn_relu_conv(cell, "proj", "x", "W + 2*inc", stride="s")
        residual = cell.add("proj_res", "channel_slice", inputs=["proj"], args={"start": 0, "stop": "W"})
        dense = cell.add("proj_dense", "channel_slice", inputs=["proj"], args={"start": "W", "stop": "W + 2*inc"})
        stride: object = "s"
    else:
        cell = Cell(vars={"W": None, "D": None, "R": None, "G": None, "inc": None})
        residual = cell.add("residual", "channel_slice", inputs=["x"], args={"start": 0, "stop": "W"})
        dense = cell.add("dense", "channel_slice", inputs=["x"], args={"start": "W", "stop": "W + D"})
        stride = 1
    _bn_relu_conv(cell, "conv1", "x", "R")
    _bn_relu_conv(cell, "conv2", "conv1", "R", kernel=3, stride=stride, groups="G")
    _bn_relu_conv(cell, "conv3", "conv2", "W + inc")
    cell.add("out_res", "channel_slice", inputs=["conv3"], args={"start": 0, "stop": "W"})
    cell.add("out_dense", "channel_slice", inputs=["conv3"], args={"start": "W", "stop": "W + inc"})
    cell.add("sum", "identity", inputs=[residual, "out_res"], merge="add")
    cell.add("out", "identity", inputs=["sum", dense, "out_dense"], merge="concat")
    cell.output = "out"
    return cell


# DPN-92: stem width, bottleneck width k_R and groups G, blocks per stage k_sec and dense increments inc_sec.
DPN92 = {"stem": 64, "k_r": 96, "groups": 32, "k_sec": (3, 4, 20, 3), "inc_sec": (16, 32, 24, 128)}


@register("dpn92", family="dpn", paper=PAPER, params=37_668_392, macs=6.5e9, exact=True)
def dpn(num_classes: int = 1000, input_shape: Sequence[int] = (3, 224, 224), width_mult: float = 1.0,
        stem: int = DPN92["stem"], k_r: int = DPN92["k_r"], groups: int = DPN92["groups"],
        k_sec: Sequence[int] = DPN92["k_sec"], inc_sec: Sequence[int] = DPN92["inc_sec"]) -> Architecture:
    """Dual Path Network (Chen et al. 2017); the defaults are DPN-92 (37,668,392 parameters as in timm's ``dpn92``).

    Stem: 7x7/2 conv-BN-ReLU and a 3x3/2 max pool. Four stages of dual path blocks with residual widths 256, 512,
    1024, 2048 (the first block of stages 3-5 strided), a final BN-ReLU on the concatenated paths, global average
    pooling and a classifier. ``width_mult`` scales every width and the number of groups (the group width stays).
    """
    shape = check_input(input_shape)
    strides = iter(reduction_strides(min(shape[1:]), 5))
    net = Cell(inputs=[NETWORK_INPUT])
    stride = next(strides)
    previous = net.add("stem", "conv_bn_relu", inputs=[NETWORK_INPUT],
                       args={"out": width(stem, width_mult), "kernel": 7, "stride": stride, "bn_eps": BN_EPS})
    if next(strides) == 2:
        previous = net.add("pool", "max_pool", inputs=[previous], args={"kernel": 3, "stride": 2})
    scaled_groups = width(groups, width_mult)
    for stage, (blocks, inc_raw) in enumerate(zip(k_sec, inc_sec)):
        residual = width(256 * 2**stage, width_mult)
        bottleneck = k_r * 2**stage // groups * scaled_groups  # group width of the reference kept, groups scaled
        inc = width(inc_raw, width_mult)
        common = {"W": residual, "R": bottleneck, "G": scaled_groups, "inc": inc}
        name = f"conv{stage + 2}"
        previous = net.add(f"{name}_1", cell="dpn_proj", inputs=[previous],
                           vars={**common, "s": 1 if stage == 0 else next(strides)})
        dense = 3 * inc  # the projection gives 2 inc dense channels, the bottleneck appends inc
        for block in range(2, blocks + 1):
            previous = net.add(f"{name}_{block}", cell="dpn_block", inputs=[previous], vars={**common, "D": dense})
            dense += inc
    net.add("final", "bn_relu", inputs=[previous], args={"eps": BN_EPS})
    net.add("gap", "global_avg_pool", inputs=["final"])
    net.add("fc", "linear", inputs=["gap"], args={"out": num_classes})
    net.output = "fc"
    return Architecture("dpn92", shape, net, {"dpn_proj": _dual_path_block(True), "dpn_block": _dual_path_block(False)})
