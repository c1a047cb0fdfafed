"""Published NASNet/DARTS-style cell genotypes, as data.

A cell genotype lists, for each block (intermediate node) in order, two ``(op, input)`` pairs; input 0 is the output
of the cell before the previous one, input 1 the previous cell's output, and input ``k + 2`` the k-th block. Blocks add
their two operands unless ``combine`` says otherwise; the cell outputs the concatenation of the ``concat`` states.
The values are those of the official DARTS repository's ``genotypes.py`` (quark0/darts), which transcribes NASNet-A
and AmoebaNet-A from their papers, and of the ENAS cell as transcribed by the NAS-Projects / NSGA-Net repositories from
the ENAS paper's figure.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CellGenotype:
    """One cell: ``ops`` = ((op, input), ...) two per block, the states it concatenates, and each block's combine."""

    ops: tuple[tuple[str, int], ...]
    concat: tuple[int, ...]
    combine: tuple[str, ...] | None = None  # per block: "add" (default) or "concat"

    @property
    def blocks(self) -> int:
        """Number of blocks (intermediate nodes)."""
        return len(self.ops) // 2

    def combines(self) -> tuple[str, ...]:
        """The combination of every block."""
        return self.combine or ("add",) * self.blocks


@dataclass(frozen=True)
class Genotype:
    """A normal and a reduction cell."""

    normal: CellGenotype
    reduce: CellGenotype


def _cell(ops: list[tuple[str, int]], concat: list[int]) -> CellGenotype:
    return CellGenotype(tuple(ops), tuple(concat))


_NASNET_NORMAL = [("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 0), ("sep_conv_3x3", 0),
                  ("avg_pool_3x3", 1), ("skip_connect", 0), ("avg_pool_3x3", 0), ("avg_pool_3x3", 0),
                  ("sep_conv_3x3", 1), ("skip_connect", 1)]
_NASNET_REDUCE = [("sep_conv_5x5", 1), ("sep_conv_7x7", 0), ("max_pool_3x3", 1), ("sep_conv_7x7", 0),
                  ("avg_pool_3x3", 1), ("sep_conv_5x5", 0), ("skip_connect", 3), ("avg_pool_3x3", 2),
                  ("sep_conv_3x3", 2), ("max_pool_3x3", 1)]

# NASNet-A as the reference TensorFlow implementation (tensorflow/models research/slim nasnet_utils) wires it: the
# normal cell also concatenates the older input h_{i-1} (6 states: the "768" of 6@768 is 6 x 128), the reduction
# cell concatenates states 3-6 (its hard-coded used_hiddenstates), so this is the published 3.3M-parameter network.
NASNET_A = Genotype(normal=_cell(_NASNET_NORMAL, [0, 2, 3, 4, 5, 6]), reduce=_cell(_NASNET_REDUCE, [3, 4, 5, 6]))

# The DARTS repository's transcription of NASNet-A: the same blocks, concatenating exactly the unused blocks (the
# rule of the NASNet paper's search space), so it is a member of the ``nasnet`` space.
NASNET_A_DARTS = Genotype(normal=_cell(_NASNET_NORMAL, [2, 3, 4, 5, 6]), reduce=_cell(_NASNET_REDUCE, [4, 5, 6]))

AMOEBANET_A = Genotype(
    normal=_cell([("avg_pool_3x3", 0), ("max_pool_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 2),
                  ("sep_conv_3x3", 0), ("avg_pool_3x3", 3), ("sep_conv_3x3", 1), ("skip_connect", 1),
                  ("skip_connect", 0), ("avg_pool_3x3", 1)], [4, 5, 6]),
    reduce=_cell([("avg_pool_3x3", 0), ("sep_conv_3x3", 1), ("max_pool_3x3", 0), ("sep_conv_7x7", 2),
                  ("sep_conv_7x7", 0), ("avg_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 1),
                  ("conv_7x1_1x7", 0), ("sep_conv_3x3", 5)], [3, 4, 6]),
)

DARTS_V1 = Genotype(
    normal=_cell([("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
                  ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)], [2, 3, 4, 5]),
    reduce=_cell([("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
                  ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)], [2, 3, 4, 5]),
)

DARTS_V2 = Genotype(
    normal=_cell([("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
                  ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)], [2, 3, 4, 5]),
    reduce=_cell([("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
                  ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)], [2, 3, 4, 5]),
)

ENAS = Genotype(
    normal=_cell([("sep_conv_3x3", 1), ("skip_connect", 1), ("sep_conv_5x5", 1), ("skip_connect", 0),
                  ("avg_pool_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("avg_pool_3x3", 0),
                  ("sep_conv_5x5", 1), ("avg_pool_3x3", 0)], [2, 3, 4, 5, 6]),
    reduce=_cell([("sep_conv_5x5", 0), ("avg_pool_3x3", 1), ("sep_conv_3x3", 1), ("avg_pool_3x3", 1),
                  ("avg_pool_3x3", 1), ("sep_conv_3x3", 1), ("sep_conv_5x5", 4), ("avg_pool_3x3", 1),
                  ("sep_conv_3x3", 5), ("sep_conv_5x5", 0)], [2, 3, 6]),
)

GENOTYPES: dict[str, Genotype] = {
    "nasnet_a": NASNET_A,
    "nasnet_a_darts": NASNET_A_DARTS,
    "amoebanet_a": AMOEBANET_A,
    "darts_v1": DARTS_V1,
    "darts_v2": DARTS_V2,
    "enas": ENAS,
}
