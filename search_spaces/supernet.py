"""One-shot supernets (DARTS-style continuous relaxation) over the nb201 and darts cell spaces.

Every edge of the cell carries all candidate ops, mixed by the softmax of its architecture weights ``alpha``
(``nn.Parameter``s returned by ``arch_parameters()``; ``weights()`` returns the others). The candidate ops are built
by the same op registry as the genome, with non-affine batch norm as DARTS's search networks use, and pooling followed
by a non-affine BN as in DARTS's MixedOp. ``genotype()`` derives a discrete member of the space: NAS-Bench-201 takes
the strongest op on every edge; DARTS keeps, for every node, the two incoming edges with the strongest non-``none``
op. These are plain PyTorch modules (not genome-compiled networks), trained as one job by the one-shot strategies.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F

from nasbench.architecture import Architecture
from nasbench.ops import get_op
from search_spaces import nb201
from search_spaces.cell_networks import op_node, reduction_layers
from search_spaces.genotypes import CellGenotype, Genotype

if TYPE_CHECKING:
    from search_spaces.darts import DartsSpace

_STEPS = 4  # DARTS intermediate nodes per cell


def genome_module(op: str, args: Mapping[str, Any], channels: int, width: int) -> nn.Module:
    """The module of genome op ``op`` (args may use ``C`` = ``width``) on ``channels`` input channels."""
    spec = get_op(op)
    resolved = spec.resolve_args(args, {"C": width}, f"supernet.{op}")
    return spec.build((channels, 8, 8), resolved)


def _search_op(op: str, args: Mapping[str, Any], C: int) -> nn.Module:  # noqa: N803
    # Search networks normalise without affine parameters so that alpha alone scales each candidate (DARTS, NB201).
    args = dict(args)
    if op in ("relu_conv_bn", "sep_conv", "dil_conv", "fact_reduce", "skip_connect", "conv_1xk_kx1"):
        args["affine"] = False
    module = genome_module(op, args, C, C)
    if op in ("avg_pool", "max_pool"):
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


class _NB201Cell(nn.Module):
    def __init__(self, C: int) -> None:  # noqa: N803
        super().__init__()
        self.edges = nn.ModuleList()
        for _edge in nb201.EDGES:
            candidates = [_search_op(*(("none", {}) if name == "none" else nb201.GENOME_OPS[name]), C)
                          for name in nb201.OPS]
            self.edges.append(MixedOp(candidates))

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in range(1, nb201.NODES):
            nodes.append(sum(self.edges[e](nodes[i], weights[e]) for e, (i, jj) in enumerate(nb201.EDGES) if jj == j))
        return nodes[-1]


class _ResidualReduction(nn.Module):
    # NAS-Bench-201's ResNetBasicblock between stages.
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = genome_module("relu_conv_bn", {"out": c_out, "stride": 2}, c_in, c_out)
        self.conv_b = genome_module("relu_conv_bn", {"out": c_out}, c_out, c_out)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


class NB201Supernet(Supernet):
    """NAS-Bench-201's search network: stem, 3 stages of N mixed cells, residual reductions, BN-ReLU, GAP, linear."""

    def __init__(self, C: int, N: int, num_classes: int, in_channels: int = 3,  # noqa: N803
                 space: nb201.NB201Space | None = None) -> None:
        super().__init__()
        self.space = space or nb201.NB201Space(num_classes=num_classes)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.stages = nn.ModuleList()
        width = C
        for stage in range(3):
            blocks: list[nn.Module] = []
            if stage:
                blocks.append(_ResidualReduction(width, width * 2))
                width *= 2
            blocks += [_NB201Cell(width) for _ in range(N)]
            self.stages.append(nn.ModuleList(blocks))
        self.head = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.classifier = nn.Linear(width, num_classes)
        self.alpha = nn.Parameter(1e-3 * torch.randn(len(nb201.EDGES), len(nb201.OPS)))

    def arch_parameters(self) -> list[nn.Parameter]:
        """[alpha] of shape (6 edges, 5 ops)."""
        return [self.alpha]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the mixed network."""
        weights = F.softmax(self.alpha, dim=-1)
        x = self.stem(x)
        for stage in self.stages:
            for block in stage:
                x = block(x, weights) if isinstance(block, _NB201Cell) else block(x)
        return self.classifier(self.head(x))

    def genotype(self) -> Architecture:
        """The strongest op on every edge (NAS-Bench-201's derivation, ``none`` included)."""
        best = self.alpha.detach().argmax(dim=-1).tolist()
        return self.space.decode({nb201.variable_name(i, j): nb201.OPS[k] for (i, j), k in zip(nb201.EDGES, best)})


class _DartsCell(nn.Module):
    def __init__(self, c_pp: int, c_p: int, C: int, reduction: bool, reduction_prev: bool,  # noqa: N803
                 ops: Sequence[str]) -> None:
        super().__init__()
        self.pre0 = _search_op("fact_reduce", {"out": C, "stride": 2 if reduction_prev else 1}, c_pp)
        self.pre1 = _search_op("fact_reduce", {"out": C, "stride": 1}, c_p)
        self.edges = nn.ModuleList()
        for i in range(_STEPS):
            for j in range(2 + i):
                specs = [op_node(name, strided=reduction and j < 2) for name in ops]
                self.edges.append(MixedOp([_search_op(op, args, C) for op, args in specs]))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        offset = 0
        for _ in range(_STEPS):
            states.append(sum(self.edges[offset + j](h, weights[offset + j]) for j, h in enumerate(states)))
            offset += len(states) - 1
        return torch.cat(states[-_STEPS:], dim=1)


class DartsSupernet(Supernet):
    """DARTS's search network (model_search.Network): ``layers`` mixed cells, reductions at 1/3 and 2/3 of depth."""

    def __init__(self, C: int, layers: int, num_classes: int, in_channels: int = 3,  # noqa: N803
                 space: DartsSpace | None = None, stem_multiplier: int = 3) -> None:
        super().__init__()
        from search_spaces.darts import DARTS_OPS, DartsSpace

        self.ops = DARTS_OPS
        self.space = space or DartsSpace(num_classes=num_classes)
        c_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_pp, c_p, width = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        self.reductions = reduction_layers(layers)
        reduction_prev = False
        for i in range(layers):
            reduction = i in self.reductions
            width = width * 2 if reduction else width
            self.cells.append(_DartsCell(c_pp, c_p, width, reduction, reduction_prev, self.ops))
            reduction_prev = reduction
            c_pp, c_p = c_p, _STEPS * width
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.classifier = nn.Linear(c_p, num_classes)
        edges = sum(2 + i for i in range(_STEPS))
        self.alphas_normal = nn.Parameter(1e-3 * torch.randn(edges, len(self.ops)))
        self.alphas_reduce = nn.Parameter(1e-3 * torch.randn(edges, len(self.ops)))

    def arch_parameters(self) -> list[nn.Parameter]:
        """[alphas_normal, alphas_reduce], each (14 edges, 8 ops)."""
        return [self.alphas_normal, self.alphas_reduce]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the mixed network."""
        s0 = s1 = self.stem(x)
        normal, reduce = F.softmax(self.alphas_normal, dim=-1), F.softmax(self.alphas_reduce, dim=-1)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, reduce if i in self.reductions else normal)
        return self.classifier(self.pool(s1))

    def genotype(self) -> Architecture:
        """DARTS's derivation: per node the 2 strongest incoming edges, each with its strongest non-none op."""
        cells = [self._parse(F.softmax(alpha.detach(), dim=-1)) for alpha in self.arch_parameters()]
        return self.space.network(Genotype(*cells), name="darts_derived")

    def _parse(self, weights: torch.Tensor) -> CellGenotype:
        none = self.ops.index("none")
        genes: list[tuple[str, int]] = []
        offset = 0
        for i in range(_STEPS):
            rows = weights[offset:offset + 2 + i].clone()
            rows[:, none] = -1.0
            strongest = sorted(range(2 + i), key=lambda j: -float(rows[j].max()))[:2]
            genes += [(self.ops[int(rows[j].argmax())], j) for j in strongest]
            offset += 2 + i
        return CellGenotype(tuple(genes), tuple(range(2, 2 + _STEPS)))
