"""The machinery shared by the one-shot supernets (DARTS-style continuous relaxation) of the search spaces.

Every edge of a supernet carries all candidate ops (a ``MixedOp``). A forward pass mixes them by one weight tensor per
architecture parameter over ops (``op_parameters()``, shape ``[edges, ops]``): by default the softmax of the
parameters (DARTS); a strategy passes others, such as the hard Gumbel-softmax samples of GDAS or the one-hot path of
an architecture ENAS's controller sampled, with the ``active`` candidates of every edge, so that only those run.
``arch_parameters()`` adds the parameters that are not over ops (PC-DARTS's edge normalization); ``weights()`` are
the rest. ``genotype()`` derives a discrete member of the space, ``path(choices)`` is the other direction.

Options of the relaxation, set when the supernet is built: ``partial_channels`` K (PC-DARTS: 1/K of the channels go
through the mixed op, the rest bypass it, then a channel shuffle), ``edge_normalization`` (PC-DARTS: a softmax over
each node's incoming edges scales them), ``auxiliary_skip`` (DARTS-: a skip connection outside the softmax on every
edge, scaled by ``auxiliary_weight``, which the strategy decays).

The candidate ops are built by the same op registry as the genome, with non-affine batch norm as DARTS's search
networks use, and pooling followed by a non-affine BN as in DARTS's MixedOp. Supernets are plain PyTorch modules (not
genome-compiled networks), trained as one job by the one-shot strategies; each lives next to its space
(``nb201.NB201Supernet``, ``darts.DartsSupernet``, ``enas_macro.EnasMacroSupernet``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - torch's own alias

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from nasbench.ops import get_op
from nasbench.ops.layers import FactorizedReduce

# Per op parameter, per edge: the candidates that run (None: all of them).
Active = Sequence[Sequence[Sequence[int] | None]]


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


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: interleave ``groups`` equal groups of channels."""
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


def check_relaxation(name: str, C: int, partial_channels: int) -> None:  # noqa: N803
    """One-line errors for relaxation options a supernet of width ``C`` cannot take."""
    if partial_channels < 1:
        raise NasbenchError(f"{name} supernet: partial_channels must be at least 1, got {partial_channels}")
    if C % partial_channels:
        raise NasbenchError(f"{name} supernet: the width C={C} is not divisible by partial_channels="
                            f"{partial_channels}")


class MixedOp(nn.Module):
    """All candidate ops of one edge; the output is their sum weighted by the given weights.

    With ``partial`` K > 1 the candidates were built on C/K channels: the first C/K channels of the input go through
    them and the others bypass the edge (max-pooled on a strided edge), then the channels are shuffled (PC-DARTS).
    ``auxiliary`` is DARTS-'s skip connection outside the mixture (identity, or a factorized reduction when strided).
    """

    def __init__(self, candidates: Sequence[nn.Module], stride: int = 1, partial: int = 1,
                 auxiliary: nn.Module | None = None) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(candidates)
        self.partial = int(partial)
        self.bypass = nn.MaxPool2d(2, 2) if self.partial > 1 and stride == 2 else None
        self.auxiliary = auxiliary

    def forward(self, x: torch.Tensor, weights: torch.Tensor, active: Sequence[int] | None = None,
                auxiliary_weight: float = 0.0) -> torch.Tensor:
        """The mixture of the candidates (only the ``active`` ones run; each other adds its weight, as GDAS does)."""
        inner = x[:, :x.shape[1] // self.partial] if self.partial > 1 else x
        if active is None:
            out = sum(w * op(inner) for w, op in zip(weights, self.candidates))
        else:
            # The weight of a candidate that does not run joins as a constant whose forward value is zero (a hard
            # sample), so that the straight-through gradient still reaches it (GDAS's reference cell).
            out = sum(weights[k] * self.candidates[k](inner) for k in active)
            idle = [weights[k] for k in range(len(self.candidates)) if k not in active]
            if idle and weights.requires_grad:
                out = out + sum(idle)
        if self.partial > 1:
            rest = x[:, x.shape[1] // self.partial:]
            if self.bypass is not None:
                rest = self.bypass(rest)
            out = channel_shuffle(torch.cat([out, rest], dim=1), self.partial)
        if auxiliary_weight and self.auxiliary is not None:
            out = out + auxiliary_weight * self.auxiliary(x)
        return out


def auxiliary_skip(C: int, stride: int) -> nn.Module:  # noqa: N803
    """DARTS-'s auxiliary skip of an edge: the identity, or a non-affine factorized reduction on a strided edge."""
    return nn.Identity() if stride == 1 else FactorizedReduce(C, C, affine=False)


def node_edge_weights(betas: torch.Tensor | None, sizes: Sequence[int]) -> list[torch.Tensor] | None:
    """PC-DARTS's edge normalization: the softmax of ``betas`` over each node's ``sizes[i]`` incoming edges."""
    if betas is None:
        return None
    weights, offset = [], 0
    for size in sizes:
        weights.append(F.softmax(betas[offset:offset + size], dim=-1))
        offset += size
    return weights


class Supernet(nn.Module):
    """Base class: architecture parameters apart from the network weights, a derived ``genotype()`` and ``path``.

    ``auxiliary_weight`` scales DARTS-'s auxiliary skips when the supernet was built with them.
    """

    auxiliary_weight: float = 0.0
    # Whether every weight tensor of the mixture is a softmax over an op parameter's rows (Gumbel sampling applies).
    categorical = True

    def op_parameters(self) -> list[nn.Parameter]:
        """The architecture weights over ops, each ``[edges, ops]`` (alpha)."""
        raise NotImplementedError

    def arch_parameters(self) -> list[nn.Parameter]:
        """Every architecture parameter: the op parameters, then any other (edge normalization's betas)."""
        return self.op_parameters()

    def weights(self) -> Iterator[nn.Parameter]:
        """The network weights (every parameter that is not an architecture weight)."""
        alphas = {id(p) for p in self.arch_parameters()}
        return (p for p in self.parameters() if id(p) not in alphas)

    def mixture(self) -> list[torch.Tensor]:
        """DARTS's relaxation: the softmax over ops of every op parameter."""
        return [F.softmax(alpha, dim=-1) for alpha in self.op_parameters()]

    def genotype(self) -> Architecture:
        """The discrete member of the space that the current architecture parameters select."""
        raise NotImplementedError

    def path(self, choices: Mapping[str, Any]) -> tuple[list[torch.Tensor], list[list[list[int]]]]:
        """The one-hot weights and the active candidates that run the member of the flat ``choices`` alone."""
        raise NotImplementedError

    def choices(self) -> dict[str, Any]:
        """The flat encoding (the space's ``variables()``) of ``genotype()``."""
        return dict(self.space.encode(self.genotype()))  # type: ignore[attr-defined]
