"""The graph space: adapted zoo seeds, every mutation kind, copy-on-write edits inside cells, limits, determinism."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import nasbench
from nasbench.app.search import select_seeds
from nasbench.errors import NasbenchError
from search_spaces import get, zoo
from search_spaces.graph import DEFAULT_SEEDS, GraphSpace
from search_spaces.graph_mutations import MUTATIONS, Site, node_shapes, privatize

SHAPE = (1, 16, 16)


@pytest.fixture(scope="module")
def space() -> GraphSpace:
    return GraphSpace(SHAPE, 10, seeds=["resnet18", "vgg11_bn", "mobilenet_v2"])


def _plain(depth: int = 2) -> nasbench.Architecture:
    text = f"""
name: plain
input_shape: [1, 16, 16]
cells:
  basic:
    vars: {{C: null}}
    nodes:
      c1: {{op: conv_bn_relu, args: {{out: C}}, inputs: [x]}}
      c2: {{op: conv_bn, args: {{out: C}}, inputs: [c1]}}
      out: {{op: relu, inputs: [c2, x], merge: add}}
    output: out
network:
  nodes:
    stem: {{op: conv_bn_relu, args: {{out: 8}}, inputs: [input]}}
    b1: {{cell: basic, vars: {{C: 8}}, inputs: [stem], repeat: {depth}}}
    b2: {{cell: basic, vars: {{C: 8}}, inputs: [b1]}}
    gap: {{op: global_avg_pool, inputs: [b2]}}
    fc: {{op: linear, args: {{out: 10}}, inputs: [gap]}}
  output: fc
