"""The darts and nasnet cell-pair spaces and the NASNet/DARTS-style cell networks they build."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nasbench
import search_spaces
from nasbench.errors import NasbenchError
from search_spaces import genotypes
from search_spaces.cell_networks import cell_network, read_genotype
from search_spaces.darts import CellPairSpace
from search_spaces.genotypes import CellGenotype, Genotype


@pytest.fixture(scope="module", params=["darts", "nasnet"])
def space(request: pytest.FixtureRequest) -> CellPairSpace:
    return search_spaces.get(request.param, input_shape=(3, 16, 16), num_classes=10, C=8, layers=5)


def test_every_published_genotype_round_trips_through_the_genome() -> None:
    for genotype in genotypes.GENOTYPES.values():
        arch = cell_network("n", genotype, (3, 16, 16), 10, 8, 5)
        assert read_genotype(nasbench.Architecture.from_yaml(arch.to_yaml())) == genotype


def test_darts_v2_matches_the_published_network() -> None:
    # DARTS (second order) on CIFAR-10: 20 cells at C=36, 3.3M parameters (3,349,342 counting as DARTS does, without
    # the auxiliary head); the head is an auxiliary output that the count includes when present.
    arch = cell_network("darts_v2", genotypes.DARTS_V2, (3, 32, 32), 10, 36, 20)
    assert arch.params() == 3_349_342
    shapes = arch.shapes()
    assert shapes["cell6.out"] == (4 * 72, 16, 16) and shapes["cell13.out"] == (4 * 144, 8, 8)
    assert shapes["cell7.p0"] == (72, 16, 16)  # s0 of the cell after a reduction is factorized-reduced
    with_aux = cell_network("darts_v2", genotypes.DARTS_V2, (3, 32, 32), 10, 36, 20, auxiliary=True)
    assert with_aux.lower().macs == arch.lower().macs and with_aux.params() > arch.params()


def test_concat_combination_projects_wide_states() -> None:
    cell = CellGenotype((("sep_conv_3x3", 0), ("skip_connect", 1), ("avg_pool_3x3", 2), ("max_pool_3x3", 2)),
                        (3,), ("concat", "add"))
    arch = cell_network("n", Genotype(cell, cell), (3, 16, 16), 10, 8, 3)
    shapes = arch.shapes()
    assert shapes["cell0.n0"] == (16, 16, 16)  # concat of two C=8 operands
    assert shapes["cell0.b1_0_proj"] == (8, 16, 16)  # a pool on the wide state is projected back to C
    out = nasbench.build(arch)(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 10)


def test_seeds_are_members_and_published_cells(space: CellPairSpace) -> None:
    seeds = space.seeds()
    names = {arch.name for arch in seeds}
    assert names == ({"darts_v1", "darts_v2"} if space.name == "darts" else {"nasnet_a", "amoebanet_a", "enas"})
    for arch in seeds:
        assert space.contains(arch)
        assert space.decode(space.encode(arch)).hash() == arch.hash()


def test_sample_mutate_build(space: CellPairSpace) -> None:
    rng = np.random.default_rng(1)
    arch = space.sample(rng)
    assert space.contains(arch)
    assert set(space.encode(arch)) == set(space.variables())
    child = space.mutate(arch, rng)
    assert space.contains(child) and child.hash() != arch.hash()
    changed = [k for k, v in space.encode(child).items() if space.encode(arch)[k] != v]
    assert len(changed) == 1
    model = nasbench.build(child)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == child.params()
    again = space.sample(np.random.default_rng(1))
    assert again.hash() == arch.hash()


def test_nasnet_concatenates_unused_blocks() -> None:
    space = search_spaces.get("nasnet", input_shape=(3, 16, 16), C=8, layers=3)
    choices = space.encode(space.seeds()[1])  # AmoebaNet-A: normal blocks 2 and 3 are used, 4-6 are not
    arch = space.decode(choices)
    assert read_genotype(arch).normal.concat == (4, 5, 6)
    assert space.decode({**choices, "normal_4_in0": 4}).cells["normal"].node_inputs("out") == ["n3", "n4"]


def test_contains_rejects_foreign_networks(space: CellPairSpace) -> None:
    arch = space.seeds()[0]
    wider = space.__class__(input_shape=(3, 16, 16), C=16, layers=5)
    assert not space.contains(wider.seeds()[0])
    assert not space.contains(search_spaces.get("nb201", input_shape=(3, 16, 16)).seeds()[0])
    bad = arch.copy()
    bad.cells["normal"].node("b0_0")["op"] = "conv"
    assert not space.contains(bad)


def test_decode_rejects_bad_choices(space: CellPairSpace) -> None:
    choices = space.encode(space.seeds()[0])
    with pytest.raises(NasbenchError):
        space.decode({**choices, "normal_0_in0": 5})
    with pytest.raises(NasbenchError):
        space.decode({**choices, "reduce_1_op0": "conv_9x9"})


def test_darts_space_rejects_nasnet_only_ops() -> None:
    darts = search_spaces.get("darts", input_shape=(3, 16, 16), C=8, layers=3)
    nasnet = search_spaces.get("nasnet", input_shape=(3, 16, 16), C=8, layers=3)
    assert not darts.contains(nasnet.seeds()[0])
