"""Genomes shared by several test modules."""

from __future__ import annotations

# A two-block ResNet on 3x32x32: one cell template with width and stride variables, a repeat and an add merge.
TINY_RESNET_YAML = """
name: tiny
input_shape: [3, 32, 32]
cells:
  basic:
    vars: {C: null, s: 1}
    nodes:
      c1: {op: conv_bn_relu, args: {out: C, stride: s}, inputs: [x]}
      c2: {op: conv_bn, args: {out: C}, inputs: [c1]}
      out: {op: relu, inputs: [c2, x], merge: add}
    output: out
network:
  nodes:
    stem: {op: conv_bn_relu, args: {out: 16}, inputs: [input]}
    b: {cell: basic, vars: {C: 16}, inputs: [stem], repeat: 2}
    gap: {op: global_avg_pool, inputs: [b]}
    fc: {op: linear, args: {out: 10}, inputs: [gap]}
  output: fc
"""
