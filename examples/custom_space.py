"""A custom cell space in Python: the example of README.md's "Custom search spaces" section.

``depth`` and ``width`` have numeric options, so they are ordinal variables (their order means something to COMBO and
the Optuna samplers); the ops, ``in_b`` and ``join`` are categorical. ``Choice([...], ordinal=False)`` would make a
numeric choice categorical.
"""

from __future__ import annotations

from collections.abc import Sequence

from search_spaces.custom import CellSpace, Choice

# Each op of the cell is one of these (an op with its arguments; pools keep the width).
OPS = {
    "conv3": {"op": "conv_bn_relu", "args": {"out": "C", "kernel": 3}},
    "sep5": {"op": "sep_conv", "args": {"out": "C", "kernel": 5}},
    "maxpool": {"op": "max_pool"},
    "skip": {"op": "identity"},
}


def tiny_cells(input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10) -> CellSpace:
    """Cells of two chosen ops and a chosen join; 1-3 cells per stage; stem width 8 or 16."""
    cell = {
        "nodes": {
            "a": {"$": Choice(OPS, name="op_a"), "inputs": ["x"]},
            "b": {"$": Choice(OPS, name="op_b"), "inputs": [Choice(["x", "a"], name="in_b")]},
            "out": {"op": "identity", "inputs": ["a", "b"], "merge": Choice(["add", "concat"], name="join")},
        },
        "output": "out",
    }
    return CellSpace(cell, repeats=Choice([1, 2, 3], name="depth"), C=Choice([8, 16], name="width"),
                     name="tiny_cells", input_shape=input_shape, num_classes=num_classes)