"""
    return nasbench.Architecture.from_yaml(text)


def test_registered_and_seeds_are_adapted_zoo_networks(space: GraphSpace) -> None:
    assert "graph" in __import__("search_spaces").names()
    seeds = space.seeds()
    assert [s.name for s in seeds] == ["resnet18", "vgg11_bn", "mobilenet_v2"]
    for seed in seeds:
        assert space.contains(seed)
        assert seed.input_shape == SHAPE and seed.output_shape() == (10,)
    small = GraphSpace(SHAPE, 10, seeds=["resnet18"], width_mult=0.25).seeds()[0]
    assert small.params() < zoo.get("resnet18").params() / 10


def test_default_seeds_are_zoo_networks_that_adapt() -> None:
    assert set(DEFAULT_SEEDS) <= set(zoo.names())
    seeds = GraphSpace(SHAPE, 10).seeds()
    assert [s.name for s in seeds] == list(DEFAULT_SEEDS)
    assert max(s.macs() for s in seeds) < 30e6


def test_seed_failing_the_limits_is_skipped_with_a_logged_reason(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        seeds = GraphSpace(SHAPE, 10, seeds=["resnet18", "mobilenet_v2"], max_params=400_000).seeds()
    assert [s.name for s in seeds] == ["mobilenet_v2"]
    assert "skipped: seed resnet18 is not a member" in caplog.text and "> max_params" in caplog.text


def test_any_zoo_network_can_be_a_seed_and_all_fifty_adapt_to_digits() -> None:
    space = GraphSpace((1, 16, 16), 10)
    chosen, unfit = select_seeds(space, "densenet121,resnet50")
    assert [arch.name for arch in chosen] == ["densenet121", "resnet50"] and unfit == []
    everything, unfit = select_seeds(space, "zoo")
    assert unfit == [] and [arch.name for arch in everything] == zoo.names() and len(everything) == 50
    assert all(space.contains(arch) for arch in everything)
    with pytest.raises(NasbenchError, match="unknown seed 'resnet19': unknown zoo network 'resnet19'"):
        select_seeds(space, "resnet18,resnet19")


def test_a_seed_that_cannot_fit_is_left_out_of_the_zoo_with_its_reason() -> None:
    chosen, unfit = select_seeds(GraphSpace((1, 16, 16), 10, max_params=100_000), "zoo")
    assert "lenet5" in [arch.name for arch in chosen] and "resnet50" not in [arch.name for arch in chosen]
    assert any(reason.startswith("seed resnet50 is not a member of the space: ") for reason in unfit)
    assert all("\n" not in reason for reason in unfit) and len(chosen) + len(unfit) == 50


def test_plain_deep_networks_get_batch_norm_when_adapted() -> None:
    def ops(arch) -> set[str]:
        return {graph.node(name).get("op") for _, graph in arch.graphs() for name in graph.nodes()}

    for name in ("squeezenet1_1", "highway", "googlenet"):
        adapted = zoo.adapt(zoo.get(name), (1, 16, 16), 10)
        assert "conv_relu" not in ops(adapted) and "conv_bn_relu" in ops(adapted)
        assert adapted.meta["adapted"] == {"batch_norm": True}
        assert "conv_relu" in ops(zoo.adapt(zoo.get(name), (1, 16, 16), 10, batch_norm=False))
    assert "conv_relu" in ops(zoo.adapt(zoo.get("alexnet"), (1, 16, 16), 10))  # shallow: trains without it
    assert "conv_relu" in ops(zoo.get("squeezenet1_1"))  # the published network is left as published


def test_unknown_seed_name_is_a_one_line_error() -> None:
    with pytest.raises(NasbenchError, match="unknown zoo network 'resnet19'"):
        GraphSpace(SHAPE, 10, seeds=["resnet19"]).seeds()


@pytest.mark.parametrize("kind", MUTATIONS.names())
def test_every_mutation_kind_produces_valid_distinct_members(space: GraphSpace, kind: str) -> None:
    only = GraphSpace(SHAPE, 10, seeds=[], mutations={kind: 1.0})
    rng = np.random.default_rng(0)
    made = 0
    for parent in [*space.seeds(), _plain()]:
        try:
            child = only.mutate(parent, rng)
        except NasbenchError:
            continue  # this kind may not apply to this network
        made += 1
        assert child.meta["mutation"].startswith(f"{kind}:")
        assert child.meta["parent"] == parent.hash() != child.hash()
        assert only.contains(child)
        assert nasbench.Architecture.from_yaml(child.to_yaml()).hash() == child.hash()
    assert made >= 2


def test_edit_inside_a_shared_template_copies_it_for_one_instance() -> None:
    arch = _plain(depth=1)
    key, cell = privatize(arch, ("b1",))
    assert key != "basic" and arch.network.node("b1")["cell"] == key and arch.network.node("b2")["cell"] == "basic"
    shapes = node_shapes(arch.lower())[key]
    assert shapes["x"] == (8, 16, 16) and shapes["out"] == (8, 16, 16)
    MUTATIONS.get("change_kernel")(Site(key, cell, shapes), np.random.default_rng(0))
    assert arch.cells["basic"].to_dict() == _plain().cells["basic"].to_dict()
    assert arch.hash() != _plain(depth=1).hash()


def test_remove_layer_drops_one_repeat_of_a_repeated_block() -> None:
    only = GraphSpace(SHAPE, 10, seeds=[], mutations={"remove_layer": 1.0})
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(20):
        seen.add(only.mutate(_plain(depth=3), rng).meta["mutation"])
    assert any("repeat 3 -> 2" in text for text in seen)


def test_limits_reject_large_mutants_and_members() -> None:
    limited = GraphSpace(SHAPE, 10, seeds=[], max_params=_plain().params())
    assert limited.contains(_plain()) and not limited.contains(_plain(depth=3))
    rng = np.random.default_rng(0)
    arch = _plain()
    for _ in range(10):
        arch = limited.mutate(arch, rng)
        assert arch.params() <= limited.max_params


def test_wrong_input_shape_or_classes_are_not_members(space: GraphSpace) -> None:
    assert not GraphSpace((3, 16, 16), 10, seeds=[]).contains(_plain())
    assert not GraphSpace(SHAPE, 5, seeds=[]).contains(_plain())


def test_sample_and_mutation_walks_are_deterministic_and_run(space: GraphSpace) -> None:
    def walk(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        arch = space.sample(rng)
        hashes = [arch.hash()]
        for _ in range(5):
            arch = space.mutate(arch, rng)
            hashes.append(arch.hash())
        return hashes

    assert walk(7) == walk(7)
    assert walk(7) != walk(8)
    arch = space.sample(np.random.default_rng(1))
    model = nasbench.build(arch).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, *SHAPE)).shape == (2, 10)


def test_long_walk_from_a_random_network_never_gets_stuck() -> None:
    bare = GraphSpace(SHAPE, 10, seeds=[])
    rng = np.random.default_rng(0)
    arch = bare.random_network(rng)
    for _ in range(120):
        arch = bare.mutate(arch, rng)
    assert bare.contains(arch)


def test_get_passes_options_to_the_graph_space() -> None:
    space = get("graph", input_shape=SHAPE, num_classes=10, seeds=["vgg11_bn"], width_mult=0.125)
    assert isinstance(space, GraphSpace) and space.width_mult == 0.125
    assert [s.name for s in space.seeds()] == ["vgg11_bn"]


def test_width_change_moves_every_layer_tied_by_a_residual_add() -> None:
    text = """
name: flat_residual
input_shape: [1, 16, 16]
network:
  nodes:
    stem: {op: conv_bn_relu, args: {out: 8}, inputs: [input]}
    c1: {op: conv_bn, args: {out: 8}, inputs: [stem]}
    join: {op: relu, inputs: [c1, stem], merge: add}
    pool: {op: max_pool, inputs: [join]}
    c2: {op: conv_bn, args: {out: 8}, inputs: [pool]}
    join2: {op: identity, inputs: [c2, pool], merge: add}
    gap: {op: global_avg_pool, inputs: [join2]}
    fc: {op: linear, args: {out: 10}, inputs: [gap]}
  output: fc
"""
    arch = nasbench.Architecture.from_yaml(text)
    shapes = node_shapes(arch.lower())["network"]
    description = MUTATIONS.get("change_width")(Site("network", arch.network, shapes), np.random.default_rng(0))
    assert description is not None
    widths = {n: arch.network.node(n)["args"]["out"] for n in ("stem", "c1", "c2")}
    assert len(set(widths.values())) == 1 and widths["stem"] != 8, description
    assert GraphSpace(SHAPE, 10, seeds=[]).contains(arch)
