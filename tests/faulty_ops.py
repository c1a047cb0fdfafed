"""Two ops that break a network on purpose (importing this module registers them): one raises, one yields NaN."""

from __future__ import annotations

import torch
from torch import nn

from nasbench.ops import register_op

RAISING_OP = "test_raise"
NAN_OP = "test_nan"


class Explode(nn.Module):
    """Raises in its forward pass."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom in forward")


class MakeNan(nn.Module):
    """Turns every value into NaN, so the loss diverges."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float("nan")


@register_op(RAISING_OP, args={}, shape=lambda s, a: s, cost=lambda s, a: (0, 0), replace=True)
def _explode(shape, a) -> nn.Module:
    return Explode()


@register_op(NAN_OP, args={}, shape=lambda s, a: s, cost=lambda s, a: (0, 0), replace=True)
def _nan(shape, a) -> nn.Module:
    return MakeNan()
