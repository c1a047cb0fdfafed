"""Search spaces (the SearchSpace protocol and built-in spaces) and the zoo of hand-designed networks."""

from __future__ import annotations

from search_spaces.base import SearchSpace
from search_spaces.registry import get, names, register_space

__all__ = ["SearchSpace", "get", "names", "register_space"]
