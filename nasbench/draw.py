"""Pictures of a network and of its cell templates (PNG, SVG or PDF), drawn with matplotlib alone.

The layout is a small layered (Sugiyama-style) one computed here: ranks by longest path from the inputs, dummy points on
edges that skip ranks, barycentric ordering within ranks, then x positions pulled towards neighbours under a minimum
spacing (isotonic regression). Inputs sit at the top, the output at the bottom; ops are labelled boxes, merges are
small pills (⊕ add, ‖ concat, μ mean, σ gate), cell instances are single green boxes at the network level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.errors import GenomeError, NasbenchError
from nasbench.lowering import Lowered
from nasbench.ops import get_op
from nasbench.summary import human, op_label

SUFFIXES = (".png", ".svg", ".pdf")
MERGE_SYMBOLS = {"add": "⊕ add", "concat": "‖ concat", "mean": "μ mean", "gate": "σ gate"}
_GATE_ROLES = ("h", "t", "x")
_FONT = 9.0  # points
_CHAR = 0.074  # average character width in inches at _FONT (DejaVu Sans)
_GAP_X = 0.3  # inches between neighbouring boxes
_GAP_Y = 0.42  # inches between ranks
# By box kind: the op categories (``Op.category``) and the boxes that are not ops.
_COLOURS = {
    "input": "#fff2cc", "output": "#ffffff", "cell": "#d9ead3", "merge": "#eeeeee", "conv": "#cfe2f3",
    "pool": "#fce5cd", "head": "#e4d7f5", "plain": "#f3f3f3", "other": "#ffffff",
}


@dataclass
class _Box:
    """A drawn node: its text lines, colour kind and, after layout, its centre and size in inches."""

    lines: list[str]
    kind: str
    rank: int = 0
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = 0.0
    dummy: bool = False


@dataclass
class _Edge:
    source: str
    target: str
    label: str = ""
    dashed: bool = False
    points: list[str] = field(default_factory=list)  # dummy boxes the edge passes through


def _category(op: str) -> str:
    try:
        return get_op(op).category
    except GenomeError:  # an unknown op still gets a box (the drawing of a template is not validated)
        return "other"


def _shape_text(shape: Sequence[int]) -> str:
    return "×".join(str(x) for x in shape)


class _Diagram:
    """Boxes and edges of one graph (a cell template or the network), before and after layout."""

    def __init__(self) -> None:
        self.boxes: dict[str, _Box] = {}
        self.edges: list[_Edge] = []

    @classmethod
    def of(cls, graph: Cell, lowered: Lowered | None) -> _Diagram:
        """The diagram of ``graph``; with ``lowered`` (the network's), boxes show their nodes' output shapes."""
        diagram = cls()
        shapes: dict[str, Sequence[int]] = {}
        if lowered is not None:
            for name, path in lowered.copies[0].outputs.items():  # the network's copy
                shape = lowered.shape_at(path)
                if shape is not None:
                    shapes[name] = shape
        for name in graph.inputs:
            lines = [name]
            if name in shapes:
                lines.append(_shape_text(shapes[name]))
            diagram.boxes[name] = _Box(lines, "input")
        for name in graph.nodes():
            diagram._add_node(graph, name, shapes)
        diagram.boxes["⟶output"] = _Box(["output"], "output")
        diagram.edges.append(_Edge(graph.output, "⟶output"))
        for i, name in enumerate(graph.aux):
            box = f"⟶aux{i}"
            diagram.boxes[box] = _Box([f"aux output {i + 1}"], "output")
            diagram.edges.append(_Edge(name, box, dashed=True))
        return diagram

    def _add_node(self, graph: Cell, name: str, shapes: Mapping[str, Sequence[int]]) -> None:
        attrs = graph.node(name)
        sources = graph.node_inputs(name)
        merge = attrs.get("merge") if len(sources) > 1 or attrs.get("merge") == "gate" else None
        repeat = attrs.get("repeat", 1)
        times = f"  ×{repeat}" if repeat > 1 else ""
        if attrs.get("cell") is not None:
            variables = "  ".join(f"{key}={value}" for key, value in attrs.get("vars", {}).items())
            lines, kind = [f"{name}: cell {attrs['cell']}{times}"] + ([variables] if variables else []), "cell"
        else:
            label = op_label(attrs["op"], attrs.get("args", {}))
            op, _, detail = label.partition(" ")
            lines, kind = [f"{name}: {op}{times}"] + ([detail] if detail else []), _category(op)
        if name in shapes:
            lines.append(_shape_text(shapes[name]))
        target = name
        if merge is not None and attrs.get("op") == "identity" and repeat == 1:
            # A merging identity (the concat node of a NASNet/DARTS cell) is drawn as the merge itself.
            lines[0] = f"{name}: {MERGE_SYMBOLS[merge]}"
            kind = "merge"
        elif merge is not None:
            target = f"{name}⟵{merge}"
            self.boxes[target] = _Box([MERGE_SYMBOLS[merge]], "merge")
            self.edges.append(_Edge(target, name))
        self.boxes[name] = _Box(lines, kind)
        for index, source in enumerate(sources):
            label = _GATE_ROLES[index] if merge == "gate" and index < 3 else ""
            self.edges.append(_Edge(source, target, label))

    # ----------------------------------------------------------------------------------------------------- layout
    def layout(self) -> None:
        self._rank()
        ranks = self._insert_dummies()
        self._order(ranks)
        self._measure()
        self._place_x(ranks)
        self._place_y(ranks)

    def _rank(self) -> None:
        preds: dict[str, list[str]] = {name: [] for name in self.boxes}
        for edge in self.edges:
            preds[edge.target].append(edge.source)
        done: dict[str, int] = {}

        def rank(name: str) -> int:
            if name not in done:
                done[name] = 0  # guards against a cycle in an invalid genome
                done[name] = max((rank(p) + 1 for p in preds[name]), default=0)
            return done[name]

        for name, box in self.boxes.items():
            box.rank = rank(name)
        # Pull sources that are not inputs (dead ends, constants) down next to their first consumer.
        for name, box in self.boxes.items():
            if box.kind != "input" and not preds[name]:
                consumers = [self.boxes[e.target].rank for e in self.edges if e.source == name]
                box.rank = max(min(consumers, default=1) - 1, 0)

    def _insert_dummies(self) -> list[list[str]]:
        count = 0
        for edge in self.edges:
            low, high = self.boxes[edge.source].rank, self.boxes[edge.target].rank
            for rank in range(low + 1, high):
                name = f"·{count}"
                count += 1
                self.boxes[name] = _Box([], "dummy", rank=rank, dummy=True)
                edge.points.append(name)
        ranks: list[list[str]] = [[] for _ in range(max(box.rank for box in self.boxes.values()) + 1)]
        for name, box in self.boxes.items():
            ranks[box.rank].append(name)
        return ranks

    def _chains(self) -> list[tuple[str, str]]:
        pairs = []
        for edge in self.edges:
            chain = [edge.source, *edge.points, edge.target]
            pairs += list(zip(chain, chain[1:]))
        return pairs

    def _order(self, ranks: list[list[str]]) -> None:
        pairs = self._chains()
        up: dict[str, list[str]] = {name: [] for name in self.boxes}
        down: dict[str, list[str]] = {name: [] for name in self.boxes}
        for a, b in pairs:
            down[a].append(b)
            up[b].append(a)
        for sweep in range(8):
            neighbours, sequence = (up, ranks[1:]) if sweep % 2 == 0 else (down, ranks[-2::-1])
            for layer in sequence:
                position = {name: i for rank in ranks for i, name in enumerate(rank)}
                keys = {}
                for i, name in enumerate(layer):
                    linked = [position[n] for n in neighbours[name]]
                    keys[name] = sum(linked) / len(linked) if linked else i
                layer.sort(key=keys.__getitem__)

    def _measure(self) -> None:
        for box in self.boxes.values():
            if box.dummy:
                box.width, box.height = 0.05, 0.0
                continue
            longest = max(len(line) for line in box.lines)
            box.width = max(0.9, longest * _CHAR + 0.3)
            box.height = 0.24 + 0.17 * len(box.lines) if box.kind != "merge" else 0.3

    def _place_x(self, ranks: list[list[str]]) -> None:
        pairs = self._chains()
        up: dict[str, list[str]] = {name: [] for name in self.boxes}
        down: dict[str, list[str]] = {name: [] for name in self.boxes}
        for a, b in pairs:
            down[a].append(b)
            up[b].append(a)
        for layer in ranks:
            cursor = 0.0
            for name in layer:
                box = self.boxes[name]
                box.x = cursor + box.width / 2
                cursor += box.width + _GAP_X
            shift = cursor / 2
            for name in layer:
                self.boxes[name].x -= shift
        for sweep in range(12):
            neighbours, sequence = (up, ranks[1:]) if sweep % 2 == 0 else (down, ranks[-2::-1])
            for layer in sequence:
                wanted = []
                for name in layer:
                    linked = [self.boxes[n].x for n in neighbours[name]]
                    wanted.append(sum(linked) / len(linked) if linked else self.boxes[name].x)
                for name, x in zip(layer, self._spread(layer, wanted)):
                    self.boxes[name].x = x

    def _spread(self, layer: list[str], wanted: list[float]) -> list[float]:
        """Positions closest (least squares) to ``wanted`` that keep the order and the minimum spacing."""
        offsets = [0.0]
        for a, b in zip(layer, layer[1:]):
            gap = (self.boxes[a].width + self.boxes[b].width) / 2
            gap += 0.12 if self.boxes[a].dummy and self.boxes[b].dummy else _GAP_X
            offsets.append(offsets[-1] + gap)
        targets = [w - o for w, o in zip(wanted, offsets)]
        # Pool-adjacent-violators: isotonic (non-decreasing) least-squares fit of the targets.
        blocks: list[list[float]] = []  # [mean, count]
        for value in targets:
            blocks.append([value, 1.0])
            while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
                mean, count = blocks.pop()
                previous = blocks[-1]
                previous[0] = (previous[0] * previous[1] + mean * count) / (previous[1] + count)
                previous[1] += count
        fitted = [mean for mean, count in blocks for _ in range(int(count))]
        return [f + o for f, o in zip(fitted, offsets)]

    def _place_y(self, ranks: list[list[str]]) -> None:
        y = 0.0
        for layer in ranks:
            height = max((self.boxes[name].height for name in layer), default=0.0)
            for name in layer:
                self.boxes[name].y = y - height / 2
                if self.boxes[name].dummy:
                    # An edge passes a rank as a vertical segment, so it never cuts a box of that rank.
                    self.boxes[name].height = height
            y -= height + _GAP_Y

    # ---------------------------------------------------------------------------------------------------- render
    def render(self, path: Path, title: str) -> None:
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

        real = [box for box in self.boxes.values() if not box.dummy]
        left = min(box.x - box.width / 2 for box in self.boxes.values()) - 0.3
        right = max(box.x + box.width / 2 for box in self.boxes.values()) + 0.3
        bottom = min(box.y - box.height / 2 for box in real) - 0.3
        top = 0.75
        right = max(right, left + len(title) * _CHAR * 1.45 + 0.6)
        width, height = right - left, top - bottom
        figure = Figure(figsize=(width, height))
        axes = figure.add_axes((0, 0, 1, 1))
        axes.set_xlim(left, right)
        axes.set_ylim(bottom, top)
        axes.axis("off")
        axes.text((left + right) / 2, 0.45, title, ha="center", va="center", fontsize=_FONT + 2, weight="bold")
        for edge in self.edges:
            self._draw_edge(axes, edge, FancyArrowPatch)
        for box in real:
            self._draw_box(axes, box, FancyBboxPatch)
        figure.savefig(path, dpi=150 if path.suffix == ".png" else 72, facecolor="white")

    def _draw_edge(self, axes: Any, edge: _Edge, arrow: Any) -> None:
        source, target = self.boxes[edge.source], self.boxes[edge.target]
        points = [(source.x, source.y - source.height / 2)]
        for point in edge.points:
            dummy = self.boxes[point]
            points += [(dummy.x, dummy.y + dummy.height / 2), (dummy.x, dummy.y - dummy.height / 2)]
        points.append((target.x, target.y + target.height / 2))
        style = "--" if edge.dashed else "-"
        xs, ys = zip(*points[:-1])
        if len(points) > 2:
            axes.plot(xs, ys, color="#555555", linewidth=1.0, linestyle=style, zorder=1)
        axes.add_patch(arrow(points[-2], points[-1], arrowstyle="-|>", mutation_scale=9, color="#555555",
                             linewidth=1.0, linestyle=style, shrinkA=0, shrinkB=1, zorder=1))
        if edge.label:
            (x0, y0), (x1, y1) = points[-2], points[-1]
            axes.text(x0 + 0.7 * (x1 - x0) + 0.06, y0 + 0.7 * (y1 - y0), edge.label, fontsize=_FONT - 1,
                      style="italic", color="#a00000", ha="left", va="center", zorder=3)

    @staticmethod
    def _draw_box(axes: Any, box: _Box, patch: Any) -> None:
        rounding = "round,pad=0,rounding_size=0.15" if box.kind in {"merge", "input", "output"} else \
            "round,pad=0,rounding_size=0.05"
        axes.add_patch(patch((box.x - box.width / 2, box.y - box.height / 2), box.width, box.height,
                             boxstyle=rounding, facecolor=_COLOURS.get(box.kind, "#ffffff"), edgecolor="#333333",
                             linewidth=1.6 if box.kind == "output" else 0.9, zorder=2))
        spacing = 0.17
        first = box.y + spacing * (len(box.lines) - 1) / 2
        for i, line in enumerate(box.lines):
            axes.text(box.x, first - i * spacing, line, ha="center", va="center", zorder=3,
                      fontsize=_FONT if i == 0 else _FONT - 1, weight="bold" if i == 0 else "normal",
                      color="#000000" if i == 0 else "#333333")


def draw(arch: Architecture, path: str | Path, cell: str | None = None) -> Path:
    """Draw the network (cell instances as single boxes) or, with ``cell``, one cell template, to PNG/SVG/PDF.

    The format follows the suffix of ``path``. Returns the path written.
    """
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise NasbenchError(f"cannot draw to {path.name!r}: use a file name ending in {', '.join(SUFFIXES)}")
    if cell is None:
        lowered = arch.lower()
        title = (f"{arch.name}: {human(lowered.params)} params, {human(lowered.macs)} MACs, "
                 f"input {_shape_text(arch.input_shape)}")
        diagram = _Diagram.of(arch.network, lowered)
    else:
        if cell not in arch.cells:
            known = ", ".join(arch.cells) or "none"
            raise NasbenchError(f"{arch.name} has no cell template {cell!r} (cells: {known})")
        template = arch.cells[cell]
        variables = ", ".join(f"{k}={'?' if v is None else v}" for k, v in template.vars.items())
        title = f"{arch.name}: cell {cell}" + (f"({variables})" if variables else "")
        diagram = _Diagram.of(template, None)
    diagram.layout()
    if not path.parent.exists():
        raise NasbenchError(f"cannot draw to {path}: folder {path.parent} does not exist")
    diagram.render(path, title)
    return path
