"""nasbench: neural architecture search over graphs of cells, compiled to PyTorch."""

from __future__ import annotations

from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.compiler import build
from nasbench.draw import draw
from nasbench.errors import GenomeError, NasbenchError
from nasbench.ops import register_op
from nasbench.summary import summary, summary_rows

__version__ = "0.1.0"

__all__ = ["Architecture", "Cell", "GenomeError", "NasbenchError", "build", "draw", "register_op", "summary",
           "summary_rows", "__version__"]
