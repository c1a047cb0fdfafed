"""NASNet/DARTS-style networks from a normal and a reduction cell genotype (shared by the darts/nasnet spaces and zoo).

A cell template takes the two previous cells' outputs ``s0``, ``s1``. Both are first brought to the cell's width C by
``fact_reduce`` (ReLU-conv1x1-BN, or DARTS's FactorizedReduce with stride ``r = 2`` when ``s0`` comes from before a
reduction cell). Each block applies one op to each of its two chosen states and combines them (add, or concat); in a
reduction cell the ops reading the cell inputs have stride 2. A block operand whose output does not have C channels
(a pooling or skip on a concat-combined state) is projected by ReLU-conv1x1-BN, as NASNet's implementation does. The
cell outputs the concatenation of its ``concat`` states.

The CIFAR skeleton is DARTS's NetworkCIFAR: a 3x3 conv-BN stem of ``stem_multiplier * C`` channels, ``layers`` cells
with reduction cells (doubling C) at 1/3 and 2/3 of the depth, global average pooling and a linear classifier; an
optional auxiliary head (DARTS's AuxiliaryHeadCIFAR) reads the second reduction cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.errors import GenomeError
from nasbench.ops import get_op
from search_spaces.genotypes import CellGenotype, Genotype


def _op(name: str, args: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return name, dict(args)


# Cell op name -> (genome op, args); "C" is the cell's width. Every cell op takes a stride (2 on a reduction cell's
# inputs).
CELL_OPS: dict[str, tuple[str, dict[str, Any]]] = {
    "none": _op("none", {}),
    "skip_connect": _op("skip_connect", {}),
    "avg_pool_3x3": _op("avg_pool", {"kernel": 3}),
    "max_pool_3x3": _op("max_pool", {"kernel": 3}),
    "max_pool_5x5": _op("max_pool", {"kernel": 5}),
    "max_pool_7x7": _op("max_pool", {"kernel": 7}),
    "sep_conv_3x3": _op("sep_conv", {"out": "C", "kernel": 3}),
    "sep_conv_5x5": _op("sep_conv", {"out": "C", "kernel": 5}),
    "sep_conv_7x7": _op("sep_conv", {"out": "C", "kernel": 7}),
    "dil_conv_3x3": _op("dil_conv", {"out": "C", "kernel": 3}),
    "dil_conv_5x5": _op("dil_conv", {"out": "C", "kernel": 5}),
    "conv_3x1_1x3": _op("conv_1xk_kx1", {"out": "C", "kernel": 3}),
    "conv_7x1_1x7": _op("conv_1xk_kx1", {"out": "C", "kernel": 7}),
    "conv_1x1": _op("relu_conv_bn", {"out": "C", "kernel": 1}),
    "conv_3x3": _op("relu_conv_bn", {"out": "C", "kernel": 3}),
}


def state_name(index: int) -> str:
    """Node name of state ``index``: the preprocessed inputs p0, p1, then the blocks n0, n1, ..."""
    return f"p{index}" if index < 2 else f"n{index - 2}"


def operand_name(block: int, operand: int) -> str:
    """Node name of a block's operand op."""
    return f"b{block}_{operand}"


def op_node(op: str, strided: bool) -> tuple[str, dict[str, Any]]:
    """The genome op and args of cell op ``op`` (stride 2 where ``strided``)."""
    if op not in CELL_OPS:
        raise GenomeError("op", f"unknown cell op {op!r} (known: {', '.join(CELL_OPS)})")
    name, args = CELL_OPS[op]
    args = dict(args)
    if strided:
        args["stride"] = 2
    return name, args


def cell_template(cell: CellGenotype, reduction: bool) -> Cell:
    """The genome template of one cell genotype, with variables C (width) and r (stride of s0's preprocessing)."""
    template = Cell(inputs=["s0", "s1"], vars={"C": None, "r": 1}, output="out")
    template.add("p0", "fact_reduce", inputs=["s0"], args={"out": "C", "stride": "r"})
    template.add("p1", "fact_reduce", inputs=["s1"], args={"out": "C", "stride": 1})
    widths = [1, 1]  # channels of each state, in multiples of C
    for block, combine in enumerate(cell.combines()):
        operands = []
        for operand in range(2):
            op, source = cell.ops[2 * block + operand]
            if not 0 <= source < len(widths):
                raise GenomeError(f"block {block}", f"input {source} is not an earlier state (0..{len(widths) - 1})")
            name, args = op_node(op, strided=reduction and source < 2)
            node = template.add(operand_name(block, operand), name, inputs=[state_name(source)], args=args)
            # Every other op outputs C; one that keeps its input's width needs a projection on a wider state.
            if get_op(name).preserves_width and widths[source] != 1:
                node = template.add(f"{node}_proj", "relu_conv_bn", inputs=[node], args={"out": "C", "kernel": 1})
            operands.append(node)
        if combine not in ("add", "concat"):
            raise GenomeError(f"block {block}", f"combine must be add or concat, got {combine!r}")
        template.add(state_name(block + 2), "identity", inputs=operands, merge=combine)
        widths.append(1 if combine == "add" else 2)
    if not cell.concat:
        raise GenomeError("concat", "a cell concatenates at least one state")
    template.add("out", "identity", inputs=[state_name(i) for i in cell.concat], merge="concat")
    return template


