"""The op registry and the built-in ops (importing this package registers them)."""

from __future__ import annotations

from nasbench.ops import basic, conv, drop_path, highway, pooling, scale  # noqa: F401 - importing registers the built-in ops
from nasbench.ops.registry import (
    REQUIRED,
    Arg,
    Bool,
    Choice,
    Cost,
    Float,
    Int,
    Op,
    Pair,
    Shape,
    get_op,
    op_names,
    ops_where,
    register_op,
)

__all__ = ["REQUIRED", "Arg", "Bool", "Choice", "Cost", "Float", "Int", "Op", "Pair", "Shape", "get_op", "op_names",
           "ops_where", "register_op"]
