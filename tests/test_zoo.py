"""Every registered zoo network, as timm tests every model: counts, FLOPs, shapes, round trip, published figures, and
a short training run of its small adaptation on scikit-learn's digits."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.flop_counter import FlopCounterMode

import nasbench
from nasbench.architecture import Architecture
from search_spaces import zoo

SMALL_SHAPE = (1, 16, 16)
WIDTH_MULTS = (0.25, 0.125, 0.0625, 0.03125)  # the widest whose adaptation fits the MAC budget is trained
MAC_BUDGET = 1_500_000  # per 16x16 sample: keeps the whole file within a few minutes on one core
REAL_FLOPS_MAX_PARAMS = 5_000_000  # networks small enough to count FLOPs on real tensors if meta ones fail
SAMPLES, BATCH, EPOCHS = 192, 64, 3


def _default_classes(name: str) -> int:
    entry = zoo.entry(name)
    if "num_classes" in entry.options:
        return int(entry.options["num_classes"])
    return int(inspect.signature(entry.factory).parameters["num_classes"].default)


def _count_macs(module: torch.nn.Module, shape: tuple[int, ...], device: str) -> tuple[float, torch.Tensor]:
    module.eval()
    x = torch.zeros(1, *shape, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = module(x)
    return counter.get_total_flops() / 2, y


def _measured_macs(arch: Architecture, params: int, module: torch.nn.Module) -> tuple[float, torch.Tensor]:
    """FLOP-counter MACs of the inference path (auxiliary heads left out), on meta tensors where the ops allow."""
    try:
        if arch.network.aux:
            with torch.device("meta"):
                module = nasbench.build(arch, aux=False)
        return _count_macs(module, arch.input_shape, "meta")
    except (NotImplementedError, RuntimeError):
        if params > REAL_FLOPS_MAX_PARAMS:
            raise
        return _count_macs(nasbench.build(arch, aux=False), arch.input_shape, "cpu")


def _adapt_small(arch: Architecture) -> Architecture:
    for width_mult in WIDTH_MULTS:
        small = zoo.adapt(arch, SMALL_SHAPE, 10, width_mult=width_mult)
        if small.macs() <= MAC_BUDGET:
            return small
    return small


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_digits()
    x = torch.tensor(data.images[:SAMPLES], dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=SMALL_SHAPE[1:], mode="bilinear", align_corners=False)
    return (x - x.mean()) / x.std(), torch.tensor(data.target[:SAMPLES])


def _epoch_losses(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    optimizer = torch.optim.Adam(module.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    module.train()
    losses = []
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), BATCH):
            batch = order[start:start + BATCH]
            out = module(x[batch])
            logits = out[0] if isinstance(out, tuple) else out
            loss = F.cross_entropy(logits, y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        losses.append(total / len(x))
    return losses


def test_registry_is_populated() -> None:
    names = zoo.names()
    assert {"resnet18", "resnet50", "vgg16"} <= set(names)
    assert all(zoo.entry(name).paper for name in names)


@pytest.mark.parametrize("name", zoo.names())
def test_zoo_network(name: str, digits: tuple[torch.Tensor, torch.Tensor]) -> None:
    entry = zoo.entry(name)
    arch = zoo.get(name)
    lowered = arch.lower()
    params, macs = lowered.params, lowered.macs

    with torch.device("meta"):
        module = nasbench.build(arch)
    assert sum(p.numel() for p in module.parameters()) == params

    measured, out = _measured_macs(arch, params, module)
    assert macs == pytest.approx(measured, rel=0.01)
    assert tuple(out.shape) == (1, _default_classes(name))

    assert Architecture.from_yaml(arch.to_yaml()).hash() == arch.hash()

    if entry.params is not None:
        if entry.exact:
            assert params == entry.params
        else:
            assert params == pytest.approx(entry.params, rel=entry.tolerance)
    if entry.macs is not None:
        assert macs == pytest.approx(entry.macs, rel=0.02)

    small = _adapt_small(arch)
    assert small.output_shape() == (10,)
    net = nasbench.build(small)
    x, y = digits
    net.eval()
    with torch.no_grad():
        assert tuple(net(x[:BATCH]).shape) == (BATCH, 10)
    torch.manual_seed(0)
    losses = _epoch_losses(net, x, y)
    assert losses[-1] < losses[0], f"{name} adapted to {SMALL_SHAPE}: epoch losses {losses}"
