"""An architecture written as a sequence of tokens: the text a sequence model reads, on every space.

The genome already holds each cell template once and the network as a skeleton of ops and cell instances with their
repeat counts, so the sequence walks the templates (in the genome's order), then the network, and never a repeated
copy: a NAS-Bench-201 network (its cell, the residual block, a nine-node skeleton) is about 75 tokens whatever the
number of cells per stage.

Every graph opens with its kind and name (``cell:nb201_cell``, ``network``), its template variables and its inputs.
Then, in topological order, each node is its name (``node:e0_1``), one token for what it computes, with its arguments,
merge and repeat count (``op:relu_conv_bn(out=C,kernel=3)``, ``op:identity()[add]``, ``cell:nb201_cell(C=16)*5``),
and one token per input, by name (``from:x``); the graph closes with its output and auxiliary heads. An op and its
arguments are one token because together they are what a node computes (and the sequence stays short for a recurrent
model). Integers larger than 16 (widths, sizes) are written to the nearest power of two (``out=~2^6``): an exact width
seldom repeats in an open-ended space, its scale does, and the canonical hash already tells architectures apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nasbench.architecture import Architecture
from nasbench.cell import Cell

EXACT_INTEGERS = 16  # integers up to this magnitude (kernels, strides, repeats) are written exactly


def value_text(value: Any) -> str:
    """The text of an argument's value: exact for small integers and text, the scale for large numbers."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, int):
        if abs(value) <= EXACT_INTEGERS:
            return str(value)
        return f"{'-' if value < 0 else ''}~2^{round(math.log2(abs(value)))}"
    if isinstance(value, float):
        return f"{value:.2g}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(value_text(item) for item in value) + "]"
    return str(value)


def _call(what: str, values: Mapping[str, Any]) -> str:
    return f"{what}(" + ",".join(f"{key}={value_text(value)}" for key, value in values.items()) + ")"


def node_token(attrs: Mapping[str, Any]) -> str:
    """What a node computes: its op or cell with arguments or variables, then its merge and repeat count."""
    if attrs.get("cell") is not None:
        token = _call(f"cell:{attrs['cell']}", attrs.get("vars") or {})
    else:
        token = _call(f"op:{attrs.get('op')}", attrs.get("args") or {})
    if attrs.get("merge"):
        token += f"[{attrs['merge']}]"
    if attrs.get("repeat", 1) != 1:
        token += f"*{attrs['repeat']}"
    return token


def graph_tokens(graph: Cell, header: str) -> list[str]:
    """The tokens of one cell template or of the network, opened by ``header``."""
    sequence = [header, *(f"var:{key}" if value is None else f"var:{key}={value_text(value)}"
                          for key, value in graph.vars.items())]
    sequence += [f"input:{name}" for name in graph.inputs]
    for name in graph.topological_nodes():
        sequence += [f"node:{name}", node_token(graph.node(name))]
        sequence += [f"from:{source}" for source in graph.node_inputs(name)]
    sequence.append(f"output:{graph.output}")
    return sequence + [f"aux:{name}" for name in graph.aux]


def tokens(arch: Architecture) -> list[str]:
    """The architecture as a token sequence: every cell template once, then the network skeleton."""
    sequence = []
    for name, cell in arch.cells.items():
        sequence += graph_tokens(cell, f"cell:{name}")
    return sequence + graph_tokens(arch.network, "network")
