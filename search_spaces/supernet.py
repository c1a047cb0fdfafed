"""The machinery shared by the one-shot supernets (DARTS-style continuous relaxation) of the search spaces.

Every edge of a supernet carries all candidate ops, mixed by the softmax of its architecture weights ``alpha``
(``nn.Parameter``s returned by ``arch_parameters()``; ``weights()`` returns the others). The candidate ops are built
by the same op registry as the genome, with non-affine batch norm as DARTS's search networks use, and pooling followed
by a non-affine BN as in DARTS's MixedOp. ``genotype()`` derives a discrete member of the space. Supernets are plain
PyTorch modules (not genome-compiled networks), trained as one job by the one-shot strategies; each lives next to its
space (``nb201.NB201Supernet``, ``darts.DartsSupernet``, ``enas_macro.EnasMacroSupernet``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from nasbench.architecture import Architecture
from nasbench.ops import get_op


def genome_module(op: str, args: Mapping[str, Any], channels: int, width: int) -> nn.Module:
    """The module of genome op ``op`` (args may use ``C`` = ``width``) on ``channels`` input channels."""
    spec = get_op(op)
    resolved = spec.resolve_args(args, {"C": width}, f"supernet.{op}")
    return spec.build((channels, 8, 8), resolved)


def _search_op(op: str, args: Mapping[str, Any], C: int) -> nn.Module:  # noqa: N803
    # Search networks normalise without affine parameters so that alpha alone scales each candidate (DARTS, NB201).
    spec = get_op(op)
    args = dict(args)
    if "affine" in spec.args:
        args["affine"] = False
    module = genome_module(op, args, C, C)
    if spec.category == "pool":
        module = nn.Sequential(module, nn.BatchNorm2d(C, affine=False))
    return module


class MixedOp(nn.Module):
    """All candidate ops of one edge; the output is their sum weighted by the given softmax weights."""

    def __init__(self, candidates: Sequence[nn.Module]) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(candidates)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Weighted sum of every candidate applied to ``x``."""
        return sum(w * op(x) for w, op in zip(weights, self.candidates))


class Supernet(nn.Module):
    """Base class: architecture parameters apart from the network weights, and a derived ``genotype()``."""

    def arch_parameters(self) -> list[nn.Parameter]:
        """The architecture weights alpha."""
        raise NotImplementedError

    def weights(self) -> Iterator[nn.Parameter]:
        """The network weights (every parameter that is not an architecture weight)."""
        alphas = {id(p) for p in self.arch_parameters()}
        return (p for p in self.parameters() if id(p) not in alphas)

    def genotype(self) -> Architecture:
        """The discrete member of the space that the current alphas select."""
        raise NotImplementedError
