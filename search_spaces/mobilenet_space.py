"""The MobileNet (MBConv) space of hardware-aware NAS: ProxylessNAS (Cai et al. 2019), Once-for-All (Cai et al. 2020).

The network is OFA's MobileNet layout with ProxylessNAS's ReLU6: a 3x3 stem, a depthwise block, five stages of MBConv
blocks (base widths 24, 40, 80, 112, 160; strides 2, 2, 2, 1, 2), a 1x1 conv to 1280, global pooling and a linear
classifier. Per stage the search picks a depth (2-4 blocks) and a width; per block a kernel (3, 5, 7) and an expansion
ratio (3, 6). The first block of a stage carries the stride; the others add their input (inverted residual). On small
inputs the earliest reductions become stride 1, as the zoo's adapted MobileNets do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from nasbench.architecture import Architecture
from nasbench.cell import NETWORK_INPUT, Cell
from nasbench.errors import NasbenchError
from search_spaces.base import Variable
from search_spaces.custom import RecordedChoiceSpace
from search_spaces.registry import register_space
from search_spaces.zoo.networks.mobilenet import make_divisible, reduction_strides

STAGES = ((24, 2), (40, 2), (80, 2), (112, 1), (160, 2))  # (base width, stride) of OFA's MobileNet stages
DEPTHS = (2, 3, 4)
KERNELS = (3, 5, 7)
EXPANSIONS = (3, 6)
WIDTH_FACTORS = (0.75, 1.0, 1.25)


def _mbconv(residual: bool) -> Cell:
    """MBConv: 1x1 expansion to E, k x k depthwise conv (stride s), linear 1x1 projection to C (+ input if residual)."""
    cell = Cell(vars={"E": None, "C": None, "k": 3, "s": 1})
    cell.add("expand", "conv_bn_relu6", inputs=["x"], args={"out": "E", "kernel": 1})
    cell.add("dw", "conv_bn_relu6", inputs=["expand"], args={"out": "E", "kernel": "k", "stride": "s", "groups": "E"})
    cell.add("project", "conv_bn", inputs=["dw"], args={"out": "C", "kernel": 1})
    if residual:
        cell.add("out", "identity", inputs=["project", "x"], merge="add")
    cell.output = "out" if residual else "project"
    return cell


@register_space("mobilenet")
class MobileNetSpace(RecordedChoiceSpace):
    """MBConv stages: per stage depth and width, per block kernel 3/5/7 and expansion 3/6 (ProxylessNAS / OFA).

    ``width_mult`` scales every width (the stage width choices are 0.75, 1 and 1.25 times the base).
    """

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10,
                 width_mult: float = 1.0) -> None:
        super().__init__(input_shape, num_classes)
        if width_mult <= 0:
            raise NasbenchError(f"mobilenet: width_mult must be positive, got {width_mult}")
        self.width_mult = float(width_mult)
        self.widths = [list(dict.fromkeys(make_divisible(base * f * self.width_mult) for f in WIDTH_FACTORS))
                       for base, _ in STAGES]

    def variables(self) -> dict[str, Variable]:
        """Per stage ``stage{i}_depth`` and ``stage{i}_width``, per block ``stage{i}_block{j}_kernel``/``_expand``.

        All are ordinal. Blocks beyond a stage's chosen depth are unused, so several encodings describe one network.
        """
        variables: dict[str, Variable] = {}
        for i in range(len(STAGES)):
            variables[f"stage{i}_depth"] = Variable(DEPTHS, ordinal=True)
            variables[f"stage{i}_width"] = Variable(tuple(self.widths[i]), ordinal=True)
            for j in range(max(DEPTHS)):
                variables[f"stage{i}_block{j}_kernel"] = Variable(KERNELS, ordinal=True)
                variables[f"stage{i}_block{j}_expand"] = Variable(EXPANSIONS, ordinal=True)
        return variables

    def build(self, choices: Mapping[str, Any]) -> Architecture:
        """The network of ``choices``."""
        reductions = iter(reduction_strides(min(self.input_shape[1:]), 1 + sum(s == 2 for _, s in STAGES)))
        net = Cell(inputs=[NETWORK_INPUT], output="fc")
        width = make_divisible(16 * self.width_mult)
        previous = net.add("stem", "conv_bn_relu6", inputs=[NETWORK_INPUT],
                           args={"out": width, "kernel": 3, "stride": next(reductions)})
        previous = net.add("first_dw", "conv_bn_relu6", inputs=[previous],
                           args={"out": width, "kernel": 3, "groups": width})
        previous = net.add("first_project", "conv_bn", inputs=[previous], args={"out": width, "kernel": 1})
        for i, (_, stride) in enumerate(STAGES):
            out = choices[f"stage{i}_width"]
            for j in range(choices[f"stage{i}_depth"]):
                expand = choices[f"stage{i}_block{j}_expand"]
                block_vars = {"E": width * expand, "C": out, "k": choices[f"stage{i}_block{j}_kernel"]}
                if j == 0:
                    block_vars["s"] = next(reductions) if stride == 2 else 1
                previous = net.add(f"stage{i}_block{j}", cell="mbconv_res" if j else "mbconv", vars=block_vars,
                                   inputs=[previous])
                width = out
        head = make_divisible(1280 * self.width_mult)
        net.add("head_conv", "conv_bn_relu6", inputs=[previous], args={"out": head, "kernel": 1})
        net.add("pool", "global_avg_pool", inputs=["head_conv"])
        net.add("fc", "linear", inputs=["pool"], args={"out": self.num_classes})
        cells = {"mbconv": _mbconv(residual=False), "mbconv_res": _mbconv(residual=True)}
        return Architecture("mobilenet_space", self.input_shape, net, cells)

    def size(self) -> int:
        """Distinct networks: per stage, widths times the block choices summed over the depths."""
        per_block = len(KERNELS) * len(EXPANSIONS)
        return math.prod(len(widths) * sum(per_block**depth for depth in DEPTHS) for widths in self.widths)
