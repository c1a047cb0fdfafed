"""The zoo of hand-designed networks (seed individuals): ``get(name)``, ``names()``, ``adapt(arch, ...)``."""

from __future__ import annotations

from search_spaces.zoo.registry import ZooEntry, adapt, entry, get, names, register

__all__ = ["ZooEntry", "adapt", "entry", "get", "names", "register"]
