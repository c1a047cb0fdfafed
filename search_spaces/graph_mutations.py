"""Graph edits of the ``graph`` space: the mutations of the seeds' evolutionary search on networkx genomes.

Each mutation edits one *site*: the network graph, or the template of one cell instance. A template shared by several
instance nodes is first copied to a private template (copy on write), so an edit inside a block changes that block
only (with its repeats), as a mutation of the flattened network would. Mutations see the shape of every node of the
site (from its first copy in the lowered network, ``Lowered.copies``) and return a one-line description, or None where
they do not apply; validity of the whole network is checked by the space afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from nasbench.architecture import Architecture
from nasbench.cell import NETWORK_INPUT, Cell
from nasbench.lowering import Lowered
from nasbench.ops import Shape, get_op, ops_where
from nasbench.registry import Registry

# Layer types that a type change, a new layer or a new branch draws from, with their kernel sizes.
LAYER_TYPES: dict[str, tuple[int, ...]] = {
    "conv_bn_relu": (1, 3, 5, 7),
    "sep_conv": (3, 5, 7),
    "dil_conv": (3, 5),
    "dw_sep_conv": (3, 5, 7),
    "conv_1xk_kx1": (3, 5, 7),
    "max_pool": (3, 5),
    "avg_pool": (3, 5),
}
WIDTH_FACTORS = (0.5, 0.75, 1.5, 2.0)
STEM_WIDTH = 16
MIN_WIDTH = 4  # narrower new layers and branches carry too little to be worth an evaluation


@dataclass
class Site:
    """One graph that a mutation edits: its key (``network`` or a template name), the cell and its node shapes."""

    key: str
    cell: Cell
    shapes: dict[str, Shape]

    @property
    def network(self) -> bool:
        """Whether the site is the network graph itself."""
        return self.key == "network"


Mutation = Callable[[Site, np.random.Generator], "str | None"]
MUTATIONS: Registry[Mutation] = Registry("graph mutation")


# ---------------------------------------------------------------------------------------------------------- sites


def site_chains(arch: Architecture) -> list[tuple[str, ...]]:
    """Every editable site as the chain of instance nodes that leads to it (``()`` is the network)."""
    chains: list[tuple[str, ...]] = [()]

    def visit(cell: Cell, chain: tuple[str, ...]) -> None:
        for name in cell.nodes():
            template = cell.node(name).get("cell")
            if template is not None and template in arch.cells:
                chains.append((*chain, name))
                visit(arch.cells[template], (*chain, name))

    visit(arch.network, ())
    return chains


def op_count(arch: Architecture, chain: Sequence[str]) -> int:
    """Number of nodes in the graph at the end of ``chain`` (weights the choice of site)."""
    return len(_resolve(arch, chain)[1].nodes())


def _resolve(arch: Architecture, chain: Sequence[str]) -> tuple[str, Cell]:
    key, cell = "network", arch.network
    for node in chain:
        key = cell.node(node)["cell"]
        cell = arch.cells[key]
    return key, cell


def privatize(arch: Architecture, chain: Sequence[str]) -> tuple[str, Cell]:
    """Give every template along ``chain`` to its instance alone (copy on write); return the site's key and cell."""
    key, cell = "network", arch.network
    for node in chain:
        template = cell.node(node)["cell"]
        if _uses(arch, template) > 1:
            copy_name = _fresh_name(template, arch.cells)
            arch.cells[copy_name] = arch.cells[template].copy()
            cell.node(node)["cell"] = copy_name
            template = copy_name
        key, cell = template, arch.cells[template]
    return key, cell


def _uses(arch: Architecture, template: str) -> int:
    return sum(1 for _, graph in arch.graphs() for n in graph.nodes() if graph.node(n).get("cell") == template)


def drop_unused_templates(arch: Architecture) -> None:
    """Remove templates that no instance reachable from the network uses any more."""
    used: set[str] = set()
    pending = [arch.network]
    while pending:
        graph = pending.pop()
        for name in graph.nodes():
            template = graph.node(name).get("cell")
            if template is not None and template not in used and template in arch.cells:
                used.add(template)
                pending.append(arch.cells[template])
    for name in [n for n in arch.cells if n not in used]:
        del arch.cells[name]


