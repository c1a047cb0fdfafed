"""Residual scaling: multiply by a constant (Inception-ResNet scales each residual by 0.1-0.3 before the add)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nasbench.ops.registry import Cost, Float, Op, Shape, register_op


class Scale(nn.Module):
    """Multiplies its input by a constant ``factor``."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


@register_op("scale")
class ScaleOp(Op):
    """Multiply by a constant ``factor``: no parameters, no multiply-accumulates (an element-wise product)."""

    args = {"factor": Float(1.0)}
    dims = (1, 3)
    preserves_width = True

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        return shape

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return Cost(0, 0)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return Scale(a["factor"])