def reduction_layers(layers: int) -> tuple[int, int]:
    """Indices of the two reduction cells in a network of ``layers`` cells (DARTS: 1/3 and 2/3 of the depth)."""
    return layers // 3, 2 * layers // 3


def cell_network(name: str, genotype: Genotype, input_shape: Sequence[int], num_classes: int, C: int,  # noqa: N803
                 layers: int, stem_multiplier: int = 3, auxiliary: bool = False,
                 meta: Mapping[str, Any] | None = None) -> Architecture:
    """DARTS's NetworkCIFAR over ``genotype``: stem, ``layers`` cells, two reduction cells, pooling and classifier."""
    if layers < 3 or C < 1:
        raise GenomeError("layers", f"a cell network needs C >= 1 and at least 3 cells, got C={C}, layers={layers}")
    net = Cell(inputs=["input"], output="classifier")
    net.add("stem", "conv_bn", inputs=["input"], args={"out": stem_multiplier * C})
    # The first cell reads the stem twice; a node lists an input only once, so the second read goes through a copy.
    net.add("stem_copy", "identity", inputs=["stem"])
    previous, current = "stem", "stem_copy"
    width, reduced_before = C, False
    reductions = reduction_layers(layers)
    aux_source = None
    for i in range(layers):
        reduction = i in reductions
        width = width * 2 if reduction else width
        node = net.add(f"cell{i}", cell="reduce" if reduction else "normal",
                       vars={"C": width, "r": 2 if reduced_before else 1}, inputs=[previous, current])
        previous, current, reduced_before = current, node, reduction
        if i == reductions[1]:
            aux_source = node
    net.add("gap", "global_avg_pool", inputs=[current])
    net.add("classifier", "linear", inputs=["gap"], args={"out": num_classes})
    if auxiliary and aux_source is not None:
        _auxiliary_head(net, aux_source, num_classes)
    cells = {"normal": cell_template(genotype.normal, False), "reduce": cell_template(genotype.reduce, True)}
    return Architecture(name, input_shape, net, cells, dict(meta or {}))


def _auxiliary_head(net: Cell, source: str, num_classes: int) -> None:
    # DARTS's AuxiliaryHeadCIFAR (assumes an 8x8 input there): ReLU, avgpool 5/3, 1x1 conv 128, 2x2 conv 768, linear.
    net.add("aux_relu", "relu", inputs=[source])
    net.add("aux_pool", "avg_pool", inputs=["aux_relu"], args={"kernel": 5, "stride": 3, "padding": 0})
    net.add("aux_conv1", "conv_bn_relu", inputs=["aux_pool"], args={"out": 128, "kernel": 1})
    net.add("aux_conv2", "conv_bn_relu", inputs=["aux_conv1"], args={"out": 768, "kernel": 2, "padding": 0})
    net.add("aux_classifier", "linear", inputs=["aux_conv2"], args={"out": num_classes})
    net.aux.append("aux_classifier")


def _op_names() -> dict[tuple[str, tuple[tuple[str, Any], ...]], str]:
    return {(op, tuple(sorted(args.items()))): name for name, (op, args) in CELL_OPS.items()}


def read_template(template: Cell, where: str) -> CellGenotype:
    """The genotype of a template built by ``cell_template``; a template of another form raises GenomeError."""
    names = _op_names()
    if template.inputs != ["s0", "s1"] or template.output != "out":
        raise GenomeError(where, "a cell template reads s0, s1 and outputs 'out'")
    states = {state_name(0): 0, state_name(1): 1}
    ops: list[tuple[str, int]] = []
    combine: list[str] = []
    block = 0
    while state_name(block + 2) in template.graph:
        node = state_name(block + 2)
        attrs = template.node(node)
        operands = template.node_inputs(node)
        if attrs.get("op") != "identity" or attrs.get("merge") not in ("add", "concat") or len(operands) != 2:
            raise GenomeError(f"{where}.nodes.{node}", "a block combines two operands (identity, add or concat)")
        for operand in operands:
            if operand.endswith("_proj"):
                (operand,) = template.node_inputs(operand)
            op_attrs = template.node(operand)
            args = {k: v for k, v in op_attrs.get("args", {}).items() if k != "stride"}
            key = (op_attrs.get("op"), tuple(sorted(args.items())))
            sources = template.node_inputs(operand)
            if key not in names or len(sources) != 1 or sources[0] not in states:
                raise GenomeError(f"{where}.nodes.{operand}", "not a cell op on an earlier state")
            ops.append((names[key], states[sources[0]]))
        combine.append(attrs["merge"])
        states[node] = block + 2
        block += 1
    concat = [states.get(name, -1) for name in template.node_inputs("out")]
    if not ops or -1 in concat:
        raise GenomeError(f"{where}.nodes.out", "the cell output concatenates cell states")
    return CellGenotype(tuple(ops), tuple(concat), None if set(combine) == {"add"} else tuple(combine))


def read_genotype(arch: Architecture) -> Genotype:
    """The normal and reduction cell genotypes of a network built by ``cell_network``."""
    for name in ("normal", "reduce"):
        if name not in arch.cells:
            raise GenomeError("cells", f"not a NASNet/DARTS-style cell network (no cell {name!r})")
    return Genotype(read_template(arch.cells["normal"], "cells.normal"),
                    read_template(arch.cells["reduce"], "cells.reduce"))
