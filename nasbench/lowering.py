"""Lowering: expand an Architecture into a flat, topologically ordered list of layers with resolved args and shapes.

Shape inference, the analytic cost model, the canonical hash, the compiler and the summary all read this form. The
module paths of the layers are named here alone: ``Lowered.copies`` tells which layer holds each node's result in
every copy of every graph, for readers that start from the genome's nodes (drawings, summaries, graph mutations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from nasbench.cell import NETWORK_INPUT, Cell
from nasbench.errors import GenomeError
from nasbench.expr import resolve_float
from nasbench.ops import Cost, Shape, get_op

if TYPE_CHECKING:
    from nasbench.architecture import Architecture

# Far above the largest real network (a few thousand layers); a runaway repeat count fails fast instead of hanging.
MAX_LAYERS = 100_000


@dataclass
class Layer:
    """One op applied to the merge of its inputs, as it appears in the built network."""

    path: str  # dotted module path, unique in the network (``layer1.0.conv1``)
    op: str
    args: dict[str, Any]
    inputs: list[str]  # paths of the producing layers, or ``input``
    merge: str | None
    in_shape: Shape  # after the merge
    out_shape: Shape
    cost: Cost
    source: str  # the genome field that declares the node (``cells.basic.nodes.conv1``)
    aux: bool = False  # only feeds auxiliary outputs


@dataclass(frozen=True)
class GraphCopy:
    """One lowered copy of a graph: the network, or one repeat of a cell instance (nested instances included).

    ``chain`` names the instance nodes that lead to the copy from the network (``()`` for the network, ``("b1",)`` for
    each repeat of instance node ``b1``); ``cell`` is the template (None for the network); ``path`` is the module path
    that the copy's layers sit under (``""`` for the network, ``b1`` or, repeated, ``b1.0``). ``outputs`` maps each
    input and node of the graph to the path of the layer that holds its result (``input`` for the network's input),
    dead nodes included: their layers are not in ``Lowered.layers``.
    """

    chain: tuple[str, ...]
    cell: str | None
    path: str
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Lowered:
    """A lowered architecture: layers in topological order, the main output and any auxiliary outputs.

    ``copies`` lists every copy of every graph in lowering order, the network's first.
    """

    input_shape: Shape
    layers: list[Layer]
    output: str
    aux_outputs: list[str] = field(default_factory=list)
    copies: list[GraphCopy] = field(default_factory=list)

    def layer(self, path: str) -> Layer:
        """The layer at ``path``."""
        return self.by_path[path]

    def shape_at(self, path: str) -> Shape | None:
        """Output shape at ``path`` (a layer or the network's input); None for a layer dropped as dead code."""
        if path == NETWORK_INPUT:
            return self.input_shape
        layer = self.by_path.get(path)
        return None if layer is None else layer.out_shape

    @cached_property
    def by_path(self) -> dict[str, Layer]:
        """Layers by module path (built once; a Lowered is not modified after lowering)."""
        return {layer.path: layer for layer in self.layers}

    @property
    def output_shape(self) -> Shape:
        """Shape of the main output."""
        return self.input_shape if self.output == NETWORK_INPUT else self.layer(self.output).out_shape

    @property
    def params(self) -> int:
        """Trainable parameters of every layer, auxiliary heads included."""
        return sum(layer.cost.params for layer in self.layers)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one inference forward pass (auxiliary heads excluded)."""
        return sum(layer.cost.macs for layer in self.layers if not layer.aux)


def merged_shape(merge: str | None, shapes: Sequence[Shape], sources: Sequence[str], where: str) -> Shape:
    """Shape after merging inputs of ``shapes``; a mismatch is a GenomeError naming ``where``."""
    if merge is None:
        if len(shapes) != 1:
            raise GenomeError(where, f"{len(shapes)} inputs need a merge (add, concat, mean or gate)")
        return shapes[0]
    if merge == "gate" and len(shapes) != 3:
        raise GenomeError(where, f"a gate merges exactly 3 inputs (h, t, x), got {len(shapes)}")
    first = shapes[0]
    if merge == "concat":
        for shape, source in zip(shapes, sources):
            if len(shape) != len(first) or shape[1:] != first[1:]:
                raise GenomeError(where, f"cannot concat {shape} from {source!r} with {first} from {sources[0]!r}"
                                  " (spatial sizes differ)")
        return (sum(shape[0] for shape in shapes), *first[1:])
    for shape, source in zip(shapes, sources):
        if shape != first:
            raise GenomeError(where, f"cannot {merge} shape {shape} from {source!r} and {first} from {sources[0]!r}")
    return first


class _Lowerer:
    def __init__(self, arch: Architecture) -> None:
        self.arch = arch
        self.layers: list[Layer] = []
        self.shapes: dict[str, Shape] = {}
        self.copies: list[GraphCopy] = []

    def lower_graph(self, graph: Cell, where: str, variables: Mapping[str, float],
                    inputs: Sequence[str], copy: GraphCopy) -> dict[str, str]:
        """Emit the layers of ``copy`` of ``graph``, its inputs bound to the paths ``inputs``; map nodes to paths."""
        self.copies.append(copy)
        bound = copy.outputs
        bound.update(zip(graph.inputs, inputs))
        prefix = f"{copy.path}." if copy.path else ""
        for name in graph.topological_nodes():
            attrs = graph.node(name)
            field = f"{where}.nodes.{name}"
            sources = [bound[source] for source in graph.node_inputs(name)]
            path = f"{prefix}{name}"
            if attrs.get("cell") is not None:
                chain = (*copy.chain, name)
                bound[name] = self.lower_instance(attrs, field, variables, sources, path, chain, copy.path)
            else:
                bound[name] = self.lower_op(attrs, field, variables, sources, path, copy.path)
        return bound

    def lower_op(self, attrs: Mapping[str, Any], field: str, variables: Mapping[str, float],
                 sources: list[str], path: str, instance: str) -> str:
        op = get_op(attrs["op"], f"{field}.op")
        args = op.resolve_args(attrs.get("args", {}), variables, f"{field}.args")
        repeat = self.check_repeat(attrs, field)
        merge = attrs.get("merge")
        for i in range(repeat):
            layer_path = f"{path}.{i}" if repeat > 1 else path
            self.add_layer(op.name, args, sources, merge if i == 0 else None, layer_path, field, instance)
            sources = [layer_path]
        return sources[0]

    def check_repeat(self, attrs: Mapping[str, Any], field: str) -> int:
        """The node's repeat count, if the layers it adds (at least one each) stay within ``MAX_LAYERS``."""
        repeat = attrs.get("repeat", 1)
        if len(self.layers) + repeat > MAX_LAYERS:
            raise GenomeError(f"{field}.repeat", f"the network would have more than {MAX_LAYERS:,} layers")
        return repeat

    def add_layer(self, op_name: str, args: dict[str, Any], sources: list[str], merge: str | None,
                  path: str, field: str, instance: str) -> None:
        op = get_op(op_name)
        context = f" (in {instance})" if instance else ""
        if len(self.layers) >= MAX_LAYERS:
            raise GenomeError(field, f"the network would have more than {MAX_LAYERS:,} layers{context}")
        try:
            in_shape = merged_shape(merge, [self.shapes[s] for s in sources], sources, f"{field}.inputs")
            op.check_input(in_shape, f"{field}.op")
            out_shape = tuple(op.output_shape(in_shape, args))
            cost = op.cost(in_shape, args)
        except GenomeError as error:
            if error.field.startswith(field):
                raise GenomeError(error.field, error.message + context) from None
            raise GenomeError(f"{field}.args.{error.field}", error.message + context) from None
        if any(size < 1 for size in out_shape):
            raise GenomeError(field, f"output shape {out_shape} of op {op_name!r} on input {in_shape} "
                              f"has a size below 1{context}")
        self.shapes[path] = out_shape
        self.layers.append(Layer(path, op_name, args, list(sources), merge, in_shape, out_shape, cost, field))

    def lower_instance(self, attrs: Mapping[str, Any], field: str, variables: Mapping[str, float],
                       sources: list[str], path: str, chain: tuple[str, ...], instance: str) -> str:
        template_name = attrs["cell"]
        template = self.arch.cells[template_name]
        where = f"cells.{template_name}"
        scope = self.instance_variables(template, where, attrs.get("vars", {}), variables, f"{field}.vars")
        merge = attrs.get("merge")
        if merge is not None:
            merged = f"{path}.merge"
            self.add_layer("identity", {}, sources, merge, merged, field, instance)
            sources = [merged]
        repeat = self.check_repeat(attrs, field)
        width = len(template.inputs)
        history = list(sources)
        for i in range(repeat):
            copy = GraphCopy(chain, template_name, f"{path}.{i}" if repeat > 1 else path)
            bound = self.lower_graph(template, where, scope, history[-width:], copy)
            history.append(bound[template.output])
        return history[-1]

    @staticmethod
    def instance_variables(template: Cell, where: str, given: Mapping[str, Any],
                           outer: Mapping[str, float], field: str) -> dict[str, float]:
        scope: dict[str, float] = {}
        for key, value in given.items():
            if key not in template.vars:
                declared = ", ".join(template.vars) or "none"
                raise GenomeError(f"{field}.{key}", f"unknown variable of {where} (declared: {declared})")
            scope[key] = resolve_float(value, outer, f"{field}.{key}")
        for key, default in template.vars.items():
            if key in scope:
                continue
            if default is None:
                raise GenomeError(f"{field}.{key}", f"missing variable required by {where}")
            scope[key] = resolve_float(default, scope, f"{where}.vars.{key}")
        return {k: int(v) if float(v).is_integer() else v for k, v in scope.items()}


def lower(arch: Architecture, input_shape: Sequence[int] | None = None) -> Lowered:
    """Expand ``arch`` into layers for ``input_shape`` (default: the architecture's own); validates everything."""
    shape = tuple(int(x) for x in (input_shape or arch.input_shape))
    if len(shape) != 3 or min(shape) < 1:
        raise GenomeError("input_shape", f"expected three positive integers [C, H, W], got {list(shape)}")
    lowerer = _Lowerer(arch)
    lowerer.shapes[NETWORK_INPUT] = shape
    network_vars = _Lowerer.instance_variables(arch.network, "network", {}, {}, "network.vars")
    bound = lowerer.lower_graph(arch.network, "network", network_vars, [NETWORK_INPUT], GraphCopy((), None, ""))
    output, aux_outputs = bound[arch.network.output], [bound[name] for name in arch.network.aux]
    main = _ancestors(lowerer.layers, [output])
    every = _ancestors(lowerer.layers, [output, *aux_outputs])
    # Layers that reach no output are dead code: they are not built, counted or hashed.
    layers = [layer for layer in lowerer.layers if layer.path in every]
    for layer in layers:
        layer.aux = layer.path not in main
    return Lowered(shape, layers, output, aux_outputs, lowerer.copies)


def _ancestors(layers: Sequence[Layer], outputs: Sequence[str]) -> set[str]:
    """Paths of the layers that ``outputs`` depend on, themselves included."""
    needed = set(outputs)
    for layer in reversed(layers):
        if layer.path in needed:
            needed.update(layer.inputs)
    return needed
