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
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch import nn

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.errors import GenomeError, NasbenchError
from search_spaces.base import Choices, SearchSpace
from search_spaces.registry import register_space

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
class NB201Space(SearchSpace):
    """NAS-Bench-201: one cell of 6 edges with 5 ops each, in the benchmark's 3-stage network.

    ``C`` (stem width) and ``N`` (cells per stage) default to the benchmark's 16 and 5.
    """

    name = "nb201"

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

    def size(self) -> int:
        """5 ** 6 = 15,625 cells."""
        return len(OPS) ** len(EDGES)

    def variables(self) -> dict[str, list[Any]]:
        """One categorical variable per edge, in the string's order, over the 5 ops."""
        return {variable_name(i, j): list(OPS) for i, j in EDGES}

    def encode(self, arch: Architecture) -> dict[str, Any]:
        """Edge variable -> op name."""
        ops = parse_string(self.to_string(arch))
        return {variable_name(i, j): ops[(i, j)] for i, j in EDGES}

    def decode(self, choices: Choices) -> Architecture:
        """The network whose edges carry ``choices``; a missing or unknown choice raises NasbenchError."""
        ops = {}
        for i, j in EDGES:
            key = variable_name(i, j)
            if choices.get(key) not in OPS:
                raise NasbenchError(f"nb201: variable {key} must be one of {', '.join(OPS)}, got {choices.get(key)!r}")
            ops[(i, j)] = choices[key]
        return self._build(ops)

    def sample(self, rng: np.random.Generator) -> Architecture:
        """Every edge op uniformly at random."""
        return self._build({edge: OPS[int(rng.integers(len(OPS)))] for edge in EDGES})

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """One edge gets another op (NAS-Bench-201's REA mutation), redrawn until the network itself changes."""
        ops = parse_string(self.to_string(arch))
        parent = arch.hash()
        for _ in range(64):
            child = dict(ops)
            edge = EDGES[int(rng.integers(len(EDGES)))]
            child[edge] = [op for op in OPS if op != ops[edge]][int(rng.integers(len(OPS) - 1))]
            mutant = self._build(child)
            if mutant.hash() != parent:
                return mutant
        # Edge 0 -> 3 always reaches the output, so changing it always changes the network.
        child = dict(ops)
        child[(0, 3)] = "nor_conv_3x3" if ops[(0, 3)] != "nor_conv_3x3" else "nor_conv_1x1"
        return self._build(child)

    def contains(self, arch: Architecture) -> bool:
        """Whether ``arch`` is the benchmark network (at this space's C, N and classes) of some cell."""
        try:
            expected = self.from_string(self.to_string(arch))
            return tuple(arch.input_shape) == self.input_shape and arch.hash() == expected.hash()
        except (GenomeError, NasbenchError):
            return False

    def seeds(self) -> list[Architecture]:
        """The ResNet-like cell (two 3x3 convs with a skip connection around them)."""
        arch = self.from_string(RESNET_CELL)
        arch.name = "nb201_resnet"
        return [arch]

    def supernet(self, C: int, layers: int) -> nn.Module:  # noqa: N803
        """The DARTS-style one-shot network over this cell (``layers`` cells per stage)."""
        from search_spaces.supernet import NB201Supernet

        return NB201Supernet(C, layers, self.num_classes, in_channels=self.input_shape[0], space=self)
