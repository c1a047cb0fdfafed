"""One-shot supernets over nb201 and darts: forward/backward, architecture parameters, genotype derivation."""

from __future__ import annotations

import torch

import search_spaces
from search_spaces import darts, genotypes, nb201
from search_spaces.cell_networks import read_genotype
from search_spaces.darts import DARTS_OPS


def _train_step(net: torch.nn.Module) -> None:
    x = torch.randn(2, 3, 16, 16)
    loss = torch.nn.functional.cross_entropy(net(x), torch.tensor([0, 1]))
    loss.backward()
    for alpha in net.arch_parameters():
        assert alpha.grad is not None and alpha.grad.abs().sum() > 0
    assert all(p.grad is not None for p in net.weights() if p.requires_grad)


def test_nb201_supernet_trains_and_derives_a_member() -> None:
    space = search_spaces.get("nb201", input_shape=(3, 16, 16))
    net = space.supernet(4, 1)
    (alpha,) = net.arch_parameters()
    assert alpha.shape == (6, 5)
    assert {id(p) for p in net.weights()}.isdisjoint({id(alpha)})
    _train_step(net)
    target = "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    with torch.no_grad():
        alpha.zero_()
        for e, op in enumerate(nb201.parse_string(target)[edge] for edge in nb201.EDGES):
            alpha[e, nb201.OPS.index(op)] = 1.0
    derived = net.genotype()
    assert space.contains(derived) and space.to_string(derived) == target
    assert isinstance(net, nb201.NB201Supernet) and net.space is space


def test_darts_supernet_trains_and_derives_darts_v2() -> None:
    space = search_spaces.get("darts", input_shape=(3, 16, 16), C=8, layers=5)
    net = space.supernet(4, 5)
    normal, reduce = net.arch_parameters()
    assert normal.shape == reduce.shape == (14, 8)
    _train_step(net)
    with torch.no_grad():
        for alpha, cell in ((normal, genotypes.DARTS_V2.normal), (reduce, genotypes.DARTS_V2.reduce)):
            alpha.zero_()
            alpha[:, DARTS_OPS.index("none")] = 5.0  # none never survives the derivation
            offset = 0
            for node in range(4):
                for rank, (op, source) in enumerate(cell.ops[2 * node:2 * node + 2]):
                    alpha[offset + source, DARTS_OPS.index(op)] = 3.0 - rank
                offset += node + 2
    derived = net.genotype()
    assert space.contains(derived)
    assert read_genotype(derived) == genotypes.DARTS_V2
    assert isinstance(net, darts.DartsSupernet) and net.space is space
