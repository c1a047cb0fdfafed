"""Shape-preserving and head ops: identity, zero, activations, batch norm, LRN, channel shuffle, linear, dropout."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from torch import nn

from nasbench.errors import GenomeError
from nasbench.ops.conv import ACTIVATIONS, activation
from nasbench.ops.layers import ChannelShuffle, ChannelSlice, Zero
from nasbench.ops.registry import Bool, Choice, Cost, Float, Int, Op, Shape, register_op


class _Free(Op):
    """An op without parameters or MACs whose output has the input's shape."""

    category = "plain"
    preserves_width = True

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        return shape

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return Cost(0, 0)


@register_op("identity")
class Identity(_Free):
    """Identity: passes its (merged) input on; with ``merge: concat`` it is the concatenation node of a cell."""

    dims = (1, 3)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return nn.Identity()


@register_op("zero")
@register_op("none")
class ZeroOp(Op):
    """The ``none`` op of DARTS and NAS-Bench-201: zeros, strided like the ops it competes with."""

    args = {"stride": Int(1, minimum=1)}
    category = "plain"
    preserves_width = True

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        c, h, w = shape
        s = a["stride"]
        return (c, -(-h // s), -(-w // s))

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return Cost(0, 0)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return Zero((a["stride"], a["stride"]))


@register_op("act")
@register_op("relu", presets={"fn": "relu"})
@register_op("relu6", presets={"fn": "relu6"})
@register_op("sigmoid", presets={"fn": "sigmoid"})
class Activation(_Free):
    """An element-wise activation (relu, relu6, sigmoid, silu, hardswish, tanh)."""

    args = {"fn": Choice("relu", *ACTIVATIONS[1:])}
    dims = (1, 3)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        module = activation(a["fn"], inplace=False)
        assert module is not None
        return module


@register_op("bn")
@register_op("bn_relu", presets={"act": "relu"})
class BatchNorm(Op):
    """Batch normalization over channels, optionally followed by an activation (pre-activation ResNet, DenseNet)."""

    args = {"affine": Bool(True), "eps": Float(1e-5, minimum=0), "act": Choice("none", *ACTIVATIONS)}
    dims = (1, 3)
    category = "plain"
    preserves_width = True

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        return shape

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return Cost(2 * shape[0] if a["affine"] else 0, 0)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        norm_class = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        norm = norm_class(shape[0], eps=a["eps"], affine=a["affine"])
        act = activation(a["act"], inplace=True)
        return norm if act is None else nn.Sequential(norm, act)


@register_op("lrn")
class LocalResponseNorm(_Free):
    """Local response normalization across channels (AlexNet, VGG A-LRN, GoogLeNet)."""

    args = {"size": Int(5, minimum=1), "alpha": Float(1e-4), "beta": Float(0.75), "k": Float(2.0)}

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return nn.LocalResponseNorm(a["size"], a["alpha"], a["beta"], a["k"])


@register_op("channel_shuffle")
class Shuffle(_Free):
    """ShuffleNet's channel shuffle across ``groups``."""

    args = {"groups": Int(minimum=1)}

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        if shape[0] % a["groups"]:
            raise GenomeError("groups", f"{a['groups']} groups do not divide {shape[0]} channels")
        return shape

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return ChannelShuffle(a["groups"])


@register_op("channel_slice")
class Slice(Op):
    """Channels ``start:stop`` of the input: ShuffleNet v2's channel split."""

    args = {"start": Int(minimum=0), "stop": Int(minimum=1)}
    category = "plain"

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        if not a["start"] < a["stop"] <= shape[0]:
            raise GenomeError("stop", f"slice {a['start']}:{a['stop']} does not fit {shape[0]} channels")
        return (a["stop"] - a["start"], *shape[1:])

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return Cost(0, 0)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return ChannelSlice(a["start"], a["stop"])


@register_op("flatten")
class Flatten(Op):
    """Flatten (C, H, W) to a feature vector (C*H*W,)."""

    category = "head"

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        return (math.prod(shape),)

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return Cost(0, 0)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return nn.Flatten(1)


@register_op("linear")
class Linear(Op):
    """Fully connected layer; an image input is flattened first (VGG's and AlexNet's classifiers)."""

    args = {"out": Int(minimum=1), "bias": Bool(True)}
    dims = (1, 3)
    category = "head"

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        return (a["out"],)

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        features = math.prod(shape)
        return Cost(features * a["out"] + (a["out"] if a["bias"] else 0), features * a["out"])

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        layer = nn.Linear(math.prod(shape), a["out"], bias=a["bias"])
        return layer if len(shape) == 1 else nn.Sequential(nn.Flatten(1), layer)


@register_op("dropout")
class Dropout(_Free):
    """Dropout with probability p (active in training only)."""

    args = {"p": Float(0.5, minimum=0)}
    dims = (1, 3)

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        if a["p"] >= 1:
            raise GenomeError("p", f"dropout probability must be below 1, got {a['p']}")
        return shape

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        return nn.Dropout(a["p"])
