"""Search strategies speaking ask/tell (random, regularized evolution, ...), registered by name."""

from __future__ import annotations

from strategies.base import Candidate, Strategy
from strategies.registry import get, names, register_strategy

__all__ = ["Candidate", "Strategy", "get", "names", "register_strategy"]
