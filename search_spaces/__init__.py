"""Search spaces (the SearchSpace protocol, fixed-length ChoiceSpaces and built-in spaces) and the zoo of networks."""

from __future__ import annotations

from search_spaces.base import ChoiceSpace, SearchSpace, Variable
from search_spaces.registry import get, names, register_space

__all__ = ["ChoiceSpace", "SearchSpace", "Variable", "get", "names", "register_space"]