def node_shapes(lowered: Lowered) -> dict[str, dict[str, Shape]]:
    """Output shape of every live node (inputs included) of every graph (by site key), from its first copy."""
    shapes: dict[str, dict[str, Shape]] = {}
    for copy in lowered.copies:
        record = shapes.setdefault(copy.cell or "network", {})
        for name, path in copy.outputs.items():
            shape = lowered.shape_at(path)
            if name not in record and shape is not None:
                record[name] = shape
    return shapes


# -------------------------------------------------------------------------------------------------- graph helpers


def _fresh_name(stem: str, taken: Any) -> str:
    i = 1
    while f"{stem}_{i}" in taken:
        i += 1
    return f"{stem}_{i}"


def _consumers(cell: Cell, name: str) -> list[str]:
    return [target for _, target in cell.graph.out_edges(name)]


def _redirect(cell: Cell, old: str, new: str, exclude: Sequence[str] = ()) -> None:
    """Make every consumer of ``old`` (but ``exclude``) read ``new`` instead; move the output too."""
    for target in _consumers(cell, old):
        if target in exclude:
            continue
        cell.set_inputs(target, [new if s == old else s for s in cell.node_inputs(target)])
    if cell.output == old:
        cell.output = new


def _prune(cell: Cell) -> None:
    """Drop nodes that reach neither the output nor an auxiliary output."""
    keep: set[str] = {cell.output, *cell.aux}
    for name in [cell.output, *cell.aux]:
        keep |= nx.ancestors(cell.graph, name)
    for name in cell.nodes():
        if name not in keep:
            cell.remove(name)


def reorder(cell: Cell) -> None:
    """Re-insert the nodes in topological order so that the genome reads from input to output."""
    order = [*cell.inputs, *cell.topological_nodes()]
    graph = cell.graph.__class__(**cell.graph.graph)
    graph.add_nodes_from((name, cell.graph.nodes[name]) for name in order)
    graph.add_edges_from(cell.graph.edges(data=True))
    cell.graph = graph


