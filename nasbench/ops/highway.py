"""The highway transform gate's convolution, whose bias starts negative so that a highway layer starts by carrying.

Srivastava et al. 2015 initialize the transform gate bias to a negative value (e.g. -1 to -3): with T = sigmoid(t)
small at first, each layer passes its input on almost unchanged and a deep stack of highway layers trains from the
start. The compiler zero-initializes the biases of ``nn.Conv2d`` modules, so this op holds its own parameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from nasbench.ops.conv import auto_padding, conv_cost, conv_shape
from nasbench.ops.registry import Cost, Float, Int, Op, Pair, Shape, register_op


class GateConv(nn.Module):
    """A stride-1 'same' convolution with bias, its bias initialized to ``bias_init``."""

    def __init__(self, c_in: int, c_out: int, kernel: tuple[int, int], bias_init: float) -> None:
        super().__init__()
        self.padding = auto_padding(kernel, (1, 1), None)
        self.weight = nn.Parameter(torch.empty(c_out, c_in, *kernel))
        self.bias = nn.Parameter(torch.full((c_out,), float(bias_init)))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # nn.Conv2d's default weight initialization

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=self.padding)


@register_op("gate_conv")
class GateConvOp(Op):
    """Transform gate pre-activation of a highway layer: k x k conv with bias initialized to ``bias_init``."""

    args = {"out": Int(minimum=1), "kernel": Pair(3, minimum=1), "bias_init": Float(-1.0)}
    category = "conv"

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        return conv_shape(shape, a["out"], a["kernel"], (1, 1), auto_padding(a["kernel"], (1, 1), None))

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return conv_cost(shape[0], self.output_shape(shape, a), a["kernel"], 1, True)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return GateConv(shape[0], a["out"], a["kernel"], a["bias_init"])
