"""Speed of compiled genomes against hand-written PyTorch: one training step (forward + backward) of the compiled zoo
``resnet18``, ``resnet50`` and ``densenet121`` next to plain implementations of the same networks written here in the
torchvision style (BasicBlock / Bottleneck / ResNet, DenseNet with ``_DenseLayer`` and ``torch.cat``).

Both models of a network are built with equal parameter counts (asserted), run on the same batch, and timed
interleaved: each repeat times the compiled step and the hand-written step back to back (alternating which goes first),
after warm-up steps; the medians and their ratio (compiled / hand-written) are printed, and the ratio of the fastest
steps (the least disturbed by other processes on a shared machine). On the CPU the clock is the process's CPU time
(``--clock cpu``), which leaves out the time other processes take the core away; ``--clock wall`` for wall time.

    OMP_NUM_THREADS=1 python benchmarks/compile_speed.py --batch 4 --size 112 [--repeats 9] [--networks resnet18]
        [--device cpu|cuda] [--channels-last] [--amp] [--clock cpu|wall]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from torch import nn

import nasbench
from search_spaces import zoo

# ------------------------------------------------------------------------------------------------ hand-written models


class BasicBlock(nn.Module):
    """ResNet basic block (torchvision's): 3x3 conv-BN-ReLU, 3x3 conv-BN, plus the (projected) shortcut, ReLU."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck (torchvision's): 1x1, 3x3 with the stride, 1x1 to 4x the width, shortcut, ReLU."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ImageNet ResNet (torchvision's layout): 7x7/2 stem, 3x3/2 max pool, four stages, global pool, classifier."""

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: Sequence[int],
                 num_classes: int = 1000) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._stage(block, 64, layers[0], 1)
        self.layer2 = self._stage(block, 128, layers[1], 2)
        self.layer3 = self._stage(block, 256, layers[2], 2)
        self.layer4 = self._stage(block, 512, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _stage(self, block: type[BasicBlock] | type[Bottleneck], planes: int, blocks: int,
               stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
        stage = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        stage += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class _DenseLayer(nn.Module):
    """DenseNet-BC layer: BN-ReLU-1x1 conv to ``bn_size * growth``, BN-ReLU-3x3 conv to ``growth`` channels."""

    def __init__(self, channels: int, growth: int, bn_size: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(channels, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, 1, 1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class _DenseBlock(nn.ModuleDict):
    """``layers`` dense layers; each reads the concatenation of the block input and every earlier layer's output."""

    def __init__(self, layers: int, channels: int, growth: int, bn_size: int) -> None:
        super().__init__()
        for i in range(layers):
            self.add_module(f"denselayer{i + 1}", _DenseLayer(channels + i * growth, growth, bn_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNet(nn.Module):
    """DenseNet-BC for ImageNet (torchvision's layout): stem, dense blocks, transitions, BN-ReLU, pool, head."""

    def __init__(self, depths: Sequence[int] = (6, 12, 24, 16), growth: int = 32, init_features: int = 64,
                 bn_size: int = 4, num_classes: int = 1000) -> None:
        super().__init__()
        parts: list[tuple[str, nn.Module]] = [
            ("conv0", nn.Conv2d(3, init_features, 7, 2, 3, bias=False)), ("norm0", nn.BatchNorm2d(init_features)),
            ("relu0", nn.ReLU(inplace=True)), ("pool0", nn.MaxPool2d(3, 2, 1))]
        channels = init_features
        for i, layers in enumerate(depths):
            parts.append((f"denseblock{i + 1}", _DenseBlock(layers, channels, growth, bn_size)))
            channels += layers * growth
            if i != len(depths) - 1:
                parts.append((f"transition{i + 1}", nn.Sequential(
                    nn.BatchNorm2d(channels), nn.ReLU(inplace=True), nn.Conv2d(channels, channels // 2, 1, bias=False),
                    nn.AvgPool2d(2, 2))))
                channels //= 2
        parts += [("norm5", nn.BatchNorm2d(channels)), ("relu5", nn.ReLU(inplace=True)),
                  ("pool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten())]
        self.features = nn.Sequential(OrderedDict(parts))
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


HAND_WRITTEN: dict[str, Callable[[], nn.Module]] = {
    "resnet18": lambda: ResNet(BasicBlock, (2, 2, 2, 2)),
    "resnet50": lambda: ResNet(Bottleneck, (3, 4, 6, 3)),
    "densenet121": lambda: DenseNet((6, 12, 24, 16)),
}

# ------------------------------------------------------------------------------------------------ timing


def count_params(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
"""``cpu`` counts this process's CPU time only, so time lost to other processes on a shared CPU does not enter."""


def training_step(model: nn.Module, batch: torch.Tensor, amp: bool,
                  clock: Callable[[], float] = time.perf_counter) -> Callable[[], float]:
    """A closure running one forward + backward of ``model`` on ``batch`` and returning its time on ``clock``."""
    device = batch.device.type
    autocast = (torch.autocast(device, dtype=torch.float16 if device == "cuda" else torch.bfloat16) if amp
                else contextlib.nullcontext())

    def step() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        started = clock()
        with autocast:
            loss = model(batch).float().sum()
        loss.backward()
        if device == "cuda":
            torch.cuda.synchronize()
        elapsed = clock() - started
        model.zero_grad(set_to_none=True)
        return elapsed

    return step


def compare(name: str, args: argparse.Namespace) -> dict[str, float]:
    """Time the compiled and the hand-written ``name`` interleaved; the medians in seconds and their ratio."""
    shape = (3, args.size, args.size)
    compiled = nasbench.build(zoo.get(name), seed=0, input_shape=shape)
    torch.manual_seed(0)
    hand = HAND_WRITTEN[name]()
    params = count_params(compiled), count_params(hand)
    assert params[0] == params[1], f"{name}: compiled has {params[0]:,} parameters, hand-written {params[1]:,}"
    memory = torch.channels_last if args.channels_last else torch.contiguous_format
    batch = torch.randn(args.batch, *shape, device=args.device).contiguous(memory_format=memory)
    steps = []
    for model in (compiled, hand):
        model.to(args.device, memory_format=memory).train()
        steps.append(training_step(model, batch, args.amp, CLOCKS[args.clock]))
    for _ in range(args.warmup):
        for step in steps:
            step()
    times: list[list[float]] = [[], []]
    for repeat in range(args.repeats):
        # Alternate who goes first so that neither side always runs on a cache warmed (or a core heated) by the other.
        order = (0, 1) if repeat % 2 == 0 else (1, 0)
        for side in order:
            times[side].append(steps[side]())
    compiled_s, hand_s = statistics.median(times[0]), statistics.median(times[1])
    # On a shared machine the fastest step is the one least disturbed by other processes: report its ratio too.
    return {"params": params[0], "compiled_s": compiled_s, "hand_s": hand_s, "ratio": compiled_s / hand_s,
            "min_ratio": min(times[0]) / min(times[1])}


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options, run every network and print one line per network."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=112, help="input resolution (square)")
    parser.add_argument("--repeats", type=int, default=9, help="timed steps per model (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model first")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--amp", action="store_true", help="autocast: float16 on CUDA, bfloat16 on CPU")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default=None,
                        help="wall time, or this process's CPU time (default: cpu on the CPU, wall on CUDA)")
    parser.add_argument("--networks", default=",".join(HAND_WRITTEN),
                        help=f"comma-separated, from {', '.join(HAND_WRITTEN)}")
    args = parser.parse_args(argv)
    if args.size < 64:
        # Below 64 pixels the zoo factories switch to their CIFAR stems, which the hand-written models do not have.
        parser.error("--size must be at least 64 (smaller inputs get the zoo's CIFAR stems)")
    if args.clock is None:
        args.clock = "cpu" if args.device == "cpu" else "wall"
    if args.clock == "cpu" and args.device != "cpu":
        parser.error("--clock cpu measures host CPU time only: use --clock wall on an accelerator")
    names = [name.strip() for name in args.networks.split(",") if name.strip()]
    unknown = sorted(set(names) - set(HAND_WRITTEN))
    if unknown:
        parser.error(f"unknown network(s) {', '.join(unknown)} (known: {', '.join(HAND_WRITTEN)})")
    print(f"device={args.device} threads={torch.get_num_threads()} batch={args.batch} size={args.size} "
          f"repeats={args.repeats} clock={args.clock} channels_last={args.channels_last} amp={args.amp}")
    print(f"{'network':<12} {'params':>12} {'compiled ms':>12} {'hand ms':>10} {'ratio':>7} {'min ratio':>9}")
    for name in names:
        result = compare(name, args)
        print(f"{name:<12} {result['params']:>12,} {1000 * result['compiled_s']:>12.1f} "
              f"{1000 * result['hand_s']:>10.1f} {result['ratio']:>7.3f} {result['min_ratio']:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
