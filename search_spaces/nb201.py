"""The NAS-Bench-201 cell space (Dong & Yang, ICLR 2020): 4 nodes, 6 edges, 5 ops, 15,625 cells.

Edge ops become op nodes ``e<i>_<j>`` (edge i -> j) and each intermediate node ``n<j>`` is an identity summing its
incoming edges, exactly as the benchmark's cell computes. A ``none`` edge adds zeros, so it is left out of the genome:
the network computes the same function, and isomorphic cells and cells differing only in edges that reach nothing get
the same canonical hash. A node whose edges are all ``none`` is a ``none`` op (zeros) on the cell input. The 15,625
cells give 11,155 distinct hashes (measured); the benchmark paper counts 6,466 unique topologies because it also
drops the edges leaving an all-zero node, which is exact for pooling and skips but not for a conv, whose BN bias
makes it non-zero. The conversion to and from the benchmark's architecture strings is exact.

The macro skeleton is the benchmark's: a 3x3 conv-BN stem of C=16 channels, three stages of N=5 cells with widths
16/32/64, the residual reduction block (ResNetBasicblock) between stages, then BN-ReLU, global pooling and a linear
layer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.errors import GenomeError, NasbenchError
from search_spaces.base import ChoiceSpace, Variable
from search_spaces.registry import register_space
from search_spaces.supernet import (
    Active,
    MixedOp,
    Supernet,
    _search_op,
    auxiliary_skip,
    check_relaxation,
    genome_module,
    node_edge_weights,
)

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NODES = 4
# Edges (i, j) in the order of the benchmark's strings: node 1's inputs, then node 2's, then node 3's.
EDGES = tuple((i, j) for j in range(1, NODES) for i in range(j))
CELL = "nb201_cell"
RESNET_CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"

# The genome op of each benchmark op (``nor_conv`` is ReLU-conv-BN; pooling keeps padded pixels out of the mean).
GENOME_OPS: dict[str, tuple[str, dict[str, Any]]] = {
    "skip_connect": ("skip_connect", {}),
    "nor_conv_1x1": ("relu_conv_bn", {"out": "C", "kernel": 1}),
    "nor_conv_3x3": ("relu_conv_bn", {"out": "C", "kernel": 3}),
    "avg_pool_3x3": ("avg_pool", {"kernel": 3}),
}


def _edge_name(i: int, j: int) -> str:
    return f"e{i}_{j}"


def _node_name(i: int) -> str:
    return "x" if i == 0 else f"n{i}"


def variable_name(i: int, j: int) -> str:
    """The flat-encoding variable of edge i -> j."""
    return f"edge_{i}_{j}"


def parse_string(text: str) -> dict[tuple[int, int], str]:
    """Edge -> op of a benchmark architecture string; a malformed string raises NasbenchError."""
    groups = text.split("+")
    if len(groups) != NODES - 1:
        raise NasbenchError(f"NAS-Bench-201 string {text!r}: expected {NODES - 1} groups separated by '+'")
    ops: dict[tuple[int, int], str] = {}
    for j, group in enumerate(groups, start=1):
        if not (group.startswith("|") and group.endswith("|")):
            raise NasbenchError(f"NAS-Bench-201 string {text!r}: group {group!r} must start and end with '|'")
        items = group[1:-1].split("|")
        if len(items) != j:
            raise NasbenchError(f"NAS-Bench-201 string {text!r}: node {j} needs {j} inputs, got {len(items)}")
        for item in items:
            op, _, source = item.partition("~")
            if op not in OPS or not source.isdigit() or int(source) >= j or (int(source), j) in ops:
                raise NasbenchError(f"NAS-Bench-201 string {text!r}: bad edge {item!r} into node {j}")
            ops[(int(source), j)] = op
    return ops


def format_string(ops: dict[tuple[int, int], str]) -> str:
    """The benchmark's architecture string of edge -> op."""
    return "+".join("|" + "|".join(f"{ops[(i, j)]}~{i}" for i in range(j)) + "|" for j in range(1, NODES))


