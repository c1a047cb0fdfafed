"""The SearchSpace protocol, and ChoiceSpace: the fixed-length spaces described by one choice per ``Variable``."""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
from torch import nn

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError

Choices = Mapping[str, Any]


@dataclass(frozen=True)
class Variable:
    """One variable of a fixed-length space's flat view: its choices, and whether their order means something.

    A categorical variable (an op, an input, a combination, an edge bit) has choices in no meaningful order. An ordinal
    one is an ordered number (a width, a depth or repeat count, a kernel size, an expansion ratio): its choices are
    numbers listed in increasing order, so that COMBO joins neighbouring values in a path graph and the Optuna samplers
    use an int distribution. Iterating over a variable and ``len`` go over its choices.
    """

    choices: tuple[Any, ...]
    ordinal: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if not self.choices:
            raise NasbenchError("a variable needs at least one choice")
        if self.ordinal:
            if not all(isinstance(c, Real) and not isinstance(c, bool) for c in self.choices):
                raise NasbenchError(f"an ordinal variable has numeric choices, got {list(self.choices)}")
            if any(a >= b for a, b in zip(self.choices, self.choices[1:])):
                raise NasbenchError(f"an ordinal variable lists its choices increasing, got {list(self.choices)}")

    def __len__(self) -> int:
        return len(self.choices)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.choices)

    @property
    def kind(self) -> str:
        """``"ordinal"`` or ``"categorical"``."""
        return "ordinal" if self.ordinal else "categorical"


class SearchSpace(ABC):
    """A set of architectures for one input shape and number of classes.

    Randomness always comes from the ``numpy.random.Generator`` passed in, so the same seed gives the same samples and
    mutations. Fixed-length spaces (``ChoiceSpace``) expose a flat view (``variables``/``encode``/``decode``) that the
    RL controller, COMBO and the Optuna samplers use; open-ended spaces (``graph``) return ``None`` from ``variables``.
    """

    name: str = "space"
    # The constructor options that set a member's depth (cells) and width (channels), for cell spaces whose cells
    # transfer to another size (NAS-Bench-201, NASNet, DARTS); None where the space has no such size. A space that
    # names them keeps every constructor option as an attribute of the same name, so that ``resized`` rebuilds it.
    size_options: tuple[str, str] | None = None

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10) -> None:
        self.input_shape = tuple(int(x) for x in input_shape)
        self.num_classes = int(num_classes)

    def resized(self, cells: int | None = None, width: int | None = None) -> SearchSpace:
        """The same space (task and every other setting alike) with ``cells`` cells of ``width`` channels.

        ``cells`` and ``width`` set the options named by ``size_options`` (nb201: ``N`` cells per stage and ``C``;
        darts, nasnet: ``layers`` cells in all and ``C``); None keeps this space's value. A space without a size is a
        NasbenchError, and so is a size its constructor rejects (fewer than 1 channel, too few cells).
        """
        if self.size_options is None:
            raise NasbenchError(f"space {self.name!r} has no cell/width size to transfer")
        settings = {}
        for option, parameter in inspect.signature(type(self)).parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD) or not hasattr(self, option):
                raise NasbenchError(f"space {self.name!r} does not keep its constructor option {option!r} "
                                    "to be resized")
            settings[option] = getattr(self, option)
        for option, value in zip(self.size_options, (cells, width)):
            if value is not None:
                settings[option] = value
        return type(self)(**settings)

    def transfer(self, arch: Architecture, cells: int | None = None, width: int | None = None) -> Architecture:
        """``arch``'s cells in the network of ``resized(cells, width)``, under ``arch``'s name.

        As NASNet and DARTS search small and evaluate large: the member of the resized space with ``arch``'s encoding
        (so also at this space's input shape and classes). ``arch`` must be a member of this space at any size.
        """
        target = self.resized(cells, width)  # first, so that a space without a size says so
        try:
            choices = self.encode(arch)
        except NasbenchError as error:
            raise NasbenchError(f"{arch.name} is not a member of space {self.name!r}: {error}") from None
        member = target.decode(choices)
        member.name = arch.name
        return member

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
        raise NotImplementedError(f"space {self.name!r} does not enumerate neighbours")

    def variables(self) -> dict[str, Variable] | None:
        """Name -> variable of the flat view, or None for an open-ended space."""
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

    def seed_catalog(self) -> list[str]:
        """The names of every network that can enter a search of the space as a seed (default: its ``seeds``)."""
        return [arch.name for arch in self.seeds()]

    def make_seed(self, name: str) -> Architecture:
        """Seed ``name`` of ``seed_catalog`` as a member of the space; a NasbenchError says why it cannot be one."""
        for arch in self.seeds():
            if arch.name == name:
                return arch
        raise NasbenchError(f"unknown seed {name!r} (this space's seeds: {', '.join(self.seed_catalog()) or 'none'})")

    def size(self) -> int | None:
        """Number of members where finite and known."""
        return None

    def supernet(self, C: int, layers: int, in_channels: int | None = None,  # noqa: N803 - C: the papers' name
                 num_classes: int | None = None, **relaxation: Any) -> nn.Module:
        """A one-shot (DARTS-style mixed-op) network over the space, with architecture parameters.

        It trains on images of ``in_channels`` channels and ``num_classes`` classes (default: the space's own task)
        and derives members of this space; ``relaxation`` are the options of ``search_spaces.supernet``.
        """
        raise NasbenchError(f"space {self.name!r} has no supernet (one-shot strategies search nb201, darts and "
                            "enas-macro)")


