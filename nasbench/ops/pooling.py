"""Pooling ops: max and average k x k, global average, adaptive average."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from torch import nn

from nasbench.errors import GenomeError
from nasbench.ops.conv import auto_padding
from nasbench.ops.registry import Bool, Cost, Op, Pair, Shape, register_op


def pool_out(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """Output length of a pooling window along one axis, PyTorch's rule for ceil_mode included."""
    span = size + 2 * padding - kernel
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


class _Pool(Op):
    args = {
        "kernel": Pair(3, minimum=1),
        "stride": Pair(1, minimum=1),
        "padding": Pair(None, minimum=0),
        "ceil_mode": Bool(False),
    }
    category = "pool"
    preserves_width = True

    def _padding(self, a: Mapping[str, Any]) -> tuple[int, int]:
        return auto_padding(a["kernel"], (1, 1), a["padding"])

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        c, h, w = shape
        (kh, kw), (sh, sw), (ph, pw) = a["kernel"], a["stride"], self._padding(a)
        if ph > kh // 2 or pw > kw // 2:
            # PyTorch's pooling refuses a pad wider than half the window (it would pool padding alone).
            raise GenomeError("padding", f"padding {ph}x{pw} exceeds half the {kh}x{kw} window")
        return (c, pool_out(h, kh, sh, ph, a["ceil_mode"]), pool_out(w, kw, sw, pw, a["ceil_mode"]))

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return Cost(0, 0)


@register_op("max_pool")
class MaxPool(_Pool):
    """Max pooling k x k (padding defaults to (k-1)//2)."""

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return nn.MaxPool2d(a["kernel"], a["stride"], self._padding(a), ceil_mode=a["ceil_mode"])


@register_op("avg_pool")
class AvgPool(_Pool):
    """Average pooling k x k; padded pixels are left out of the average unless count_include_pad (DARTS, NB201)."""

    args = {**_Pool.args, "count_include_pad": Bool(False)}

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return nn.AvgPool2d(a["kernel"], a["stride"], self._padding(a), ceil_mode=a["ceil_mode"],
                            count_include_pad=a["count_include_pad"])


@register_op("global_avg_pool")
class GlobalAvgPool(Op):
    """Global average pooling to a feature vector (C,)."""

    category = "pool"
    preserves_width = True

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        return (shape[0],)

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return Cost(0, 0)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))


@register_op("adaptive_avg_pool")
class AdaptiveAvgPool(Op):
    """Adaptive average pooling to a fixed spatial size (VGG's and AlexNet's 7x7 / 6x6 before the classifier)."""

    args = {"size": Pair(minimum=1)}
    category = "pool"
    preserves_width = True

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        return (shape[0], *a["size"])

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return Cost(0, 0)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return nn.AdaptiveAvgPool2d(a["size"])
