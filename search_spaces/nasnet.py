"""The NASNet cell space (Zoph et al., CVPR 2018): normal + reduction cells of 5 blocks over 13 ops.

Each block picks two hidden states (the two cell inputs or earlier blocks), an op for each and a combination (add or
concat), as NASNet's controller samples it; the cell outputs the concatenation of the blocks no other block uses.
Ops (REFERENCE.md): identity (``skip_connect``: FactorizedReduce at stride 2), 1x3-then-3x1 and 1x7-then-7x1 convs,
3x3 dilated (separable) conv, 3x3 average pool, 3x3/5x5/7x7 max pool, 1x1 and 3x3 convs (ReLU-conv-BN), 3x3/5x5/7x7
separable convs. The ``seeds`` are the published cells whose ops fit: NASNet-A (the DARTS repository's transcription,
which concatenates exactly the unused blocks), AmoebaNet-A and the ENAS cell.
"""

from __future__ import annotations

from search_spaces.darts import CellPairSpace
from search_spaces.genotypes import AMOEBANET_A, ENAS, NASNET_A_DARTS, CellGenotype
from search_spaces.registry import register_space

NASNET_OPS = ("skip_connect", "conv_3x1_1x3", "conv_7x1_1x7", "dil_conv_3x3", "avg_pool_3x3", "max_pool_3x3",
              "max_pool_5x5", "max_pool_7x7", "conv_1x1", "conv_3x3", "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7")


@register_space("nasnet")
class NasnetSpace(CellPairSpace):
    """NASNet: 5 blocks per cell, 13 ops, add or concat, unused blocks concatenated (DARTS's CIFAR network)."""

    ops = NASNET_OPS
    blocks = 5
    combines = ("add", "concat")
    published = {"nasnet_a": NASNET_A_DARTS, "amoebanet_a": AMOEBANET_A, "enas": ENAS}

    def concat(self, cell: CellGenotype) -> tuple[int, ...]:
        """The blocks that no other block reads."""
        used = {source for _, source in cell.ops}
        return tuple(state for state in range(2, 2 + self.blocks) if state not in used)
