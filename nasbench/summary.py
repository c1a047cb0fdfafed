"""A per-layer summary of an architecture, like Keras's ``model.summary()``: path, op, output shape, params, MACs.

Everything comes from the lowered form (analytic shapes and costs), so summarising ResNet-152 builds no module.
Layers of one cell instance are grouped under a header row carrying the instance's totals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nasbench.architecture import Architecture
from nasbench.errors import GenomeError
from nasbench.lowering import Layer, Lowered
from nasbench.ops import REQUIRED, Shape, get_op

# Arguments that ``op_label`` spells specially (kernel, stride, ...) or that add noise rather than meaning.
_SPECIAL_ARGS = {"out", "kernel", "stride", "dilation", "groups", "padding", "bn_eps", "eps", "affine", "fn"}


@dataclass(frozen=True)
class SummaryRow:
    """One row of the summary: a layer (``kind="layer"``) or a cell instance header (``kind="cell"``).

    ``path`` is the full module path; ``name`` is the path shown, relative to the enclosing instance.
    """

    kind: str
    path: str
    name: str
    op: str
    label: str
    output_shape: Shape
    params: int
    macs: int
    depth: int
    aux: bool = False


def _pair_text(value: Any, sep: str = "x") -> str:
    if isinstance(value, (list, tuple)):
        return str(value[0]) if value[0] == value[1] else f"{value[0]}{sep}{value[1]}"
    return str(value)


def op_label(op: str, args: Mapping[str, Any]) -> str:
    """A compact label of an op and its key arguments: ``conv_bn_relu 3x3/2 64``, ``max_pool 3x3/2``, ``linear 10``.

    Kernel sizes print as ``KxK``, a stride other than 1 as ``/s``, dilation as ``d2``, groups as ``g32``, the output
    width as a bare number; other arguments appear as ``key=value`` only where they differ from the op's default.
    Works for raw genome args (expressions such as ``4*C`` print as written) as well as resolved ones.
    """
    parts = [op]
    kernel = args.get("kernel")
    geometry = ""
    if kernel is not None:
        k = _pair_text(kernel)
        geometry = k if "x" in k else f"{k}x{k}"
    stride = args.get("stride")
    if stride is not None and _pair_text(stride) != "1":
        geometry += f"/{_pair_text(stride, ',')}"
    if geometry:
        parts.append(geometry)
    dilation = args.get("dilation")
    if dilation is not None and _pair_text(dilation) != "1":
        parts.append(f"d{_pair_text(dilation, ',')}")
    groups = args.get("groups")
    if groups is not None and str(groups) != "1":
        parts.append(f"g{groups}")
    if "out" in args:
        parts.append(str(args["out"]))
    try:
        signature = get_op(op).signature
    except GenomeError:  # an unknown op still gets a label (the drawing of an invalid genome)
        signature = {}
    for key, value in args.items():
        if key in _SPECIAL_ARGS:
            continue
        arg = signature.get(key)
        default = None if arg is None or arg.default is REQUIRED else arg.default
        if arg is not None and _same(value, default):
            continue
        text = _pair_text(value, ",") if isinstance(value, (list, tuple)) else value
        parts.append(f"{key}={str(text).lower() if isinstance(value, bool) else text}")
    return " ".join(parts)


def layer_label(layer: Layer) -> str:
    """``op_label`` of a lowered layer, preceded by its merge: ``add(2) → relu``; a merging identity is the merge."""
    if layer.merge is None:
        return op_label(layer.op, layer.args)
    merge = f"{layer.merge}({len(layer.inputs)})"
    return merge if layer.op == "identity" else f"{merge} → {op_label(layer.op, layer.args)}"


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, (list, tuple)) and not isinstance(default, (list, tuple)):
        return tuple(value) == (default, default)
    if isinstance(default, (list, tuple)):
        return tuple(default) == (tuple(value) if isinstance(value, (list, tuple)) else (value, value))
    return value == default


def _instances(arch: Architecture, lowered: Lowered) -> dict[str, tuple[str, str]]:
    """Path of every copy of a top-level cell instance -> (a label such as ``basic(C=64, s=2)``, its output's path)."""
    found: dict[str, tuple[str, str]] = {}
    for copy in lowered.copies:
        if len(copy.chain) != 1 or copy.cell is None:
            continue
        attrs = arch.network.node(copy.chain[0])
        variables = ", ".join(f"{key}={value}" for key, value in attrs.get("vars", {}).items())
        label = f"{copy.cell}({variables})" if variables else copy.cell
        found[copy.path] = (label, copy.outputs[arch.cells[copy.cell].output])
    return found


def _instance_of(path: str, instances: Mapping[str, object]) -> str | None:
    """The instance copy whose module path the layer at ``path`` sits under, if any."""
    parts = path.split(".")
    for end in range(1, len(parts)):
        prefix = ".".join(parts[:end])
        if prefix in instances:
            return prefix
    return None


def summary_rows(arch: Architecture, input_shape: Sequence[int] | None = None,
                 lowered: Lowered | None = None) -> list[SummaryRow]:
    """The summary as structured rows, in execution order: a ``cell`` header before each cell instance's layers."""
    lowered = lowered or arch.lower(input_shape)
    instances = _instances(arch, lowered)
    grouped: dict[str, list[Layer]] = {}
    for layer in lowered.layers:
        instance = _instance_of(layer.path, instances)
        if instance is not None:
            grouped.setdefault(instance, []).append(layer)
    rows: list[SummaryRow] = []
    opened: set[str] = set()
    for layer in lowered.layers:
        instance = _instance_of(layer.path, instances)
        depth = 0
        name = layer.path
        if instance is not None:
            if instance not in opened:
                opened.add(instance)
                members = grouped[instance]
                label, produced = instances[instance]
                shape = lowered.shape_at(produced) or members[-1].out_shape
                rows.append(SummaryRow("cell", instance, instance, label, label, shape,
                                       sum(m.cost.params for m in members),
                                       sum(m.cost.macs for m in members), 0, all(m.aux for m in members)))
            depth, name = 1, layer.path[len(instance) + 1:]
        rows.append(SummaryRow("layer", layer.path, name, layer.op, layer_label(layer), layer.out_shape,
                               layer.cost.params, layer.cost.macs, depth, layer.aux))
    return rows


def human(number: float) -> str:
    """A count in K/M/G units: ``1.81G``, ``25.6M``, ``512``."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(number) >= scale:
            return f"{number / scale:.3g}{unit}" if number / scale < 100 else f"{number / scale:.0f}{unit}"
    return f"{number:g}"


def _shape_text(shape: Shape) -> str:
    return "(" + ", ".join(str(x) for x in shape) + ")"


def summary(arch: Architecture, input_shape: Sequence[int] | None = None, cells: bool = True) -> str:
    """The per-layer table with totals, as text.

    With ``cells=False`` each cell instance is one row (the network level), which keeps big networks short.
    """
    lowered = arch.lower(input_shape)
    rows = [row for row in summary_rows(arch, input_shape, lowered) if cells or row.depth == 0]
    header = ("Layer", "Op", "Output shape", "Params", "MACs")
    table = [header]
    for row in rows:
        name = ("  " * row.depth) + row.name + (" (aux)" if row.aux and row.depth == 0 else "")
        op = f"[{row.label}]" if row.kind == "cell" else row.label
        table.append((name, op, _shape_text(row.output_shape), f"{row.params:,}", human(row.macs)))
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    widths[1] = min(widths[1], 48)

    def render(line: Sequence[str]) -> str:
        name, op, shape, params, macs = line
        if len(op) > widths[1]:
            op = op[: widths[1] - 1] + "…"
        return (f"{name:<{widths[0]}}  {op:<{widths[1]}}  {shape:<{widths[2]}}  {params:>{widths[3]}}  "
                f"{macs:>{widths[4]}}").rstrip()

    width = sum(widths) + 8
    aux_params = sum(layer.cost.params for layer in lowered.layers if layer.aux)
    lines = [f'Architecture "{arch.name}"  input {_shape_text(lowered.input_shape)}', "─" * width,
             render(header), "═" * width]
    lines += [render(line) for line in table[1:]]
    lines += ["─" * width,
              f"Total params:  {lowered.params:,} ({human(lowered.params)})",
              f"Total MACs:    {lowered.macs:,} ({human(lowered.macs)}, inference)",
              f"Output shape:  {_shape_text(lowered.output_shape)}",
              f"Layers:        {len(lowered.layers)}"]
    if aux_params:
        lines.insert(-3, f"  of which auxiliary heads: {aux_params:,} (training only)")
    return "\n".join(lines)
