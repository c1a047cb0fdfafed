"""Width and resolution rules that the zoo factories share when they adapt a network to another input or width."""

from __future__ import annotations

from collections.abc import Callable

SMALL_INPUT = 64  # below this height, early reductions are removed (the CIFAR variants of ImageNet networks)


def width(channels: int, width_mult: float, divisor: int = 1) -> int:
    """``channels`` scaled by ``width_mult``, rounded to a multiple of ``divisor`` and at least ``divisor``."""
    return max(divisor, int(round(channels * width_mult / divisor)) * divisor)


def is_small(height: int) -> bool:
    """Whether an input of this height is a small-dataset input (CIFAR, digits) rather than an ImageNet one."""
    return height < SMALL_INPUT


def reductions_that_fit(size: int, count: int, shrink: Callable[[int], int]) -> int:
    """How many of ``count`` successive reductions ``shrink`` can apply to ``size`` before it would drop below 1."""
    kept = 0
    while kept < count:
        size = shrink(size)
        if size < 1:
            break
        kept += 1
    return kept