def _pick(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


def _is_image(shape: Shape | None) -> bool:
    return shape is not None and len(shape) == 3


def _op_nodes(site: Site) -> list[str]:
    return [n for n in site.cell.nodes() if site.cell.node(n).get("cell") is None and n in site.shapes]


def _layer_type(op: str) -> str | None:
    # Every preset of the plain conv is one layer type, named by the preset that new layers use.
    if get_op(op).conv_like:
        return "conv_bn_relu"
    return op if op in LAYER_TYPES else None


def _square(value: Any) -> Any:
    """A kernel or stride as one value: an expression or int stays, an equal pair collapses, else the larger side."""
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and value[0] == value[1]:
            return value[0]
        numbers = [v for v in value if isinstance(v, int)]
        return max(numbers) if numbers else value[0]
    return value


def _width(site: Site, name: str) -> Any:
    """The channel count to give a layer that continues from ``name``: its own ``out`` expression, else a number."""
    attrs = site.cell.node(name) if name in site.cell.nodes() else {}
    out = attrs.get("args", {}).get("out") if attrs.get("cell") is None else None
    return out if out is not None else site.shapes[name][0]


def layer_args(op: str, out: Any, kernel: Any, stride: Any) -> dict[str, Any]:
    """Arguments of a new ``op`` layer (``out`` only where the op has a width of its own: pools have not)."""
    kernels = LAYER_TYPES[op]
    if isinstance(kernel, int) and kernel not in kernels:
        kernel = min(kernels, key=lambda k: (abs(k - kernel), k))
    args: dict[str, Any] = {"kernel": kernel}
    if stride != 1:
        args["stride"] = stride
    if "out" in get_op(op).args:
        args = {"out": out, **args}
    return args


def _new_layer(rng: np.random.Generator, out: Any, stride: Any = 1) -> tuple[str, dict[str, Any]]:
    op = _pick(rng, list(LAYER_TYPES))
    return op, layer_args(op, out, int(_pick(rng, LAYER_TYPES[op])), stride)


# ------------------------------------------------------------------------------------------------------ mutations


@MUTATIONS.register("change_op")
def change_op(site: Site, rng: np.random.Generator) -> str | None:
    """Layer type change: a conv becomes a separable conv, a pool, ... keeping its width, kernel and stride."""
    nodes = [n for n in _op_nodes(site) if _layer_type(site.cell.node(n)["op"]) and _is_image(site.shapes[n])]
    if not nodes:
        return None
    name = _pick(rng, nodes)
    attrs = site.cell.node(name)
    current = _layer_type(attrs["op"])
    new_op = _pick(rng, [op for op in LAYER_TYPES if op != current])
    raw = attrs.get("args", {})
    out = raw.get("out", site.shapes[name][0])
    args = layer_args(new_op, out, _square(raw.get("kernel", 3)), _square(raw.get("stride", 1)))
    old_op = attrs["op"]
    attrs["op"], attrs["args"] = new_op, args
    return f"change_op: {name} {old_op} -> {new_op}"


@MUTATIONS.register("change_kernel")
def change_kernel(site: Site, rng: np.random.Generator) -> str | None:
    """Filter size change of a conv or pool layer (explicit padding is dropped so the layer pads 'same')."""
    nodes = [n for n in _op_nodes(site) if _layer_type(site.cell.node(n)["op"]) and _is_image(site.shapes[n])]
    if not nodes:
        return None
    name = _pick(rng, nodes)
    attrs = site.cell.node(name)
    current = _square(attrs.get("args", {}).get("kernel", 3))
    options = [k for k in LAYER_TYPES[_layer_type(attrs["op"]) or "conv_bn_relu"] if k != current]
    kernel = int(_pick(rng, options))
    args = {k: v for k, v in attrs.get("args", {}).items() if k != "padding"}
    args["kernel"] = kernel
    attrs["args"] = args
    return f"change_kernel: {name} {current} -> {kernel}"


@MUTATIONS.register("add_layer")
def add_layer(site: Site, rng: np.random.Generator) -> str | None:
    """Layer addition: a new shape-preserving layer on one edge (or after a template's output)."""
    cell = site.cell
    edges: list[tuple[str, str | None]] = [
        (u, v) for u, v in cell.graph.edges()
        if u in site.shapes and v in site.shapes and _is_image(site.shapes[u])
    ]
    if not site.network and _is_image(site.shapes.get(cell.output)):
        edges.append((cell.output, None))
    if not edges:
        return None
    source, target = _pick(rng, edges)
    # A new first layer gets a stem's width, not the image's few channels.
    width = STEM_WIDTH if site.network and source == NETWORK_INPUT else _width(site, source)
    op, args = _new_layer(rng, width)
    name = _fresh_name("layer", cell.graph)
    cell.add(name, op, inputs=[source], args=args)
    if target is None:
        cell.output = name
    else:
        cell.set_inputs(target, [name if s == source else s for s in cell.node_inputs(target)])
    return f"add_layer: {op} {args} after {source}"


@MUTATIONS.register("remove_layer")
def remove_layer(site: Site, rng: np.random.Generator) -> str | None:
    """Layer removal: one repeat fewer, or a single-input node spliced out (its consumers read its input)."""
    cell = site.cell
    candidates = [n for n in cell.nodes() if n in site.shapes and n not in cell.aux
                  and (cell.node(n).get("repeat", 1) > 1
                       or (len(cell.node_inputs(n)) == 1 and not cell.node(n).get("merge")))]
    if site.network:
        candidates = [n for n in candidates if n != cell.output]
    if not candidates:
        return None
    name = _pick(rng, candidates)
    attrs = cell.node(name)
    if attrs.get("repeat", 1) > 1:
        attrs["repeat"] -= 1
        return f"remove_layer: {name} repeat {attrs['repeat'] + 1} -> {attrs['repeat']}"
    source = cell.node_inputs(name)[0]
    if cell.output == name and source in cell.inputs:
        return None
    if any(source in cell.node_inputs(target) for target in _consumers(cell, name)):
        return None
    _redirect(cell, name, source)
    cell.remove(name)
    what = attrs.get("op") or f"cell {attrs.get('cell')}"
    return f"remove_layer: {name} ({what})"


@MUTATIONS.register("add_skip")
def add_skip(site: Site, rng: np.random.Generator) -> str | None:
    """A residual (add, with a 1x1 projection where widths differ) or dense (concat) edge from an earlier node."""
    cell = site.cell
    shapes = site.shapes
    targets = [v for v in cell.nodes() if _is_image(shapes.get(v)) and v not in cell.aux]
    pairs = []
    for v in targets:
        later = nx.descendants(cell.graph, v)
        direct = cell.node_inputs(v)
        pairs.extend((u, v) for u in list(cell.graph.nodes) if u != v and u not in later and u not in direct
                     and _is_image(shapes.get(u)) and shapes[u][1:] == shapes[v][1:]
                     and not (site.network and u == NETWORK_INPUT))
    if not pairs:
        return None
    source, target = _pick(rng, pairs)
    kind = _pick(rng, ["add", "concat"])
    shortcut = source
    if kind == "add" and shapes[source][0] != shapes[target][0]:
        shortcut = _fresh_name("proj", cell.graph)
        cell.add(shortcut, "conv_bn", inputs=[source], args={"out": _width(site, target), "kernel": 1})
    join = _fresh_name("skip", cell.graph)
    cell.add(join, "identity", inputs=[target, shortcut], merge=kind)
    _redirect(cell, target, join, exclude=[join])
    label = "residual" if kind == "add" else "dense"
    return f"add_skip: {label} {source} -> {target}"


@MUTATIONS.register("remove_skip")
def remove_skip(site: Site, rng: np.random.Generator) -> str | None:
    """Remove one input of an add/concat/mean merge; a join left with one input is spliced out."""
    cell = site.cell
    joins = [n for n in _op_nodes(site)
             if cell.node(n).get("merge") in ("add", "concat", "mean") and len(cell.node_inputs(n)) >= 2]
    if not joins:
        return None
    name = _pick(rng, joins)
    inputs = cell.node_inputs(name)
    dropped = _pick(rng, inputs)
    rest = [s for s in inputs if s != dropped]
    cell.set_inputs(name, rest)
    if len(rest) == 1:
        attrs = cell.node(name)
        attrs["merge"] = None
        consumers_have_it = any(rest[0] in cell.node_inputs(t) for t in _consumers(cell, name))
        splice = attrs["op"] == "identity" and not consumers_have_it and name not in cell.aux
        if splice and not (cell.output == name and rest[0] in cell.inputs):
            _redirect(cell, name, rest[0])
            cell.remove(name)
    _prune(cell)
    return f"remove_skip: {dropped} -> {name}"


@MUTATIONS.register("add_branch")
def add_branch(site: Site, rng: np.random.Generator) -> str | None:
    """Inception-style branch: a parallel 1x1 / 1x1-kxk / pool-1x1 path beside a layer, concatenated with it."""
    cell = site.cell
    shapes = site.shapes
    nodes = [n for n in _op_nodes(site) if _layer_type(cell.node(n)["op"]) and _is_image(shapes[n])
             and len(cell.node_inputs(n)) == 1 and not cell.node(n).get("merge") and n not in cell.aux
             and _is_image(shapes.get(cell.node_inputs(n)[0]))]
    if not nodes:
        return None
    name = _pick(rng, nodes)
    source = cell.node_inputs(name)[0]
    width = max(MIN_WIDTH, shapes[name][0] // 2)
    kind = _pick(rng, ["1x1", "1x1-3x3", "1x1-5x5", "pool-1x1"])
    stages: list[tuple[str, dict[str, Any]]] = []
    if shapes[source][1:] != shapes[name][1:]:
        # A reducing layer: the branch opens with a max pool of the layer's own window, so sizes match exactly.
        raw = cell.node(name).get("args", {})
        window = {k: raw[k] for k in ("kernel", "stride", "padding", "ceil_mode") if k in raw}
        kernel, padding = _square(window.get("kernel", 3)), _square(window.get("padding", 0))
        if isinstance(kernel, int) and isinstance(padding, int) and padding > kernel // 2:
            return None  # PyTorch pools pad at most half their window
        stages.append(("max_pool", window))
    elif kind == "pool-1x1":
        stages.append(("max_pool", layer_args("max_pool", None, 3, 1)))
    if kind in ("1x1", "pool-1x1"):
        stages.append(("conv_bn_relu", layer_args("conv_bn_relu", width, 1, 1)))
    else:
        kernel = 3 if kind == "1x1-3x3" else 5
        stages += [("conv_bn_relu", layer_args("conv_bn_relu", max(MIN_WIDTH, width // 2), 1, 1)),
                   ("conv_bn_relu", layer_args("conv_bn_relu", width, kernel, 1))]
    previous = source
    for op, args in stages:
        previous = cell.add(_fresh_name("branch", cell.graph), op, inputs=[previous], args=args)
    join = _fresh_name("concat", cell.graph)
    cell.add(join, "identity", inputs=[name, previous], merge="concat")
    _redirect(cell, name, join, exclude=[join])
    return f"add_branch: {kind} ({width} channels) beside {name}"


@MUTATIONS.register("change_width")
def change_width(site: Site, rng: np.random.Generator) -> str | None:
    """Width change of a layer (its ``out``) or of a cell instance (its ``C``) by a factor of 0.5 to 2.

    Layers whose widths must stay equal to the chosen one (joined by add, mean or gate merges, possibly through
    width-preserving ops such as BN, activations and pools) change with it, so residual blocks stay valid.
    """
    cell = site.cell
    nodes = []
    for n in cell.nodes():
        if n not in site.shapes or (site.network and n == cell.output):
            continue
        attrs = cell.node(n)
        values = attrs.get("args", {}) if attrs.get("cell") is None else attrs.get("vars", {})
        if ("out" if attrs.get("cell") is None else "C") in values:
            nodes.append(n)
    if not nodes:
        return None
    name = _pick(rng, nodes)
    factor = float(_pick(rng, WIDTH_FACTORS))
    owners = _tied_widths(cell, name) if cell.node(name).get("cell") is None else [name]
    if owners is None:
        return None  # the width is pinned by an add/gate with the graph's input: no width of this graph can change
    changes = []
    for owner in owners:
        attrs = cell.node(owner)
        key, holder = ("out", "args") if attrs.get("cell") is None else ("C", "vars")
        old = attrs[holder][key]
        if isinstance(old, (int, float)):
            new: Any = max(min(MIN_WIDTH, old), int(round(old * factor)))
        else:
            new = f"max({MIN_WIDTH}, round(({old}) * {factor}))"
        if new != old:
            attrs[holder] = {**attrs[holder], key: new}
            changes.append(f"{owner} {key} {old} -> {new}")
    if not changes:
        return None
    return f"change_width: {', '.join(changes)}"


_TIED_MERGES = ("add", "mean", "gate")


def _passes_width(attrs: Mapping[str, Any], same_width: Collection[str]) -> bool:
    return attrs.get("merge") in _TIED_MERGES or (attrs.get("op") in same_width and not attrs.get("merge"))


def _tied_widths(cell: Cell, name: str) -> list[str] | None:
    """The layers (``name`` first) whose ``out`` must change together.

    None if the tie reaches a width that cannot change inside this graph (an input, a cell instance, a concat).
    """
    graph = cell.graph
    same_width = set(ops_where(preserves_width=True))
    seen, pending, owners = {name}, [name], []
    while pending:
        node = pending.pop(0)
        attrs = graph.nodes[node]
        if attrs.get("role") == "input" or attrs.get("cell") is not None:
            return None
        linked: list[str] = []
        if _passes_width(attrs, same_width):
            linked += cell.node_inputs(node)
        elif "out" in attrs.get("args", {}):
            owners.append(node)
        else:
            return None
        linked += [t for t in _consumers(cell, node) if _passes_width(graph.nodes[t], same_width)]
        for other in linked:
            if other not in seen:
                seen.add(other)
                pending.append(other)
    return owners