def cell_template(ops: dict[tuple[int, int], str]) -> Cell:
    """The cell of edge -> op as a genome template with width variable ``C``."""
    cell = Cell(inputs=["x"], vars={"C": None}, output=_node_name(NODES - 1))
    for j in range(1, NODES):
        edges = []
        for i in range(j):
            if ops[(i, j)] == "none":
                continue
            op, args = GENOME_OPS[ops[(i, j)]]
            edges.append(cell.add(_edge_name(i, j), op, inputs=[_node_name(i)], args=args))
        if edges:
            cell.add(_node_name(j), "identity", inputs=edges, merge="add")
        else:
            cell.add(_node_name(j), "none", inputs=["x"])
    return cell


def read_cell(cell: Cell) -> dict[tuple[int, int], str]:
    """Edge -> op of a cell built by ``cell_template``; anything else raises GenomeError."""
    where = f"cells.{CELL}"
    known = {_node_name(j) for j in range(1, NODES)} | {_edge_name(i, j) for i, j in EDGES}
    for name in cell.nodes():
        if name not in known:
            raise GenomeError(f"{where}.nodes.{name}", "not a NAS-Bench-201 node or edge")
    if cell.inputs != ["x"] or cell.output != _node_name(NODES - 1):
        raise GenomeError(where, "a NAS-Bench-201 cell has input 'x' and output 'n3'")
    ops: dict[tuple[int, int], str] = {}
    for j in range(1, NODES):
        node = _node_name(j)
        if node not in cell.graph or cell.graph.nodes[node].get("role") != "node":
            raise GenomeError(f"{where}.nodes.{node}", "missing node")
        attrs = cell.node(node)
        if attrs.get("op") == "none":
            present: list[str] = []
            if cell.node_inputs(node) != ["x"]:
                raise GenomeError(f"{where}.nodes.{node}.inputs", "a node without edges reads the cell input")
        elif attrs.get("op") == "identity" and attrs.get("merge") == "add":
            present = cell.node_inputs(node)
        else:
            raise GenomeError(f"{where}.nodes.{node}", "a node sums its edges (identity, merge add)")
        for i in range(j):
            edge = _edge_name(i, j)
            if edge not in present:
                if edge in cell.graph:
                    raise GenomeError(f"{where}.nodes.{edge}", f"edge is not an input of {node}")
                ops[(i, j)] = "none"
                continue
            ops[(i, j)] = _edge_op(cell, edge, _node_name(i), f"{where}.nodes.{edge}")
    return ops


def _edge_op(cell: Cell, edge: str, source: str, where: str) -> str:
    attrs = cell.node(edge)
    if cell.node_inputs(edge) != [source]:
        raise GenomeError(f"{where}.inputs", f"expected [{source}]")
    for name, (op, args) in GENOME_OPS.items():
        if attrs.get("op") == op and attrs.get("args", {}) == args and not attrs.get("merge") \
                and attrs.get("repeat", 1) == 1:
            return name
    raise GenomeError(where, f"op {attrs.get('op')!r} with args {attrs.get('args')} is not a NAS-Bench-201 op")


def network(ops: dict[tuple[int, int], str], input_shape: Sequence[int], num_classes: int, C: int = 16,  # noqa: N803
            N: int = 5, name: str | None = None) -> Architecture:  # noqa: N803
    """The benchmark's network (TinyNetwork) over the cell of edge -> op."""
    text = format_string(ops)
    block = Cell(inputs=["x"], vars={"C": None}, output="out")
    block.add("conv_a", "relu_conv_bn", inputs=["x"], args={"out": "C", "stride": 2})
    block.add("conv_b", "relu_conv_bn", inputs=["conv_a"], args={"out": "C"})
    block.add("pool", "avg_pool", inputs=["x"], args={"kernel": 2, "stride": 2, "padding": 0})
    block.add("shortcut", "conv", inputs=["pool"], args={"out": "C", "kernel": 1})
    block.add("out", "identity", inputs=["conv_b", "shortcut"], merge="add")
    net = Cell(inputs=["input"], output="classifier")
    net.add("stem", "conv_bn", inputs=["input"], args={"out": C})
    previous = "stem"
    for stage in range(3):
        width = C * 2**stage
        if stage:
            previous = net.add(f"reduce{stage}", cell="resblock", vars={"C": width}, inputs=[previous])
        previous = net.add(f"stage{stage + 1}", cell=CELL, vars={"C": width}, inputs=[previous], repeat=N)
    net.add("lastact", "bn_relu", inputs=[previous])
    net.add("gap", "global_avg_pool", inputs=["lastact"])
    net.add("classifier", "linear", inputs=["gap"], args={"out": num_classes})
    meta = {"space": "nb201", "nb201": text}
    return Architecture(name or f"nb201{text}", input_shape, net, {CELL: cell_template(ops), "resblock": block}, meta)


