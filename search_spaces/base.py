"""The SearchSpace protocol: which architectures a space contains and how strategies move among them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from nasbench.architecture import Architecture

Choices = Mapping[str, Any]


class SearchSpace(ABC):
    """A set of architectures for one input shape and number of classes.

    Randomness always comes from the ``numpy.random.Generator`` passed in, so the same seed gives the same samples and
    mutations. Fixed-length spaces expose a flat categorical view (``variables``/``encode``/``decode``) that the RL
    controller, COMBO and the Optuna samplers use; open-ended spaces (``graph``) return ``None`` from ``variables``.
    """

    name: str = "space"

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10) -> None:
        self.input_shape = tuple(int(x) for x in input_shape)
        self.num_classes = int(num_classes)

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Architecture:
        """A random member of the space."""

    @abstractmethod
    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """A member that differs from ``arch`` by one mutation (never ``arch`` itself)."""

    @abstractmethod
    def contains(self, arch: Architecture) -> bool:
        """Whether ``arch`` is a member of the space."""

    def neighbors(self, arch: Architecture) -> Iterable[Architecture]:
        """Every member one mutation away from ``arch`` (for fixed-length spaces: one variable changed)."""
        variables = self.variables()
        if variables is None:
            raise NotImplementedError(f"space {self.name!r} does not enumerate neighbours")
        current = self.encode(arch)
        for key, options in variables.items():
            for option in options:
                if option != current[key]:
                    yield self.decode({**current, key: option})

    def variables(self) -> dict[str, list[Any]] | None:
        """Name -> choices of the flat categorical view, or None for an open-ended space."""
        return None

    def encode(self, arch: Architecture) -> dict[str, Any]:
        """The choices that describe ``arch`` (fixed-length spaces only)."""
        raise NotImplementedError(f"space {self.name!r} has no fixed-length encoding")

    def decode(self, choices: Choices) -> Architecture:
        """The architecture described by ``choices`` (fixed-length spaces only)."""
        raise NotImplementedError(f"space {self.name!r} has no fixed-length encoding")

    def seeds(self) -> list[Architecture]:
        """The hand-designed or published architectures that the space contains, adapted to its input shape."""
        return []

    def size(self) -> int | None:
        """Number of members where finite and known."""
        return None

    def supernet(self, C: int, layers: int) -> nn.Module:  # noqa: N803 - C is the papers' name for the width
        """A one-shot (DARTS-style mixed-op) network over the space, with architecture parameters."""
        raise NotImplementedError(f"space {self.name!r} has no supernet")
