"""Small PyTorch modules that the built-in ops need and torch.nn lacks."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Zero(nn.Module):
    """The ``none`` op of cell spaces: zeros of the (optionally strided) input shape, as DARTS's Zero."""

    def __init__(self, stride: tuple[int, int]) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == (1, 1):
            return x.mul(0.0)
        return x[:, :, :: self.stride[0], :: self.stride[1]].mul(0.0)


class FactorizedReduce(nn.Module):
    """DARTS's FactorizedReduce: two offset 1x1 stride-2 convs concatenated, halving H and W without losing pixels.

    The second conv reads the input shifted by one pixel; odd sizes are padded first, as NAS-Bench-201 does.
    """

    def __init__(self, c_in: int, c_out: int, affine: bool) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle: interleave the channels of ``groups`` groups."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ChannelSlice(nn.Module):
    """Channels ``start:stop`` of the input (ShuffleNet v2's channel split)."""

    def __init__(self, start: int, stop: int) -> None:
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start : self.stop]
