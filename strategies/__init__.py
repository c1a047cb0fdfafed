"""Search strategies speaking ask/tell (random, regularized evolution, ...), registered by name."""

from __future__ import annotations

from strategies.base import Candidate, Observation, Strategy
from strategies.registry import STRATEGIES, describe, get, names, register_strategy

__all__ = ["STRATEGIES", "Candidate", "Observation", "Strategy", "describe", "get", "names", "register_strategy"]
