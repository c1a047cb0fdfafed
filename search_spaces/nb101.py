"""The NAS-Bench-101 cell space (Ying et al., ICML 2019): DAGs of at most 7 vertices and 9 edges over 3 ops.

A cell is an upper-triangular adjacency matrix over vertices ``input, v1, ..., output`` and an op per interior vertex
(conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3). It is built with the benchmark's semantics (``model_builder.py``):

- the output's C channels are split among the vertices feeding the output (C // d each, the remainder going one
  channel at a time to the first ones); other vertices take the largest width among their successors;
- a vertex sums its inputs, each truncated to its width (a channel slice), plus a 1x1 conv-BN-ReLU projection of the
  cell input where the input feeds it, then applies its op;
- the output concatenates the vertices feeding it, plus (summed) a 1x1 projection of the input where input -> output.

Vertices on no input-to-output path are pruned, as the benchmark does, and the vertices are put in a canonical order
(the smallest encoding over all topological relabellings) before the genome is built, so isomorphic cells give the
same genome and the same canonical hash. The network is the benchmark's: a 3x3 conv-BN-ReLU stem of 128 channels,
3 stacks of 3 cells, 2x2 max-pool reductions doubling the width between stacks, global pooling and a linear layer.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.errors import GenomeError, NasbenchError
from nasbench.ops import get_op
from search_spaces.base import ChoiceSpace, Variable
from search_spaces.registry import register_space

OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
MAX_VERTICES = 7
MAX_EDGES = 9
CELL = "nb101_cell"
_EDGES = tuple((i, j) for j in range(MAX_VERTICES) for i in range(j))  # the 21 upper-triangular positions
_GENOME_OPS: dict[str, tuple[str, dict[str, Any]]] = {
    "conv3x3-bn-relu": ("conv_bn_relu", {"kernel": 3}),
    "conv1x1-bn-relu": ("conv_bn_relu", {"kernel": 1}),
    "maxpool3x3": ("max_pool", {"kernel": 3}),
}


@dataclass(frozen=True)
class Spec:
    """A cell: adjacency ``matrix`` (tuple of rows) and ``ops`` of the interior vertices (input/output left out)."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    @property
    def vertices(self) -> int:
        """Number of vertices, input and output included."""
        return len(self.matrix)

    def edges(self) -> int:
        """Number of edges."""
        return sum(map(sum, self.matrix))


