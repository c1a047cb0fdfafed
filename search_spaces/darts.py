"""The DARTS cell space (Liu et al., ICLR 2019) and the normal + reduction cell-pair machinery shared with nasnet.

A member is a normal and a reduction cell in DARTS's CIFAR network. A DARTS cell has 4 intermediate nodes; each node
applies an op to each of 2 earlier states (the two cell inputs or earlier nodes) and adds the results; the cell output
concatenates the 4 nodes. Derived DARTS cells never contain ``none`` (it only competes inside the supernet), so the
discrete space uses the 7 other ops. Two inputs of a node may coincide in the flat view (every choice decodes to a
valid network); sampling draws them independently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from search_spaces.base import ChoiceSpace, Variable
from search_spaces.cell_networks import cell_network, op_node, read_genotype, reduction_layers
from search_spaces.genotypes import DARTS_V1, DARTS_V2, CellGenotype, Genotype
from search_spaces.registry import register_space
from search_spaces.supernet import (
    Active,
    MixedOp,
    Supernet,
    _search_op,
    auxiliary_skip,
    check_relaxation,
    node_edge_weights,
)

DARTS_OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
             "dil_conv_5x5")
CELL_TYPES = ("normal", "reduce")
_STEPS = 4  # DARTS intermediate nodes per cell (in the supernet)


class CellPairSpace(ChoiceSpace):
    """Normal + reduction cells of ``blocks`` blocks over ``ops`` in DARTS's CIFAR network of ``layers`` cells.

    Flat view per cell and block k: ``<cell>_<k>_in0``/``in1`` (a state 0..k+1), ``<cell>_<k>_op0``/``op1`` and, where
    ``combines`` offers several, ``<cell>_<k>_combine``. Sampling draws every choice uniformly, as NASNet's controller
    does; a mutation changes one hidden-state, op or combination choice (AmoebaNet's mutations). ``C`` and ``layers``
    default to DARTS's search network (16 and 8); DARTS evaluates its cells at C=36, 20 cells.
    """

    ops: tuple[str, ...] = ()
    blocks: int = 4
    combines: tuple[str, ...] = ("add",)
    published: dict[str, Genotype] = {}
    size_options = ("layers", "C")

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10, C: int = 16,  # noqa: N803
                 layers: int = 8, auxiliary: bool = False) -> None:
        super().__init__(input_shape, num_classes)
        if C < 1 or layers < 3:
            raise NasbenchError(f"{self.name}: needs C >= 1 and layers >= 3, got C={C}, layers={layers}")
        self.C, self.layers, self.auxiliary = int(C), int(layers), bool(auxiliary)

    def concat(self, cell: CellGenotype) -> tuple[int, ...]:
        """The states a cell concatenates (DARTS: all blocks)."""
        return tuple(range(2, 2 + self.blocks))

    def network(self, genotype: Genotype, name: str | None = None) -> Architecture:
        """The member with cells ``genotype`` (its concat lists are set by the space's rule)."""
        cells = {}
        for cell_type in CELL_TYPES:
            cell = getattr(genotype, cell_type)
            self._check(cell, cell_type)
            combine = None if set(cell.combines()) == {"add"} else cell.combine
            cells[cell_type] = CellGenotype(cell.ops, self.concat(cell), combine)
        genotype = Genotype(**cells)
        meta = {"space": self.name, "genotype": _plain(genotype)}
        return cell_network(name or f"{self.name}_cells", genotype, self.input_shape, self.num_classes, self.C,
                            self.layers, auxiliary=self.auxiliary, meta=meta)

    def _check(self, cell: CellGenotype, cell_type: str) -> None:
        if cell.blocks != self.blocks or len(cell.ops) != 2 * self.blocks:
            raise NasbenchError(f"{self.name}: a {cell_type} cell has {self.blocks} blocks of 2 ops")
        for index, (op, source) in enumerate(cell.ops):
            if op not in self.ops or not 0 <= source < 2 + index // 2:
                raise NasbenchError(f"{self.name}: {cell_type} cell op {index} ({op!r}, {source}) is not in the space")
        if any(c not in self.combines for c in cell.combines()):
            raise NasbenchError(f"{self.name}: combinations must be among {', '.join(self.combines)}")

    def genotype(self, arch: Architecture) -> Genotype:
        """The cells of a member."""
        return read_genotype(arch)

    def variables(self) -> dict[str, Variable]:
        """Inputs, ops (and combinations) of every block of both cells, all categorical."""
        variables: dict[str, Variable] = {}
        for cell_type in CELL_TYPES:
            for k in range(self.blocks):
                prefix = f"{cell_type}_{k}"
                variables[f"{prefix}_in0"] = variables[f"{prefix}_in1"] = Variable(tuple(range(k + 2)))
                variables[f"{prefix}_op0"] = variables[f"{prefix}_op1"] = Variable(self.ops)
                if len(self.combines) > 1:
                    variables[f"{prefix}_combine"] = Variable(self.combines)
        return variables

    def encode(self, arch: Architecture) -> dict[str, Any]:
        """The flat choices of a member."""
        genotype = self.genotype(arch)
        choices: dict[str, Any] = {}
        for cell_type in CELL_TYPES:
            cell = getattr(genotype, cell_type)
            self._check(cell, cell_type)
            for k in range(self.blocks):
                prefix = f"{cell_type}_{k}"
                for j in range(2):
                    op, source = cell.ops[2 * k + j]
                    choices[f"{prefix}_in{j}"] = source
                    choices[f"{prefix}_op{j}"] = op
                if len(self.combines) > 1:
                    choices[f"{prefix}_combine"] = cell.combines()[k]
        return choices

    def build(self, choices: Mapping[str, Any]) -> Architecture:
        """The member of the flat choices."""
        cells = {}
        for cell_type in CELL_TYPES:
            ops, combine = [], []
            for k in range(self.blocks):
                prefix = f"{cell_type}_{k}"
                ops += [(choices[f"{prefix}_op{j}"], int(choices[f"{prefix}_in{j}"])) for j in range(2)]
                combine.append(choices.get(f"{prefix}_combine", "add"))
            cells[cell_type] = CellGenotype(tuple(ops), (), tuple(combine))
        return self.network(Genotype(**cells))

    def seeds(self) -> list[Architecture]:
        """The published cells that fit the space."""
        return [self.network(genotype, name=name) for name, genotype in self.published.items()]


def _plain(genotype: Genotype) -> dict[str, Any]:
    return {cell_type: {"ops": [list(pair) for pair in getattr(genotype, cell_type).ops],
                        "concat": list(getattr(genotype, cell_type).concat),
                        "combine": list(getattr(genotype, cell_type).combines())} for cell_type in CELL_TYPES}


@register_space("darts")
class DartsSpace(CellPairSpace):
    """DARTS: 4 nodes per cell, 2 inputs each, 7 ops (``none`` lives only in the supernet), concat of the 4 nodes."""

    ops = DARTS_OPS[1:]
    blocks = 4
    published = {"darts_v1": DARTS_V1, "darts_v2": DARTS_V2}

    def supernet(self, C: int, layers: int, in_channels: int | None = None,  # noqa: N803
                 num_classes: int | None = None, **relaxation: Any) -> DartsSupernet:
        """DARTS's search network: a softmax-weighted mix of the 8 ops on every edge of both cells.

        It trains on images of ``in_channels`` channels and ``num_classes`` classes (default: the space's own), and
        derives members of this space; ``relaxation`` are ``DartsSupernet``'s options.
        """
        return DartsSupernet(C, layers, num_classes or self.num_classes, in_channels=in_channels or self.input_shape[0],
                             space=self, **relaxation)


_INCOMING = [2 + i for i in range(_STEPS)]


class _DartsCell(nn.Module):
    def __init__(self, c_pp: int, c_p: int, C: int, reduction: bool, reduction_prev: bool,  # noqa: N803
                 ops: Sequence[str], partial: int, auxiliary: bool) -> None:
        super().__init__()
        self.pre0 = _search_op("fact_reduce", {"out": C, "stride": 2 if reduction_prev else 1}, c_pp)
        self.pre1 = _search_op("fact_reduce", {"out": C, "stride": 1}, c_p)
        self.edges = nn.ModuleList()
        for i in range(_STEPS):
            for j in range(2 + i):
                stride = 2 if reduction and j < 2 else 1
                specs = [op_node(name, strided=stride == 2) for name in ops]
                self.edges.append(MixedOp([_search_op(op, args, C // partial) for op, args in specs], stride, partial,
                                          auxiliary_skip(C, stride) if auxiliary else None))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor,
                active: Sequence[Sequence[int] | None] | None, edge_weights: list[torch.Tensor] | None,
                auxiliary_weight: float) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        offset = 0
        for i in range(_STEPS):
            total = 0
            for j, h in enumerate(states):
                e = offset + j
                if active is not None and not active[e]:
                    continue  # an edge the sampled architecture does not use (ENAS)
                out = self.edges[e](h, weights[e], None if active is None else active[e], auxiliary_weight)
                total = total + (out if edge_weights is None else edge_weights[i][j] * out)
            offset += len(states)
            states.append(total)
        return torch.cat(states[-_STEPS:], dim=1)


class DartsSupernet(Supernet):
    """DARTS's search network (model_search.Network): ``layers`` mixed cells, reductions at 1/3 and 2/3 of depth.

    ``partial_channels``, ``edge_normalization`` and ``auxiliary_skip`` are the relaxation options of the module
    ``search_spaces.supernet`` (PC-DARTS, DARTS-).
    """

    def __init__(self, C: int, layers: int, num_classes: int, in_channels: int = 3,  # noqa: N803
                 space: DartsSpace | None = None, stem_multiplier: int = 3, partial_channels: int = 1,
                 edge_normalization: bool = False, auxiliary_skip: bool = False) -> None:
        super().__init__()
        check_relaxation("darts", C, partial_channels)
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
            self.cells.append(_DartsCell(c_pp, c_p, width, reduction, reduction_prev, self.ops, partial_channels,
                                         auxiliary_skip))
            reduction_prev = reduction
            c_pp, c_p = c_p, _STEPS * width
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.classifier = nn.Linear(c_p, num_classes)
        edges = sum(_INCOMING)
        self.alphas_normal = nn.Parameter(1e-3 * torch.randn(edges, len(self.ops)))
        self.alphas_reduce = nn.Parameter(1e-3 * torch.randn(edges, len(self.ops)))
        self.betas_normal = nn.Parameter(1e-3 * torch.randn(edges)) if edge_normalization else None
        self.betas_reduce = nn.Parameter(1e-3 * torch.randn(edges)) if edge_normalization else None

    def op_parameters(self) -> list[nn.Parameter]:
        """[alphas_normal, alphas_reduce], each (14 edges, 8 ops)."""
        return [self.alphas_normal, self.alphas_reduce]

    def arch_parameters(self) -> list[nn.Parameter]:
        """The alphas and, with edge normalization, the betas of both cells (14 edges each)."""
        betas = [self.betas_normal, self.betas_reduce] if self.betas_normal is not None else []
        return [*self.op_parameters(), *betas]

    def forward(self, x: torch.Tensor, weights: Sequence[torch.Tensor] | None = None,
                active: Active | None = None) -> torch.Tensor:
        """Logits of the mixed network (``weights``: the softmax of the alphas unless given)."""
        normal, reduce = weights or self.mixture()
        active_normal, active_reduce = active or (None, None)
        edge_normal = node_edge_weights(self.betas_normal, _INCOMING)
        edge_reduce = node_edge_weights(self.betas_reduce, _INCOMING)
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            if i in self.reductions:
                out = cell(s0, s1, reduce, active_reduce, edge_reduce, self.auxiliary_weight)
            else:
                out = cell(s0, s1, normal, active_normal, edge_normal, self.auxiliary_weight)
            s0, s1 = s1, out
        return self.classifier(self.pool(s1))

    def genotype(self) -> Architecture:
        """DARTS's derivation: per node the 2 strongest incoming edges, each with its strongest non-none op.

        With edge normalization an edge's strength is its op weight times its normalized edge weight (PC-DARTS).
        """
        cells = []
        for alpha, betas in ((self.alphas_normal, self.betas_normal), (self.alphas_reduce, self.betas_reduce)):
            weights = F.softmax(alpha.detach(), dim=-1)
            if betas is not None:
                weights = weights * torch.cat(node_edge_weights(betas.detach(), _INCOMING))[:, None]
            cells.append(self._parse(weights))
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

    def path(self, choices: Mapping[str, Any]) -> tuple[list[torch.Tensor], list[list[list[int]]]]:
        """Per cell: weight 1 on each (input, op) the flat choices pick (2 per node), and those candidates active."""
        weights, active = [], []
        for cell_type in CELL_TYPES:
            w = torch.zeros(sum(_INCOMING), len(self.ops))
            runs: list[list[int]] = [[] for _ in range(sum(_INCOMING))]
            offset = 0
            for k in range(_STEPS):
                for j in range(2):
                    edge = offset + int(choices[f"{cell_type}_{k}_in{j}"])
                    op = self.ops.index(choices[f"{cell_type}_{k}_op{j}"])
                    w[edge, op] += 1.0
                    if op not in runs[edge]:
                        runs[edge].append(op)
                offset += 2 + k
            weights.append(w)
            active.append(runs)
        return weights, active
