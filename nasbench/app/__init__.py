"""The composition layer: the search loop, the Python API and the CLI, composing the core and the plug-in packages.

Nothing in the core of ``nasbench`` imports this package; it imports everything else.
"""

from __future__ import annotations

from nasbench.app.load import load
from nasbench.app.search import search
from nasbench.app.train import train

__all__ = ["load", "search", "train"]