@register_space("nb201")
class NB201Space(ChoiceSpace):
    """NAS-Bench-201: one cell of 6 edges with 5 ops each, in the benchmark's 3-stage network.

    ``C`` (stem width) and ``N`` (cells per stage) default to the benchmark's 16 and 5. Sampling draws every edge's op
    uniformly; a mutation gives one edge, drawn uniformly, another op, drawn uniformly (the benchmark's REA mutation),
    redrawn until the network itself changes.
    """

    size_options = ("N", "C")

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10, C: int = 16,  # noqa: N803
                 N: int = 5) -> None:  # noqa: N803
        super().__init__(input_shape, num_classes)
        if C < 1 or N < 1:
            raise NasbenchError(f"nb201: C and N must be positive, got C={C}, N={N}")
        self.C, self.N = int(C), int(N)

    def from_string(self, text: str) -> Architecture:
        """The network of a benchmark architecture string."""
        return self._build(parse_string(text))

    def to_string(self, arch: Architecture) -> str:
        """The benchmark's architecture string of a member."""
        if CELL not in arch.cells:
            raise GenomeError("cells", f"not a NAS-Bench-201 network (no cell {CELL!r})")
        return format_string(read_cell(arch.cells[CELL]))

    def _build(self, ops: dict[tuple[int, int], str]) -> Architecture:
        return network(ops, self.input_shape, self.num_classes, self.C, self.N)

    def enumerate(self) -> Iterator[str]:
        """The architecture strings of all 15,625 cells."""
        for choice in itertools.product(OPS, repeat=len(EDGES)):
            yield format_string(dict(zip(EDGES, choice)))

    def variables(self) -> dict[str, Variable]:
        """One categorical variable per edge, in the string's order, over the 5 ops."""
        return {variable_name(i, j): Variable(OPS) for i, j in EDGES}

    def encode(self, arch: Architecture) -> dict[str, Any]:
        """Edge variable -> op name."""
        ops = parse_string(self.to_string(arch))
        return {variable_name(i, j): ops[(i, j)] for i, j in EDGES}

    def build(self, choices: Mapping[str, Any]) -> Architecture:
        """The network whose edges carry ``choices``."""
        return self._build({(i, j): choices[variable_name(i, j)] for i, j in EDGES})

    def seeds(self) -> list[Architecture]:
        """The ResNet-like cell (two 3x3 convs with a skip connection around them)."""
        arch = self.from_string(RESNET_CELL)
        arch.name = "nb201_resnet"
        return [arch]

    def supernet(self, C: int, layers: int, in_channels: int | None = None,  # noqa: N803
                 num_classes: int | None = None, **relaxation: Any) -> NB201Supernet:
        """The DARTS-style one-shot network over this cell (``layers`` cells per stage).

        It trains on images of ``in_channels`` channels and ``num_classes`` classes (default: the space's own), and
        derives members of this space; ``relaxation`` are ``NB201Supernet``'s options.
        """
        return NB201Supernet(C, layers, num_classes or self.num_classes,
                             in_channels=in_channels or self.input_shape[0], space=self, **relaxation)


_INCOMING = [sum(1 for _, jj in EDGES if jj == j) for j in range(1, NODES)]


