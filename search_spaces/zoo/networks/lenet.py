"""LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998), with the paper's sparse C1-to-C3 connection table.

C1 6@28x28 (5x5), S2 subsampling, C3 16@10x10 (5x5, each map reading the subset of S2 maps in Table I), S4
subsampling, C5 120 (5x5 over the 5x5 maps: fully connected), F6 84, output 10; scaled tanh squashing throughout.
"""

from __future__ import annotations

from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from search_spaces.zoo.networks.scaling import width
from search_spaces.zoo.registry import register

PAPER = "LeCun, Bottou, Bengio, Haffner. Gradient-Based Learning Applied to Document Recognition. Proc. IEEE 1998"

# Table I: the S2 maps each C3 map reads (6 of 3 neighbours, 6 of 4, 3 of 4 non-neighbours, 1 of all six).
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


def lenet5(num_classes: int = 10, input_shape: Sequence[int] = (1, 32, 32), width_mult: float = 1.0,
           connection_table: bool = True) -> Architecture:
    """LeNet-5 as the paper builds it, with tanh activations and a linear output layer.

    The subsampling layers S2 and S4 are a 2x2 average times one trainable coefficient plus one trainable bias per
    map (a 2x2 average pool, then a depthwise 1x1 conv with bias), then the squashing function. The paper's output
    layer of Euclidean RBF units with fixed, hand-chosen prototypes is replaced by a trainable linear layer (850
    parameters): the trainable count is 60,850 against the paper's 60,000. With ``connection_table`` at the published
    widths C3 follows Table I (1,516 parameters); at other widths C3 is fully connected. Inputs below 32 pixels keep
    their size through C1 and C3 ('same' padding, as the paper padded MNIST's 28x28 digits to 32x32), and C5's kernel
    covers the whole S4 map as in the paper.
    """
    c1, c3, c5, f6 = (width(c, width_mult) for c in (6, 16, 120, 84))
    padding = 2 if input_shape[1] < 32 else 0
    size = (input_shape[1] - 4 + 2 * padding) // 2
    size = (size - 4 + 2 * padding) // 2
    net = Cell(inputs=["input"])
    net.add("c1", "conv", inputs=["input"], args=_conv(c1, 5, padding, "tanh"))
    _subsample(net, "s2", "c1", c1)
    if connection_table and (c1, c3) == (6, len(C3_TABLE)):
        _sparse_c3(net, "s2", padding)
    else:
        net.add("c3", "conv", inputs=["s2"], args=_conv(c3, 5, padding, "tanh"))
    _subsample(net, "s4", "c3", c3)
    net.add("c5", "conv", inputs=["s4"], args=_conv(c5, max(1, min(5, size)), 0, "tanh"))
    net.add("f6", "linear", inputs=["c5"], args={"out": f6})
    net.add("f6_act", "act", inputs=["f6"], args={"fn": "tanh"})
    net.add("output", "linear", inputs=["f6_act"], args={"out": num_classes})
    net.output = "output"
    return Architecture("lenet5", input_shape, net)


def _conv(out: int, kernel: int, padding: int, act: str = "none") -> dict[str, object]:
    return {"out": out, "kernel": kernel, "padding": padding, "bias": True, "act": act}


def _subsample(net: Cell, name: str, source: str, channels: int) -> None:
    net.add(f"{name}_pool", "avg_pool", inputs=[source], args={"kernel": 2, "stride": 2, "padding": 0})
    net.add(name, "conv", inputs=[f"{name}_pool"], args={**_conv(channels, 1, 0, "tanh"), "groups": channels})


def _sparse_c3(net: Cell, source: str, padding: int) -> None:
    """C3 as Table I: one 5x5 conv per map over the concatenation of the S2 maps it reads, then tanh."""
    maps = []
    for j, inputs in enumerate(C3_TABLE):
        slices = [_channel_run(net, source, start, stop) for start, stop in _runs(inputs)]
        merge = "concat" if len(slices) > 1 else None
        maps.append(net.add(f"c3_{j}", "conv", inputs=slices, args=_conv(1, 5, padding), merge=merge))
    net.add("c3", "act", inputs=maps, args={"fn": "tanh"}, merge="concat")


def _runs(channels: Sequence[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive channels, as (start, stop) slices."""
    runs: list[tuple[int, int]] = []
    for c in sorted(channels):
        if runs and runs[-1][1] == c:
            runs[-1] = (runs[-1][0], c + 1)
        else:
            runs.append((c, c + 1))
    return runs


def _channel_run(net: Cell, source: str, start: int, stop: int) -> str:
    if (start, stop) == (0, 6):
        return source
    name = f"{source}_{start}_{stop}"
    if name not in net.graph:
        net.add(name, "channel_slice", inputs=[source], args={"start": start, "stop": stop})
    return name


register("lenet5", family="lenet", paper=PAPER, params=60_000, tolerance=0.015)(lenet5)
