"""Building blocks shared by the Inception family: GoogLeNet, Inception v3, Inception v4 and Inception-ResNet-v2.

An inception module is a cell template whose branches are chains of convolutions over the same input, joined by a
channel concatenation; its widths are template variables, so one template serves every module of a stage (as the
rows of GoogLeNet's table) and every width multiplier. The factories live in ``googlenet.py``, ``inception_v3.py``
and ``inception_v4.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nasbench.cell import Cell
from search_spaces.zoo.networks.scaling import width

# The batch norm epsilon of Inception v2-v4 (TensorFlow's), which torchvision's and timm's BasicConv2d keep.
BN_EPS = 1e-3
# The full Inception v3/v4 stem needs 75 pixels (torchvision's documented minimum input): below that the stem keeps
# none of its reductions and pads its valid convolutions, so the stride-2 reduction modules still fit.
MIN_FULL_STEM = 75


class Convs:
    """Adds convolution nodes of one kind (op and fixed arguments) to a cell: ``convs(name, source, out, kernel)``."""

    def __init__(self, cell: Cell, op: str = "conv_bn_relu", **fixed: Any) -> None:
        self.cell, self.op, self.fixed = cell, op, fixed

    def __call__(self, name: str, source: str, out: int | str, kernel: int | Sequence[int] = 1,
                 stride: int | str = 1, padding: int | str | Sequence[int] | None = None) -> str:
        """Add ``name`` = conv(``source``) with ``out`` channels and return its name.

        ``padding`` None is 'same' padding for stride 1 (``(k-1)//2``); Inception's unpadded convs pass 0.
        """
        args: dict[str, Any] = {"out": out, "kernel": _plain(kernel)}
        if stride != 1:
            args["stride"] = stride
        if padding is not None:
            args["padding"] = _plain(padding)
        args.update(self.fixed)
        return self.cell.add(name, self.op, inputs=[source], args=args)


def _plain(value: Any) -> Any:
    # Pairs go into the genome as lists, which YAML and JSON keep as they are; expressions stay strings.
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else value


def required(widths: Mapping[str, int], **others: Any) -> dict[str, Any]:
    """Template variables: every width of ``widths`` required (None), plus ``others`` with their defaults."""
    return {**dict.fromkeys(widths), **others}


def scaled(widths: Mapping[str, int], width_mult: float) -> dict[str, int]:
    """Instance variables: each published width times ``width_mult`` (rounded, at least 1)."""
    return {name: width(channels, width_mult) for name, channels in widths.items()}


def concat(cell: Cell, branches: Sequence[str]) -> str:
    """Join ``branches`` by channel concatenation into the cell's output node ``out``."""
    cell.add("out", "identity", inputs=list(branches), merge="concat")
    cell.output = "out"
    return "out"


def aux_geometry(size: int) -> tuple[int, int]:
    """Pooling kernel and pooled size of an auxiliary head (5x5 average pooling, stride 3) on a ``size`` grid.

    At ImageNet resolution the pool is 5x5 (14x14 -> 4x4 in GoogLeNet, 17x17 -> 5x5 in Inception v3); on a smaller grid
    the kernel shrinks to the grid so that the head still fits.
    """
    kernel = min(5, size)
    return kernel, (size - kernel) // 3 + 1