class _NB201Cell(nn.Module):
    def __init__(self, C: int, partial: int, auxiliary: bool) -> None:  # noqa: N803
        super().__init__()
        self.edges = nn.ModuleList()
        for _edge in EDGES:
            candidates = [_search_op(*(("none", {}) if name == "none" else GENOME_OPS[name]), C // partial)
                          for name in OPS]
            self.edges.append(MixedOp(candidates, partial=partial,
                                      auxiliary=auxiliary_skip(C, 1) if auxiliary else None))

    def forward(self, x: torch.Tensor, weights: torch.Tensor, active: Sequence[Sequence[int] | None] | None,
                edge_weights: list[torch.Tensor] | None, auxiliary_weight: float) -> torch.Tensor:
        nodes = [x]
        for j in range(1, NODES):
            incoming = [(e, i) for e, (i, jj) in enumerate(EDGES) if jj == j]
            total = 0
            for position, (e, i) in enumerate(incoming):
                out = self.edges[e](nodes[i], weights[e], None if active is None else active[e], auxiliary_weight)
                total = total + (out if edge_weights is None else edge_weights[j - 1][position] * out)
            nodes.append(total)
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
    """NAS-Bench-201's search network: stem, 3 stages of N mixed cells, residual reductions, BN-ReLU, GAP, linear.

    ``partial_channels``, ``edge_normalization`` and ``auxiliary_skip`` are the relaxation options of the module
    ``search_spaces.supernet`` (PC-DARTS, DARTS-).
    """

    def __init__(self, C: int, N: int, num_classes: int, in_channels: int = 3,  # noqa: N803
                 space: NB201Space | None = None, partial_channels: int = 1, edge_normalization: bool = False,
                 auxiliary_skip: bool = False) -> None:
        super().__init__()
        check_relaxation("nb201", C, partial_channels)
        self.space = space or NB201Space(num_classes=num_classes)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.stages = nn.ModuleList()
        width = C
        for stage in range(3):
            blocks: list[nn.Module] = []
            if stage:
                blocks.append(_ResidualReduction(width, width * 2))
                width *= 2
            blocks += [_NB201Cell(width, partial_channels, auxiliary_skip) for _ in range(N)]
            self.stages.append(nn.ModuleList(blocks))
        self.head = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.classifier = nn.Linear(width, num_classes)
        self.alpha = nn.Parameter(1e-3 * torch.randn(len(EDGES), len(OPS)))
        self.betas = nn.Parameter(1e-3 * torch.randn(len(EDGES))) if edge_normalization else None

    def op_parameters(self) -> list[nn.Parameter]:
        """[alpha] of shape (6 edges, 5 ops)."""
        return [self.alpha]

    def arch_parameters(self) -> list[nn.Parameter]:
        """[alpha] and, with edge normalization, its betas (one per edge)."""
        return [self.alpha] + ([self.betas] if self.betas is not None else [])

    def forward(self, x: torch.Tensor, weights: Sequence[torch.Tensor] | None = None,
                active: Active | None = None) -> torch.Tensor:
        """Logits of the mixed network (``weights``: the softmax of alpha unless given)."""
        mixed = (weights or self.mixture())[0]
        edge_active = None if active is None else active[0]
        edge_weights = node_edge_weights(self.betas, _INCOMING)
        x = self.stem(x)
        for stage in self.stages:
            for block in stage:
                x = (block(x, mixed, edge_active, edge_weights, self.auxiliary_weight)
                     if isinstance(block, _NB201Cell) else block(x))
        return self.classifier(self.head(x))

    def genotype(self) -> Architecture:
        """The strongest op on every edge (NAS-Bench-201's derivation, ``none`` included)."""
        best = self.alpha.detach().argmax(dim=-1).tolist()
        return self.space.decode({variable_name(i, j): OPS[k] for (i, j), k in zip(EDGES, best)})

    def path(self, choices: Mapping[str, Any]) -> tuple[list[torch.Tensor], list[list[list[int]]]]:
        """One-hot op weights per edge and the one candidate that runs on each."""
        indices = [OPS.index(choices[variable_name(i, j)]) for i, j in EDGES]
        weights = F.one_hot(torch.tensor(indices), len(OPS)).float()
        return [weights], [[[k] for k in indices]]
