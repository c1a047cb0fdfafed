"""FractalNet's drop-path (Larsson et al. 2017): joins that drop inputs at random in training, locally or globally.

A join is a ``concat`` merge of its inputs followed by ``drop_path_mean`` with ``branches`` equal channel groups: in
eval it is the element-wise mean of the groups (the fractal join); in training it averages only the groups it keeps.

- Local drop-path: every join drops each input with probability ``p``, per sample, keeping at least one.
- Global drop-path: one column is chosen for the whole network, and every join keeps only that column's input. The
  choice is shared through ``CONTEXT``, a module-level sampling context that the ``drop_path_sampler`` op sets at the
  start of each training forward pass (it sits at the network's input, so it runs before every join): with
  probability ``global_ratio`` the batch is global, with a column drawn uniformly from ``columns``, else local.

By convention group ``i`` of a join is column ``i`` counted from the deepest column, which takes part in every join;
a join whose groups do not include the chosen column lies off that column's path and outputs zeros, which only
deeper, dropped columns read. Randomness comes from torch's generator, so ``torch.manual_seed`` makes it repeatable.
Joins read the choice of the most recent sampler, so a network with drop-path joins starts with its own sampler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nasbench.errors import GenomeError
from nasbench.ops.registry import Cost, Float, Int, Op, Shape, register_op


@dataclass
class DropPathContext:
    """The drop-path choice of the current training batch: ``column`` is None for local drop-path."""

    column: int | None = None


CONTEXT = DropPathContext()


class DropPathSampler(nn.Module):
    """Identity on its input; in training it draws this batch's drop-path mode into ``CONTEXT``."""

    def __init__(self, global_ratio: float, columns: int) -> None:
        super().__init__()
        self.global_ratio, self.columns = global_ratio, columns

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            draw = torch.rand(())
            globally = bool(draw < self.global_ratio)
            CONTEXT.column = int(torch.randint(self.columns, ())) if globally else None
        return x

    def extra_repr(self) -> str:
        return f"global_ratio={self.global_ratio}, columns={self.columns}"


class DropPathMean(nn.Module):
    """Mean of ``branches`` equal channel groups; in training, of the groups that drop-path keeps."""

    def __init__(self, branches: int, p: float) -> None:
        super().__init__()
        self.branches, self.p = branches, p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        groups = x.view(n, self.branches, c // self.branches, h, w)
        if not self.training or self.branches == 1:
            return groups.mean(1)
        column = CONTEXT.column
        if column is not None:
            return groups[:, column] if column < self.branches else groups[:, 0].mul(0.0)
        if self.p == 0:
            return groups.mean(1)
        keep = torch.rand(n, self.branches, device=x.device) >= self.p
        # A sample whose every input was dropped keeps one at random, so that the join never outputs nothing.
        rescue = torch.nn.functional.one_hot(torch.randint(self.branches, (n,), device=x.device), self.branches)
        keep = torch.where(keep.any(1, keepdim=True), keep, rescue.bool()).to(x.dtype)
        weights = (keep / keep.sum(1, keepdim=True)).view(n, self.branches, 1, 1, 1)
        return (groups * weights).sum(1)

    def extra_repr(self) -> str:
        return f"branches={self.branches}, p={self.p}"


@register_op("drop_path_mean")
class DropPathJoin(Op):
    """FractalNet's join: mean of ``branches`` concatenated inputs, with local/global drop-path in training."""

    args = {"branches": Int(minimum=1), "p": Float(0.15, minimum=0)}

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        if shape[0] % a["branches"]:
            raise GenomeError("branches", f"{a['branches']} branches do not divide {shape[0]} channels")
        if a["p"] >= 1:
            raise GenomeError("p", f"drop probability must be below 1, got {a['p']}")
        return (shape[0] // a["branches"], *shape[1:])

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return Cost(0, 0)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return DropPathMean(a["branches"], a["p"])


@register_op("drop_path_sampler")
class DropPathSamplerOp(Op):
    """Start of a drop-path network: identity that draws each training batch's local/global drop-path choice."""

    args = {"global_ratio": Float(0.5, minimum=0), "columns": Int(minimum=1)}
    dims = (1, 3)
    preserves_width = True

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        if a["global_ratio"] > 1:
            raise GenomeError("global_ratio", f"must be at most 1, got {a['global_ratio']}")
        return shape

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return Cost(0, 0)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return DropPathSampler(a["global_ratio"], a["columns"])
