"""Genomes shared by the test modules: the tiny ResNet in its variants, and a one-linear-layer leaf."""

from __future__ import annotations

import re
from collections.abc import Sequence
from string import Template

# A two-block ResNet: one cell template with width and stride variables, a repeat and an add merge. Lines tagged
# "# if aux" or "# if projection" are only in the variants that ask for them (tiny_resnet drops the tags).
_TINY_RESNET = Template("""
name: tiny
input_shape: [3, $size, $size]
cells:
  basic:
    vars: {C: null, s: 1}
    nodes:
      c1: {op: conv_bn_relu, args: {out: C, stride: s}, inputs: [x]}
      c2: {op: conv_bn, args: {out: C}, inputs: [c1]}
      out: {op: relu, inputs: [c2, x], merge: add}
    output: out
  proj:                                                                       # if projection
    vars: {C: null}                                                           # if projection
    nodes:                                                                    # if projection
      c1: {op: conv_bn_relu, args: {out: C, stride: 2}, inputs: [x]}          # if projection
      c2: {op: conv_bn, args: {out: C}, inputs: [c1]}                         # if projection
      sc: {op: conv_bn, args: {out: C, kernel: 1, stride: 2}, inputs: [x]}    # if projection
      out: {op: relu, inputs: [c2, sc], merge: add}                           # if projection
    output: out                                                               # if projection
network:
  nodes:
    stem: {op: conv_bn_relu, args: {out: $width}, inputs: [input]}
    b: {cell: basic, vars: {C: $width}, inputs: [stem], repeat: 2}
    p: {cell: proj, vars: {C: $wide}, inputs: [b]}                            # if projection
    gap: {op: global_avg_pool, inputs: [$features]}
    aux: {op: linear, args: {out: $classes}, inputs: [stem]}                  # if aux
    fc: {op: linear, args: {out: $classes}, inputs: [gap]}
  output: fc
  aux: [aux]                                                                  # if aux
""")
_TAG = re.compile(r"\s+# if (\w+)$")


def tiny_resnet(size: int = 32, width: int = 16, aux: bool = False, projection: bool = False,
                classes: int = 10) -> str:
    """The tiny ResNet genome on 3 x size x size with stem and blocks of ``width`` channels.

    ``aux`` adds a linear auxiliary head ``aux`` on the stem; ``projection`` adds a strided cell ``p`` of twice the
    width, with a 1x1 conv shortcut, between the blocks and the pooling.
    """
    wanted = {"aux": aux, "projection": projection}
    text = _TINY_RESNET.substitute(size=size, width=width, wide=2 * width, classes=classes,
                                   features="p" if projection else "b")
    lines = []
    for line in text.split("\n"):
        tag = _TAG.search(line)
        if tag is None or wanted[tag.group(1)]:
            lines.append(_TAG.sub("", line))
    return "\n".join(lines)


# The default variant, for the tests (and the genome files they write) that take it as text.
TINY_RESNET_YAML = tiny_resnet()

_LEAF = Template("""
name: leaf
input_shape: [$shape]
network:
  nodes:
    fc: {op: linear, args: {out: $classes}, inputs: [input]}
  output: fc
""")


def leaf(input_shape: Sequence[int], classes: int) -> str:
    """A network of one linear layer: for tests whose evaluator never looks at the network."""
    return _LEAF.substitute(shape=", ".join(map(str, input_shape)), classes=classes)
