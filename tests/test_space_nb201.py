"""The NAS-Bench-201 space: exact string conversion, enumeration, the benchmark's network, canonical hashing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nasbench
import search_spaces
from nasbench.app import load
from nasbench.errors import NasbenchError
from search_spaces import Variable, nb201
from workers.table import default_table_path, load_table

ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def space() -> nb201.NB201Space:
    return search_spaces.get("nb201", input_shape=(3, 16, 16), num_classes=10)


def test_all_strings_round_trip_through_the_genome_cell(space: nb201.NB201Space) -> None:
    strings = list(space.enumerate())
    assert len(strings) == len(set(strings)) == space.size() == 15_625
    for text in strings:
        ops = nb201.parse_string(text)
        assert nb201.format_string(nb201.read_cell(nb201.cell_template(ops))) == text


def test_enumeration_matches_the_shipped_benchmark_table(space: nb201.NB201Space) -> None:
    table = load_table(str(default_table_path()))
    assert set(table) == set(space.enumerate())
    # The ResNet-like seed is a strong cell of the benchmark (93.91 % CIFAR-10 test accuracy in this table).
    assert table[space.to_string(space.seeds()[0])]["test_acc_200_trainval"] > 93.5


def test_string_round_trip_through_the_network_and_yaml(space: nb201.NB201Space) -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        arch = space.sample(rng)
        text = space.to_string(arch)
        assert arch.meta["nb201"] == text
        again = nasbench.Architecture.from_yaml(arch.to_yaml())
        assert space.to_string(again) == text and space.contains(again)
        assert space.from_string(text).hash() == arch.hash()


def test_malformed_strings_are_rejected(space: nb201.NB201Space) -> None:
    for text in ["", "|nor_conv_3x3~0|", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                 "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "|none~0|+|none~0|+|none~0|none~1|none~2|"]:
        with pytest.raises(NasbenchError):
            space.from_string(text)


def test_benchmark_parameter_counts(space: nb201.NB201Space) -> None:
    # The all-3x3 cell is the benchmark's largest network (1.531546 M parameters on CIFAR-10); a cell without
    # parametrized ops leaves the skeleton alone (stem, reduction blocks, head).
    assert nb201.NB201Space().from_string(ALL_CONV).params() == 1_531_546
    identity = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    assert nb201.NB201Space().from_string(identity).params() == 73_306


def test_network_skeleton_and_forward(space: nb201.NB201Space) -> None:
    arch = space.from_string(ALL_CONV)
    shapes = arch.shapes()
    assert shapes["stem"] == (16, 16, 16)
    assert shapes["stage1.4.n3"] == (16, 16, 16)
    assert shapes["reduce1.out"] == (32, 8, 8)
    assert shapes["stage3.4.n3"] == (64, 4, 4)
    model = nasbench.build(arch)
    out = model(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == arch.params()


def test_none_only_node_is_zeros(space: nb201.NB201Space) -> None:
    arch = space.from_string("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    model = nasbench.build(arch).eval()
    # Every cell outputs zeros, so the logits do not depend on the image.
    a, b = model(torch.randn(1, 3, 16, 16)), model(torch.randn(1, 3, 16, 16))
    assert torch.allclose(a, b)


def test_isomorphic_and_dead_edge_cells_hash_equal(space: nb201.NB201Space) -> None:
    # Nodes 1 and 2 swap roles when the edge 1 -> 2 is none.
    a = space.from_string("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|skip_connect~1|nor_conv_1x1~2|")
    b = space.from_string("|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_1x1~1|skip_connect~2|")
    assert a.hash() == b.hash()
    # Node 1 reaches nothing: the op on edge 0 -> 1 does not matter.
    c = space.from_string("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_1x1~2|")
    d = space.from_string("|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_1x1~2|")
    assert c.hash() == d.hash()
    e = space.from_string("|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_3x3~2|")
    assert e.hash() != d.hash()


def test_encoding_and_mutation(space: nb201.NB201Space) -> None:
    variables = space.variables()
    assert len(variables) == 6 and all(v == Variable(nb201.OPS) and not v.ordinal for v in variables.values())
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    choices = space.encode(arch)
    assert set(choices) == set(variables)
    assert space.decode(choices).hash() == arch.hash()
    for _ in range(10):
        child = space.mutate(arch, rng)
        assert space.contains(child) and child.hash() != arch.hash()
        before, after = space.encode(arch), space.encode(child)
        assert sum(before[k] != after[k] for k in before) == 1
    with pytest.raises(NasbenchError):
        space.decode({**choices, "edge_0_1": "conv"})


def test_sampling_and_mutation_are_the_benchmarks_rea_draws(space: nb201.NB201Space) -> None:
    # The published REA result on this space rests on these semantics: every edge's op uniform in the string's order;
    # a mutation picks an edge uniformly and another op uniformly, redrawn while the network is unchanged.
    rng, reference = np.random.default_rng(11), np.random.default_rng(11)
    for _ in range(20):
        arch = space.sample(rng)
        ops = {edge: nb201.OPS[int(reference.integers(len(nb201.OPS)))] for edge in nb201.EDGES}
        assert space.to_string(arch) == nb201.format_string(ops)
        child = space.mutate(arch, rng)
        while True:
            edge = nb201.EDGES[int(reference.integers(len(nb201.EDGES)))]
            mutant = {**ops, edge: [op for op in nb201.OPS if op != ops[edge]][int(reference.integers(4))]}
            if space.from_string(nb201.format_string(mutant)).hash() != arch.hash():
                break
        assert space.to_string(child) == nb201.format_string(mutant)


def test_seed_is_the_resnet_cell(space: nb201.NB201Space) -> None:
    (seed,) = space.seeds()
    assert space.contains(seed)
    assert space.to_string(seed) == "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def test_contains_rejects_other_networks(space: nb201.NB201Space) -> None:
    arch = space.from_string(ALL_CONV)
    other = nb201.NB201Space(input_shape=(3, 16, 16), num_classes=100).from_string(ALL_CONV)
    assert not space.contains(other)
    edited = arch.copy()
    edited.cells[nb201.CELL].node("e0_1")["args"]["kernel"] = 5
    assert not space.contains(edited)
    assert not space.contains(load("""
name: t
input_shape: [3, 16, 16]
network:
  nodes:
    fc: {op: linear, args: {out: 10}, inputs: [input]}
  output: fc
"""))