class ChoiceSpace(SearchSpace):
    """A fixed-length space: every member is ``build(choices)`` for one choice of every variable.

    A subclass gives ``variables``, ``build`` (the network of a complete, checked set of choices) and ``encode``; the
    space then samples (every variable uniformly), mutates (one variable to another of its choices), enumerates
    neighbours, counts encodings and tests membership (a member is what its own encoding decodes to).

    Hooks for spaces where some combinations are not members: ``build`` raises NasbenchError for an invalid one
    (nb101: the output unreachable, more than 9 edges), and ``valid`` rejects a network that was built (a custom space
    whose shapes do not fit). Sampling and mutation redraw such combinations, and a mutation that leaves the network
    unchanged (a change that no path reads), at most ``max_tries`` times: sampling then raises NasbenchError with the
    last reason, mutation takes a random one of the neighbours (NasbenchError if there is none).
    """

    max_tries = 100

    @abstractmethod
    def variables(self) -> dict[str, Variable]:
        """Name -> variable of every choice, in a fixed order (the order of sampling)."""

    @abstractmethod
    def build(self, choices: Mapping[str, Any]) -> Architecture:
        """The network of a complete set of choices, each one of its variable's (NasbenchError if not a member)."""

    @abstractmethod
    def encode(self, arch: Architecture) -> dict[str, Any]:
        """The choices of a member (NasbenchError, e.g. GenomeError, if ``arch`` is not one)."""

    def valid(self, arch: Architecture) -> bool:
        """Whether a built network is a member; every built network is, unless a space says otherwise."""
        return True

    def checked(self, choices: Choices) -> dict[str, Any]:
        """``choices`` in the variables' order; a missing, unknown or out-of-range choice raises NasbenchError."""
        variables = self.variables()
        checked = {}
        for key, variable in variables.items():
            if key not in choices:
                raise NasbenchError(f"{self.name}: missing choice for variable {key!r}")
            if choices[key] not in variable:
                raise NasbenchError(f"{self.name}: variable {key!r} must be one of {list(variable.choices)}, "
                                    f"got {choices[key]!r}")
            checked[key] = choices[key]
        unknown = sorted(set(choices) - set(variables))
        if unknown:
            raise NasbenchError(f"{self.name}: unknown variables {unknown}")
        return checked

    def decode(self, choices: Choices) -> Architecture:
        """The member described by ``choices``; a bad choice or an invalid combination raises NasbenchError."""
        return self.build(self.checked(choices))

    def contains(self, arch: Architecture) -> bool:
        """Whether ``arch`` is the valid network, for this space's input shape, that its own encoding decodes to."""
        try:
            member = self.decode(self.encode(arch))
        except NasbenchError:
            return False
        return tuple(arch.input_shape) == self.input_shape and member.hash() == arch.hash() and self.valid(member)

    def size(self) -> int:
        """Number of encodings (the product of the choice counts); a space whose encodings repeat members overrides."""
        return math.prod(len(variable) for variable in self.variables().values())

    def sample(self, rng: np.random.Generator) -> Architecture:
        """Every variable's choice uniformly at random, redrawn while the combination is not a member."""
        variables = self.variables()
        reason = ""
        for _ in range(self.max_tries):
            choices = {key: variable.choices[int(rng.integers(len(variable)))] for key, variable in variables.items()}
            try:
                arch = self.decode(choices)
            except NasbenchError as error:
                reason = str(error)
                continue
            if self.valid(arch):
                return arch
            reason = f"{arch.name} is not a valid network"
        raise NasbenchError(f"{self.name}: no member found in {self.max_tries} random draws (last: {reason})")

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """One variable, drawn uniformly, gets another of its choices, drawn uniformly; the network must change.

        A draw that gives no member, or the same network, is redrawn; after ``max_tries`` draws the mutant is a random
        neighbour. The mutant records ``meta["parent"]`` (the parent's hash) and ``meta["mutation"]``.
        """
        current = self.encode(arch)
        parent = arch.hash()
        variables = self.variables()
        keys = [key for key, variable in variables.items() if len(variable) > 1]
        if not keys:
            raise NasbenchError(f"{self.name}: a space with one member has no mutations")
        for _ in range(self.max_tries):
            key = keys[int(rng.integers(len(keys)))]
            others = [choice for choice in variables[key] if choice != current[key]]
            value = others[int(rng.integers(len(others)))]
            child = self._member({**current, key: value})
            if child is not None and child.hash() != parent:
                return self.as_mutant(child, parent, f"{key}: {current[key]!r} -> {value!r}")
        changes = list(self._changes(arch, current))
        if not changes:
            raise NasbenchError(f"{self.name}: no member is one variable away from {arch.name}")
        key, value, child = changes[int(rng.integers(len(changes)))]
        return self.as_mutant(child, parent, f"{key}: {current[key]!r} -> {value!r}")

    def neighbors(self, arch: Architecture) -> Iterator[Architecture]:
        """Every member one variable away from ``arch``, each network once and never ``arch`` itself."""
        for _, _, child in self._changes(arch, self.encode(arch)):
            yield child

    @staticmethod
    def as_mutant(child: Architecture, parent: str, mutation: str) -> Architecture:
        """``child`` with its parent's hash and a description of the mutation in its meta."""
        child.meta["parent"] = parent
        child.meta["mutation"] = mutation
        return child

    def _member(self, choices: Choices) -> Architecture | None:
        try:
            arch = self.decode(choices)
        except NasbenchError:
            return None
        return arch if self.valid(arch) else None

    def _changes(self, arch: Architecture, current: dict[str, Any]) -> Iterator[tuple[str, Any, Architecture]]:
        """(variable, new choice, member) for every distinct member one variable away from ``arch``."""
        seen = {arch.hash()}
        for key, variable in self.variables().items():
            for value in variable:
                if value == current[key]:
                    continue
                child = self._member({**current, key: value})
                if child is not None and child.hash() not in seen:
                    seen.add(child.hash())
                    yield key, value, child
