"""Convolution ops: plain, grouped, dilated, separable (DARTS and MobileNet styles), 1xk-kx1, factorized reduce."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from nasbench.errors import GenomeError
from nasbench.ops.layers import FactorizedReduce
from nasbench.ops.registry import Bool, Choice, Cost, Float, Int, Op, Pair, Shape, register_op

ACTIVATIONS = ("none", "relu", "relu6", "sigmoid", "silu", "hardswish", "tanh")


def activation(name: str, inplace: bool) -> nn.Module | None:
    """The activation module called ``name`` (None for ``none``)."""
    if name == "none":
        return None
    if name == "relu":
        return nn.ReLU(inplace=inplace)
    if name == "relu6":
        return nn.ReLU6(inplace=inplace)
    if name == "silu":
        return nn.SiLU(inplace=inplace)
    if name == "hardswish":
        return nn.Hardswish(inplace=inplace)
    return {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[name]()


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a convolution along one axis (PyTorch's formula)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def auto_padding(kernel: tuple[int, int], dilation: tuple[int, int],
                 padding: tuple[int, int] | None) -> tuple[int, int]:
    """``padding`` if given, else the 'same' padding of a stride-1 conv: ``dilation * (kernel - 1) // 2``."""
    if padding is not None:
        return padding
    return (dilation[0] * (kernel[0] - 1) // 2, dilation[1] * (kernel[1] - 1) // 2)


def conv_shape(shape: Shape, out: int, kernel: tuple[int, int], stride: tuple[int, int],
               padding: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> Shape:
    """Output shape (out, H', W') of a convolution on ``shape``."""
    _, h, w = shape
    return (out, conv_out(h, kernel[0], stride[0], padding[0], dilation[0]),
            conv_out(w, kernel[1], stride[1], padding[1], dilation[1]))


def conv_cost(c_in: int, out_shape: Shape, kernel: tuple[int, int], groups: int, bias: bool) -> Cost:
    """Parameters and MACs of a convolution producing ``out_shape``."""
    c_out, h, w = out_shape
    weights = c_out * (c_in // groups) * kernel[0] * kernel[1]
    return Cost(weights + (c_out if bias else 0), weights * h * w)


def _check_groups(c_in: int, out: int, groups: int) -> None:
    if c_in % groups or out % groups:
        raise GenomeError("groups", f"{groups} groups do not divide {c_in} input and {out} output channels")


@register_op("conv")
@register_op("conv_bn", presets={"bn": True})
@register_op("conv_bn_relu", presets={"bn": True, "act": "relu"})
@register_op("conv_bn_relu6", presets={"bn": True, "act": "relu6"})
@register_op("conv_relu", presets={"bias": True, "act": "relu"})
@register_op("relu_conv_bn", presets={"bn": True, "act": "relu", "order": "act-conv-bn"})
@register_op("bn_relu_conv", presets={"bn": True, "act": "relu", "order": "bn-act-conv"})
class Conv(Op):
    """Convolution k x k with stride, dilation and groups, with optional batch norm and activation in a chosen order."""

    args = {
        "out": Int(minimum=1),
        "kernel": Pair(3, minimum=1),
        "stride": Pair(1, minimum=1),
        "padding": Pair(None, minimum=0),
        "dilation": Pair(1, minimum=1),
        "groups": Int(1, minimum=1),
        "bias": Bool(False),
        "bn": Bool(False),
        "affine": Bool(True),
        "bn_eps": Float(1e-5, minimum=0),
        "act": Choice("none", *ACTIVATIONS),
        "order": Choice("conv-bn-act", "conv-bn-act", "act-conv-bn", "bn-act-conv"),
    }
    category = "conv"
    conv_like = True

    def _padding(self, a: Mapping[str, Any]) -> tuple[int, int]:
        return auto_padding(a["kernel"], a["dilation"], a["padding"])

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        _check_groups(shape[0], a["out"], a["groups"])
        return conv_shape(shape, a["out"], a["kernel"], a["stride"], self._padding(a), a["dilation"])

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        params, macs = conv_cost(shape[0], self.output_shape(shape, a), a["kernel"], a["groups"], a["bias"])
        if a["bn"] and a["affine"]:
            params += 2 * (shape[0] if a["order"] == "bn-act-conv" else a["out"])
        return Cost(params, macs)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        c_in, out = shape[0], a["out"]
        conv = nn.Conv2d(c_in, out, a["kernel"], a["stride"], self._padding(a), a["dilation"], a["groups"], a["bias"])
        order = a["order"]
        bn_channels = c_in if order == "bn-act-conv" else out
        bn = nn.BatchNorm2d(bn_channels, eps=a["bn_eps"], affine=a["affine"]) if a["bn"] else None
        # The activation may overwrite its input only when that input is this op's own intermediate result.
        act = activation(a["act"], inplace=order != "act-conv-bn")
        parts = {"conv-bn-act": (conv, bn, act), "act-conv-bn": (act, conv, bn), "bn-act-conv": (bn, act, conv)}[order]
        return nn.Sequential(*[m for m in parts if m is not None])


@register_op("sep_conv")
class SepConv(Op):
    """DARTS/NASNet separable conv: (ReLU, depthwise k x k, pointwise 1x1, BN) twice, the first with the stride."""

    args = {"out": Int(minimum=1), "kernel": Int(3, minimum=1), "stride": Int(1, minimum=1), "affine": Bool(True)}
    category = "conv"

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        k, s = a["kernel"], a["stride"]
        return conv_shape(shape, a["out"], (k, k), (s, s), ((k - 1) // 2, (k - 1) // 2))

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        c, k, out = shape[0], a["kernel"], a["out"]
        _, h, w = self.output_shape(shape, a)
        bn = 2 if a["affine"] else 0
        params = (c * k * k + c * c + bn * c) + (c * k * k + c * out + bn * out)
        return Cost(params, h * w * (c * k * k + c * c + c * k * k + c * out))

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        c, k, s, out, affine = shape[0], a["kernel"], a["stride"], a["out"], a["affine"]
        p = (k - 1) // 2
        return nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, k, s, p, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c, affine=affine),
            nn.ReLU(inplace=True),
            nn.Conv2d(c, c, k, 1, p, groups=c, bias=False),
            nn.Conv2d(c, out, 1, bias=False),
            nn.BatchNorm2d(out, affine=affine),
        )


@register_op("dil_conv")
class DilConv(Op):
    """DARTS dilated separable conv: ReLU, dilated depthwise k x k, pointwise 1x1, BN."""

    args = {
        "out": Int(minimum=1),
        "kernel": Int(3, minimum=1),
        "stride": Int(1, minimum=1),
        "dilation": Int(2, minimum=1),
        "affine": Bool(True),
    }
    category = "conv"

    def _geometry(self, a: Mapping[str, Any]) -> tuple[int, int, int, int]:
        k, s, d = a["kernel"], a["stride"], a["dilation"]
        return k, s, d, d * (k - 1) // 2

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        k, s, d, p = self._geometry(a)
        return conv_shape(shape, a["out"], (k, k), (s, s), (p, p), (d, d))

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        c, k, out = shape[0], a["kernel"], a["out"]
        _, h, w = self.output_shape(shape, a)
        return Cost(c * k * k + c * out + (2 * out if a["affine"] else 0), h * w * (c * k * k + c * out))

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        c = shape[0]
        k, s, d, p = self._geometry(a)
        return nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, k, s, p, dilation=d, groups=c, bias=False),
            nn.Conv2d(c, a["out"], 1, bias=False),
            nn.BatchNorm2d(a["out"], affine=a["affine"]),
        )


@register_op("dw_sep_conv")
class DepthwiseSeparable(Op):
    """MobileNet v1 block: depthwise k x k conv, BN, activation, pointwise 1x1 conv, BN, activation."""

    args = {"out": Int(minimum=1), "kernel": Int(3, minimum=1), "stride": Int(1, minimum=1),
            "act": Choice("relu", *ACTIVATIONS)}
    category = "conv"

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        k, s = a["kernel"], a["stride"]
        return conv_shape(shape, a["out"], (k, k), (s, s), ((k - 1) // 2, (k - 1) // 2))

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        c, k, out = shape[0], a["kernel"], a["out"]
        _, h, w = self.output_shape(shape, a)
        return Cost(c * k * k + 2 * c + c * out + 2 * out, h * w * (c * k * k + c * out))

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        c, k, s, out = shape[0], a["kernel"], a["stride"], a["out"]
        parts = [nn.Conv2d(c, c, k, s, (k - 1) // 2, groups=c, bias=False), nn.BatchNorm2d(c),
                 activation(a["act"], inplace=True), nn.Conv2d(c, out, 1, bias=False), nn.BatchNorm2d(out),
                 activation(a["act"], inplace=True)]
        return nn.Sequential(*[m for m in parts if m is not None])


@register_op("conv_1xk_kx1")
class Conv1xkKx1(Op):
    """NASNet/DARTS factorized conv: ReLU, 1 x k conv, k x 1 conv, BN (e.g. DARTS's conv_7x1_1x7)."""

    args = {"out": Int(minimum=1), "kernel": Int(7, minimum=1), "stride": Int(1, minimum=1), "affine": Bool(True)}
    category = "conv"

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        k, s = a["kernel"], a["stride"]
        return conv_shape(shape, a["out"], (k, k), (s, s), ((k - 1) // 2, (k - 1) // 2))

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        c, k, out = shape[0], a["kernel"], a["out"]
        _, h1, w1 = conv_shape(shape, out, (1, k), (1, a["stride"]), (0, (k - 1) // 2))
        _, h, w = self.output_shape(shape, a)
        params = c * out * k + out * out * k + (2 * out if a["affine"] else 0)
        return Cost(params, h1 * w1 * c * out * k + h * w * out * out * k)

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        c, k, s, out = shape[0], a["kernel"], a["stride"], a["out"]
        p = (k - 1) // 2
        return nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, out, (1, k), (1, s), (0, p), bias=False),
            nn.Conv2d(out, out, (k, 1), (s, 1), (p, 0), bias=False),
            nn.BatchNorm2d(out, affine=a["affine"]),
        )


def _reduce_shape(shape: Shape, out: int, stride: int) -> Shape:
    _, h, w = shape
    return (out, -(-h // stride), -(-w // stride))


def _reduce_cost(shape: Shape, out: int, stride: int, affine: bool) -> Cost:
    _, h, w = _reduce_shape(shape, out, stride)
    return Cost(shape[0] * out + (2 * out if affine else 0), h * w * shape[0] * out)


@register_op("fact_reduce")
class FactReduce(Op):
    """Cell-input adapter: stride 2 is DARTS's FactorizedReduce, stride 1 is ReLU, 1x1 conv, BN (DARTS's preprocess)."""

    args = {"out": Int(minimum=1), "stride": Int(2, choices=(1, 2)), "affine": Bool(True)}
    category = "conv"

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        return _reduce_shape(shape, a["out"], a["stride"])

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        return _reduce_cost(shape, a["out"], a["stride"], a["affine"])

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        if a["stride"] == 2:
            return FactorizedReduce(shape[0], a["out"], a["affine"])
        return nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(shape[0], a["out"], 1, bias=False),
                             nn.BatchNorm2d(a["out"], affine=a["affine"]))


@register_op("skip_connect")
class SkipConnect(Op):
    """Skip connection of cell spaces: identity at stride 1, FactorizedReduce to the same width at stride 2 (DARTS)."""

    args = {"stride": Int(1, choices=(1, 2)), "affine": Bool(True)}
    category = "plain"
    preserves_width = True

    def output_shape(self, shape: Shape, a: Mapping[str, Any]) -> Shape:
        return _reduce_shape(shape, shape[0], a["stride"])

    def cost(self, shape: Shape, a: Mapping[str, Any]) -> Cost:
        if a["stride"] == 1:
            return Cost(0, 0)
        return _reduce_cost(shape, shape[0], 2, a["affine"])

    def build(self, shape: Shape, a: Mapping[str, Any]) -> nn.Module:
        if a["stride"] == 1:
            return nn.Identity()
        return FactorizedReduce(shape[0], shape[0], a["affine"])
