"""The DARTS cell space (Liu et al., ICLR 2019) and the normal + reduction cell-pair machinery shared with nasnet.

A member is a normal and a reduction cell in DARTS's CIFAR network. A DARTS cell has 4 intermediate nodes; each node
applies an op to each of 2 earlier states (the two cell inputs or earlier nodes) and adds the results; the cell output
concatenates the 4 nodes. Derived DARTS cells never contain ``none`` (it only competes inside the supernet), so the
discrete space uses the 7 other ops. Two inputs of a node may coincide in the flat view (every choice decodes to a
valid network); sampling draws them independently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn

from nasbench.architecture import Architecture
from nasbench.errors import GenomeError, NasbenchError
from search_spaces.base import Choices, SearchSpace
from search_spaces.cell_networks import cell_network, read_genotype
from search_spaces.genotypes import DARTS_V1, DARTS_V2, CellGenotype, Genotype
from search_spaces.registry import register_space

DARTS_OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
             "dil_conv_5x5")
CELL_TYPES = ("normal", "reduce")


class CellPairSpace(SearchSpace):
    """Normal + reduction cells of ``blocks`` blocks over ``ops`` in DARTS's CIFAR network of ``layers`` cells.

    Flat view per cell and block k: ``<cell>_<k>_in0``/``in1`` (a state 0..k+1), ``<cell>_<k>_op0``/``op1`` and, where
    ``combines`` offers several, ``<cell>_<k>_combine``. ``C`` and ``layers`` default to DARTS's search network
    (16 and 8); DARTS evaluates its cells at C=36, 20 cells.
    """

    ops: tuple[str, ...] = ()
    blocks: int = 4
    combines: tuple[str, ...] = ("add",)
    published: dict[str, Genotype] = {}

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10, C: int = 16,  # noqa: N803
                 layers: int = 8, auxiliary: bool = False) -> None:
        super().__init__(input_shape, num_classes)
        if C < 1 or layers < 3:
            raise NasbenchError(f"{self.name}: needs C >= 1 and layers >= 3, got C={C}, layers={layers}")
        self.C, self.layers, self.auxiliary = int(C), int(layers), bool(auxiliary)

    def concat(self, cell: CellGenotype) -> tuple[int, ...]:
        """The states a cell concatenates (DARTS: all blocks)."""
        return tuple(range(2, 2 + self.blocks))

    def network(self, genotype: Genotype, name: str | None = None) -> Architecture:
        """The member with cells ``genotype`` (its concat lists are set by the space's rule)."""
        cells = {}
        for cell_type in CELL_TYPES:
            cell = getattr(genotype, cell_type)
            self._check(cell, cell_type)
            combine = None if set(cell.combines()) == {"add"} else cell.combine
            cells[cell_type] = CellGenotype(cell.ops, self.concat(cell), combine)
        genotype = Genotype(**cells)
        meta = {"space": self.name, "genotype": _plain(genotype)}
        return cell_network(name or f"{self.name}_cells", genotype, self.input_shape, self.num_classes, self.C,
                            self.layers, auxiliary=self.auxiliary, meta=meta)

    def _check(self, cell: CellGenotype, cell_type: str) -> None:
        if cell.blocks != self.blocks or len(cell.ops) != 2 * self.blocks:
            raise NasbenchError(f"{self.name}: a {cell_type} cell has {self.blocks} blocks of 2 ops")
        for index, (op, source) in enumerate(cell.ops):
            if op not in self.ops or not 0 <= source < 2 + index // 2:
                raise NasbenchError(f"{self.name}: {cell_type} cell op {index} ({op!r}, {source}) is not in the space")
        if any(c not in self.combines for c in cell.combines()):
            raise NasbenchError(f"{self.name}: combinations must be among {', '.join(self.combines)}")

    def genotype(self, arch: Architecture) -> Genotype:
        """The cells of a member."""
        return read_genotype(arch)

    def variables(self) -> dict[str, list[Any]]:
        """Inputs, ops (and combinations) of every block of both cells."""
        variables: dict[str, list[Any]] = {}
        for cell_type in CELL_TYPES:
            for k in range(self.blocks):
                prefix = f"{cell_type}_{k}"
                variables[f"{prefix}_in0"] = list(range(k + 2))
                variables[f"{prefix}_in1"] = list(range(k + 2))
                variables[f"{prefix}_op0"] = list(self.ops)
                variables[f"{prefix}_op1"] = list(self.ops)
                if len(self.combines) > 1:
                    variables[f"{prefix}_combine"] = list(self.combines)
        return variables

    def size(self) -> int:
        """Number of distinct flat encodings (product of the choice counts)."""
        return int(np.prod([len(v) for v in self.variables().values()], dtype=object))

    def encode(self, arch: Architecture) -> dict[str, Any]:
        """The flat choices of a member."""
        genotype = self.genotype(arch)
        choices: dict[str, Any] = {}
        for cell_type in CELL_TYPES:
            cell = getattr(genotype, cell_type)
            self._check(cell, cell_type)
            for k in range(self.blocks):
                prefix = f"{cell_type}_{k}"
                for j in range(2):
                    op, source = cell.ops[2 * k + j]
                    choices[f"{prefix}_in{j}"] = source
                    choices[f"{prefix}_op{j}"] = op
                if len(self.combines) > 1:
                    choices[f"{prefix}_combine"] = cell.combines()[k]
        return choices

    def decode(self, choices: Choices) -> Architecture:
        """The member of the flat choices; a missing or invalid choice raises NasbenchError."""
        variables = self.variables()
        for key, options in variables.items():
            if choices.get(key) not in options:
                raise NasbenchError(f"{self.name}: variable {key} must be one of {options}, got {choices.get(key)!r}")
        cells = {}
        for cell_type in CELL_TYPES:
            ops, combine = [], []
            for k in range(self.blocks):
                prefix = f"{cell_type}_{k}"
                ops += [(choices[f"{prefix}_op{j}"], int(choices[f"{prefix}_in{j}"])) for j in range(2)]
                combine.append(choices.get(f"{prefix}_combine", "add"))
            cells[cell_type] = CellGenotype(tuple(ops), (), tuple(combine))
        return self.network(Genotype(**cells))

    def sample(self, rng: np.random.Generator) -> Architecture:
        """Every block's two inputs, two ops (and combination) drawn uniformly, as NASNet's controller samples."""
        return self.decode({key: options[int(rng.integers(len(options)))]
                            for key, options in self.variables().items()})

    def mutate(self, arch: Architecture, rng: np.random.Generator) -> Architecture:
        """One hidden-state, op (or combination) choice changes (AmoebaNet's mutations); the network must change."""
        choices = self.encode(arch)
        variables = self.variables()
        keys = list(variables)
        parent = arch.hash()
        while True:
            key = keys[int(rng.integers(len(keys)))]
            others = [v for v in variables[key] if v != choices[key]]
            if not others:
                continue
            child = self.decode({**choices, key: others[int(rng.integers(len(others)))]})
            if child.hash() != parent:
                return child

    def contains(self, arch: Architecture) -> bool:
        """Whether ``arch`` is this space's network (C, layers, classes, input) over cells of the space."""
        try:
            expected = self.network(self.genotype(arch))
            return tuple(arch.input_shape) == self.input_shape and expected.hash() == arch.hash()
        except (GenomeError, NasbenchError):
            return False

    def seeds(self) -> list[Architecture]:
        """The published cells that fit the space."""
        return [self.network(genotype, name=name) for name, genotype in self.published.items()]


def _plain(genotype: Genotype) -> dict[str, Any]:
    return {cell_type: {"ops": [list(pair) for pair in getattr(genotype, cell_type).ops],
                        "concat": list(getattr(genotype, cell_type).concat),
                        "combine": list(getattr(genotype, cell_type).combines())} for cell_type in CELL_TYPES}


@register_space("darts")
class DartsSpace(CellPairSpace):
    """DARTS: 4 nodes per cell, 2 inputs each, 7 ops (``none`` lives only in the supernet), concat of the 4 nodes."""

    name = "darts"
    ops = DARTS_OPS[1:]
    blocks = 4
    published = {"darts_v1": DARTS_V1, "darts_v2": DARTS_V2}

    def supernet(self, C: int, layers: int) -> nn.Module:  # noqa: N803
        """DARTS's search network: a softmax-weighted mix of the 8 ops on every edge of both cells."""
        from search_spaces.supernet import DartsSupernet

        return DartsSupernet(C, layers, self.num_classes, in_channels=self.input_shape[0], space=self)