def _check_shape(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> None:
    n = len(matrix)
    if not 2 <= n <= MAX_VERTICES or any(len(row) != n for row in matrix):
        raise NasbenchError(f"nb101: the matrix must be square with 2 to {MAX_VERTICES} vertices")
    if len(ops) != n - 2:
        raise NasbenchError(f"nb101: {n - 2} interior ops expected, got {len(ops)}")
    for op in ops:
        if op not in OPS:
            raise NasbenchError(f"nb101: unknown op {op!r} (ops: {', '.join(OPS)})")
    for i in range(n):
        for j in range(n):
            if matrix[i][j] not in (0, 1) or (matrix[i][j] and j <= i):
                raise NasbenchError("nb101: the matrix must be upper-triangular with 0/1 entries")


def prune(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> Spec:
    """The benchmark's pruning: drop vertices on no input-to-output path; NasbenchError if the cell is invalid."""
    _check_shape(matrix, ops)
    n = len(matrix)
    if sum(map(sum, matrix)) > MAX_EDGES:
        raise NasbenchError(f"nb101: a cell has at most {MAX_EDGES} edges, got {sum(map(sum, matrix))}")
    forward, backward = {0}, {n - 1}
    for j in range(1, n):
        if any(matrix[i][j] and i in forward for i in range(j)):
            forward.add(j)
    for i in range(n - 2, -1, -1):
        if any(matrix[i][j] and j in backward for j in range(i + 1, n)):
            backward.add(i)
    keep = sorted(forward & backward)
    if 0 not in keep or n - 1 not in keep:
        raise NasbenchError("nb101: the output is not reachable from the input")
    pruned = tuple(tuple(matrix[i][j] for j in keep) for i in keep)
    return Spec(pruned, tuple(ops[v - 1] for v in keep[1:-1]))


def canonical(spec: Spec) -> Spec:
    """The smallest (matrix, ops) over all topological relabellings of the interior vertices."""
    n = spec.vertices
    best: tuple[Any, ...] | None = None
    result = spec
    for order in itertools.permutations(range(1, n - 1)):
        perm = (0, *order, n - 1)
        matrix = tuple(tuple(spec.matrix[perm[i]][perm[j]] for j in range(n)) for i in range(n))
        if any(matrix[i][j] for i in range(n) for j in range(i + 1)):
            continue
        ops = tuple(spec.ops[v - 1] for v in order)
        key = (tuple(1 - bit for row in matrix for bit in row), tuple(OPS.index(op) for op in ops))
        if best is None or key < best:
            best, result = key, Spec(matrix, ops)
    return result


def vertex_channels(matrix: Sequence[Sequence[int]]) -> list[str]:
    """Width expressions (over the cell's C) of every vertex, as the benchmark's ``compute_vertex_channels``."""
    n = len(matrix)
    channels = [""] * n
    channels[-1] = "C"  # the input's width never enters: projections and slices read the target's width
    if n == 2:
        return channels
    feeding = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    d = len(feeding)
    for rank, v in enumerate(feeding):
        channels[v] = "C" if d == 1 else f"C // {d} + min(1, max(0, C % {d} - {rank}))"
    for v in range(n - 2, 0, -1):
        if not matrix[v][n - 1]:
            successors = sorted({channels[t] for t in range(v + 1, n - 1) if matrix[v][t]})
            channels[v] = successors[0] if len(successors) == 1 else f"max({', '.join(successors)})"
    return channels


def cell_template(spec: Spec) -> Cell:
    """The genome template of a pruned, canonical cell, with width variable C."""
    n, m = spec.vertices, spec.matrix
    cell = Cell(inputs=["x"], vars={"C": None}, output="out")
    channels = vertex_channels(m)
    for t in range(1, n - 1):
        sources = []
        for s in range(1, t):
            if m[s][t]:
                if channels[s] == channels[t]:
                    sources.append(f"v{s}")
                else:
                    sources.append(cell.add(f"v{s}_to_v{t}", "channel_slice", inputs=[f"v{s}"],
                                            args={"start": 0, "stop": channels[t]}))
        if m[0][t]:
            sources.append(cell.add(f"proj{t}", "conv_bn_relu", inputs=["x"], args={"out": channels[t], "kernel": 1}))
        op, args = _GENOME_OPS[spec.ops[t - 1]]
        args = {**args, "out": channels[t]} if "out" in get_op(op).args else dict(args)
        cell.add(f"v{t}", op, inputs=sources, args=args, merge="add" if len(sources) > 1 else None)
    feeding = [f"v{v}" for v in range(1, n - 1) if m[v][n - 1]]
    if not feeding:
        cell.add("out", "conv_bn_relu", inputs=["x"], args={"out": "C", "kernel": 1})
        return cell
    concat = feeding[0] if len(feeding) == 1 else cell.add("concat", "identity", inputs=feeding, merge="concat")
    if m[0][n - 1]:
        proj = cell.add("proj_out", "conv_bn_relu", inputs=["x"], args={"out": "C", "kernel": 1})
        cell.add("out", "identity", inputs=[concat, proj], merge="add")
    else:
        cell.output = concat
    return cell


def read_template(cell: Cell) -> Spec:
    """The cell spec of a template built by ``cell_template``; another form raises GenomeError."""
    where = f"cells.{CELL}"
    interior = 0
    while f"v{interior + 1}" in cell.graph:
        interior += 1
    n = interior + 2
    matrix = [[0] * n for _ in range(n)]
    ops = []
    names = {op_args: name for name, op_args in
             ((name, (op, tuple(sorted(args.items())))) for name, (op, args) in _GENOME_OPS.items())}

    def vertex_of(source: str, target: int) -> int:
        if source == f"proj{target}":
            return 0
        if source.startswith("v") and source.endswith(f"_to_v{target}"):
            source = source[: -len(f"_to_v{target}")]
        if source.startswith("v") and source[1:].isdigit() and int(source[1:]) < max(target, n - 1) + 1:
            return int(source[1:])
        raise GenomeError(f"{where}.nodes", f"unexpected input {source!r} of vertex {target}")

    for t in range(1, n - 1):
        attrs = cell.node(f"v{t}")
        args = {k: v for k, v in attrs.get("args", {}).items() if k != "out"}
        key = (attrs.get("op"), tuple(sorted(args.items())))
        if key not in names:
            raise GenomeError(f"{where}.nodes.v{t}", "not a NAS-Bench-101 op")
        ops.append(names[key])
        for source in cell.node_inputs(f"v{t}"):
            matrix[vertex_of(source, t)][t] = 1
    output = cell.output
    if output == "out" and "proj_out" not in cell.graph:  # input -> output only
        matrix[0][n - 1] = 1
    else:
        heads = cell.node_inputs(output) if output == "out" else [output]
        for head in heads:
            if head == "proj_out":
                matrix[0][n - 1] = 1
            else:
                for source in cell.node_inputs(head) if head == "concat" else [head]:
                    matrix[vertex_of(source, n - 1)][n - 1] = 1
    return Spec(tuple(map(tuple, matrix)), tuple(ops))


def network(spec: Spec, input_shape: Sequence[int], num_classes: int, C: int = 128, stacks: int = 3,  # noqa: N803
            cells_per_stack: int = 3) -> Architecture:
    """The benchmark's network over a pruned, canonical cell."""
    net = Cell(inputs=["input"], output="classifier")
    net.add("stem", "conv_bn_relu", inputs=["input"], args={"out": C, "kernel": 3})
    previous, width = "stem", C
    for stack in range(stacks):
        if stack:
            previous = net.add(f"downsample{stack}", "max_pool", inputs=[previous],
                               args={"kernel": 2, "stride": 2, "padding": 0, "ceil_mode": True})
            width *= 2
        previous = net.add(f"stack{stack + 1}", cell=CELL, vars={"C": width}, inputs=[previous],
                           repeat=cells_per_stack)
    net.add("gap", "global_avg_pool", inputs=[previous])
    net.add("classifier", "linear", inputs=["gap"], args={"out": num_classes})
    template = cell_template(spec)
    meta = {"space": "nb101", "nb101": {"matrix": [list(row) for row in spec.matrix], "ops": list(spec.ops)}}
    return Architecture("nb101_cell", input_shape, net, {CELL: template}, meta)


def variable_name(i: int, j: int) -> str:
    """The flat-encoding variable of edge i -> j of the 7-vertex matrix."""
    return f"edge_{i}_{j}"


def _embed(spec: Spec) -> dict[str, Any]:
    # A pruned cell of n vertices sits in the first n - 1 rows; its output moves to vertex 6. The padding vertices
    # have no edges, so decoding prunes them away again.
    n = spec.vertices
    position = [*range(n - 1), MAX_VERTICES - 1]
    matrix = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
    for i in range(n):
        for j in range(n):
            matrix[position[i]][position[j]] = spec.matrix[i][j]
    ops = list(spec.ops) + [OPS[0]] * (MAX_VERTICES - n)
    choices: dict[str, Any] = {variable_name(i, j): matrix[i][j] for i, j in _EDGES}
    choices.update({f"op_{v}": ops[v - 1] for v in range(1, MAX_VERTICES - 1)})
    return choices


@register_space("nb101")
class NB101Space(ChoiceSpace):
    """NAS-Bench-101: one cell (<= 7 vertices, <= 9 edges, 3 ops) in the benchmark's 3 x 3-cell network.

    Flat view: the 21 upper-triangular edge bits ``edge_i_j`` and the ops ``op_1`` .. ``op_5`` of the interior
    vertices, all categorical. An encoding whose output is unreachable or that has more than 9 edges is not a cell:
    ``decode`` raises NasbenchError for it, and sampling redraws it (the benchmark's random sampling). A member's
    encoding is its canonical cell, so a mutant may re-encode far from its parent's encoding. ``C`` is the stem width
    (128), ``stacks`` and ``cells_per_stack`` the skeleton (3 and 3).
    """

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10, C: int = 128,  # noqa: N803
                 stacks: int = 3, cells_per_stack: int = 3) -> None:
        super().__init__(input_shape, num_classes)
        if min(C, stacks, cells_per_stack) < 1:
            raise NasbenchError("nb101: C, stacks and cells_per_stack must be positive")
        self.C, self.stacks, self.cells_per_stack = int(C), int(stacks), int(cells_per_stack)

    def from_spec(self, matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> Architecture:
        """The network of a cell given as an adjacency matrix and interior ops (pruned and canonicalised)."""
        return network(canonical(prune(matrix, ops)), self.input_shape, self.num_classes, self.C, self.stacks,
                       self.cells_per_stack)

    def spec(self, arch: Architecture) -> Spec:
        """The (pruned, canonical) cell of a member; GenomeError or NasbenchError for another network."""
        if CELL not in arch.cells:
            raise GenomeError("cells", f"not a NAS-Bench-101 network (no cell {CELL!r})")
        spec = read_template(arch.cells[CELL])
        _check_shape(spec.matrix, spec.ops)
        return spec

    def size(self) -> int:
        """423,624: the benchmark's count of cells after removing isomorphic duplicates."""
        return 423_624

    def variables(self) -> dict[str, Variable]:
        """21 edge bits and 5 vertex ops."""
        variables = {variable_name(i, j): Variable((0, 1)) for i, j in _EDGES}
        variables.update({f"op_{v}": Variable(OPS) for v in range(1, MAX_VERTICES - 1)})
        return variables

    def encode(self, arch: Architecture) -> dict[str, Any]:
        """The flat choices of a member (its canonical cell in the first vertices)."""
        return _embed(self.spec(arch))

    def build(self, choices: Mapping[str, Any]) -> Architecture:
        """The member of the flat choices; NasbenchError for an invalid cell."""
        matrix = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
        for i, j in _EDGES:
            matrix[i][j] = int(choices[variable_name(i, j)])
        return self.from_spec(matrix, [choices[f"op_{v}"] for v in range(1, MAX_VERTICES - 1)])

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """One edge flips or one vertex op changes (``ChoiceSpace.mutate``), except from the input -> output cell.

        No single change turns that cell into another valid one (an added edge only adds a dangling vertex, dropping
        the edge leaves the output unreachable), so it grows a vertex with a random op on a second input -> output
        path instead.
        """
        if self.spec(arch).vertices > 2:
            return super().mutate(arch, rng)
        op = OPS[int(rng.integers(len(OPS)))]
        child = self.from_spec(((0, 1, 1), (0, 0, 1), (0, 0, 0)), (op,))
        return self.as_mutant(child, arch.hash(), f"new vertex {op} on a path input -> output")

    def seeds(self) -> list[Architecture]:
        """The Inception-like cell of the benchmark's README (1x1, 3x3, two 3x3 in series, 3x3 max-pool branches)."""
        arch = self.from_spec(INCEPTION_LIKE[0], INCEPTION_LIKE[1])
        arch.name = "nb101_inception_like"
        return [arch]


INCEPTION_LIKE = (
    ((0, 1, 1, 1, 0, 1, 0), (0, 0, 0, 0, 0, 0, 1), (0, 0, 0, 0, 0, 0, 1), (0, 0, 0, 0, 1, 0, 0),
     (0, 0, 0, 0, 0, 0, 1), (0, 0, 0, 0, 0, 0, 1), (0, 0, 0, 0, 0, 0, 0)),
    ("conv1x1-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu", "maxpool3x3"),
)
