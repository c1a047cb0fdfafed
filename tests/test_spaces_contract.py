"""The SearchSpace contract, run on every registered space and on README.md's custom space.

Samples and mutants are members that build and run; mutants differ from their parent; fixed-length spaces describe
their flat view with ``Variable``s (ordinal ones over increasing numbers), round-trip through ``encode``/``decode``
with the same hash, agree with ``encode`` and mutate one variable at a time; the same seed gives the same samples and
mutations; seeds are members.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import nasbench
import search_spaces
from search_spaces import SearchSpace, Variable

SHAPE = (3, 16, 16)
CLASSES = 10
README = Path(__file__).resolve().parents[1] / "README.md"
README_SPACE = "readme-custom"


def readme_space_factory() -> Any:
    """The factory defined by the Python example of README.md's "Custom search spaces" section."""
    text = README.read_text()
    section = text.split("## Custom search spaces", 1)
    assert len(section) == 2, "README.md has no 'Custom search spaces' section"
    blocks = re.findall(r"```python\n(.*?)```", section[1], flags=re.S)
    assert blocks, "the 'Custom search spaces' section has no Python example"
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    return namespace["tiny_cells"]


def make_space(name: str) -> SearchSpace:
    if name == README_SPACE:
        return readme_space_factory()(input_shape=SHAPE, num_classes=CLASSES)
    return search_spaces.get(name, input_shape=SHAPE, num_classes=CLASSES)


SPACES = [*search_spaces.names(), README_SPACE]
# Variables that must be ordinal (ordered numbers) and categorical, per space; the kinds of the others are free.
ORDINAL = {"mobilenet": ("stage0_depth", "stage0_width", "stage0_block0_kernel", "stage0_block0_expand"),
           README_SPACE: ("depth", "width")}
CATEGORICAL = {"nb201": ("edge_0_1",), "nb101": ("edge_0_1", "op_1"), "darts": ("normal_0_in0", "normal_0_op0"),
               "nasnet": ("reduce_1_in1", "reduce_1_combine"), "enas-macro": ("layer1_op", "layer1_skip0"),
               README_SPACE: ("op_a", "in_b", "join")}
_cache: dict[str, SearchSpace] = {}


@pytest.fixture(params=SPACES)
def space(request: pytest.FixtureRequest) -> SearchSpace:
    if request.param not in _cache:
        _cache[request.param] = make_space(request.param)
    return _cache[request.param]


def run_forward(arch: nasbench.Architecture) -> torch.Tensor:
    model = nasbench.build(arch).eval()
    with torch.no_grad():
        return model(torch.randn(2, *SHAPE))


def test_every_builtin_space_of_the_design_is_registered() -> None:
    assert {"nb201", "nb101", "darts", "nasnet", "enas-macro", "mobilenet", "graph"} <= set(search_spaces.names())


def test_samples_are_members_that_build_and_run(space: SearchSpace) -> None:
    arch = space.sample(np.random.default_rng(0))
    assert arch.input_shape == SHAPE
    assert space.contains(arch)
    out = run_forward(arch)
    assert out.shape == (2, CLASSES) and torch.isfinite(out).all()


def test_mutants_are_members_and_differ_from_their_parent(space: SearchSpace) -> None:
    rng = np.random.default_rng(1)
    parent = space.sample(rng)
    for _ in range(3):
        child = space.mutate(parent, rng)
        assert space.contains(child)
        assert child.hash() != parent.hash()
        parent = child
    assert run_forward(parent).shape == (2, CLASSES)


def fixed_length(space: SearchSpace) -> dict[str, Variable]:
    variables = space.variables()
    if variables is None:
        pytest.skip(f"{space.name} is open-ended")
    return variables


def test_variables_are_categorical_or_ordinal_over_increasing_numbers(space: SearchSpace,
                                                                      request: pytest.FixtureRequest) -> None:
    variables = fixed_length(space)
    assert variables
    for key, variable in variables.items():
        assert isinstance(variable, Variable), key
        assert isinstance(variable.choices, tuple) and len(variable.choices) >= 1, key
        assert len(set(variable.choices)) == len(variable.choices), key
        if variable.ordinal:
            assert all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in variable.choices), key
            assert all(a < b for a, b in zip(variable.choices, variable.choices[1:])), key
    name = request.node.callspec.params["space"]
    assert all(variables[key].ordinal for key in ORDINAL.get(name, ()))
    assert not any(variables[key].ordinal for key in CATEGORICAL.get(name, ()))


def test_fixed_length_encoding_round_trips_and_agrees_with_variables(space: SearchSpace) -> None:
    variables = fixed_length(space)
    rng = np.random.default_rng(2)
    for _ in range(3):
        arch = space.sample(rng)
        choices = space.encode(arch)
        assert set(choices) == set(variables)
        assert all(choices[key] in variables[key].choices for key in variables)
        assert space.decode(choices).hash() == arch.hash()
    size = space.size()
    assert size is None or size >= 2


def one_variable_apart(space: SearchSpace, parent: nasbench.Architecture, child: nasbench.Architecture) -> bool:
    before, after = space.encode(parent), space.encode(child)
    if sum(before[key] != after[key] for key in before) == 1:
        return True
    # nb101 encodes a member by its canonical cell, so a one-variable mutant may re-encode far from its parent: it is
    # then the decoding of one of the parent's one-variable changes, i.e. a neighbour.
    return any(neighbor.hash() == child.hash() for neighbor in space.neighbors(parent))


def test_neighbors_change_one_variable(space: SearchSpace) -> None:
    fixed_length(space)
    arch = space.sample(np.random.default_rng(3))
    neighbors = [neighbor for neighbor, _ in zip(space.neighbors(arch), range(3))]
    assert len({neighbor.hash() for neighbor in neighbors} | {arch.hash()}) == len(neighbors) + 1
    for neighbor in neighbors:
        assert space.contains(neighbor) and one_variable_apart(space, arch, neighbor)


def test_mutation_changes_one_variable(space: SearchSpace) -> None:
    fixed_length(space)
    rng = np.random.default_rng(6)
    tested = 0
    while tested < 3:
        parent = space.sample(rng)
        if next(iter(space.neighbors(parent)), None) is None:
            continue  # nb101's input -> output cell: no member is one variable away, it grows a vertex instead
        child = space.mutate(parent, rng)
        assert child.hash() != parent.hash() and one_variable_apart(space, parent, child)
        assert child.meta["parent"] == parent.hash()
        tested += 1


def test_same_seed_gives_same_samples_and_mutations(space: SearchSpace, request: pytest.FixtureRequest) -> None:
    def run(target: SearchSpace) -> list[Any]:
        rng = np.random.default_rng(5)
        arch = target.sample(rng)
        child = target.mutate(arch, rng)
        again = target.sample(rng)
        trail: list[Any] = [arch.hash(), child.hash(), again.hash()]
        if target.variables() is not None:
            trail += [target.encode(arch), target.encode(child), target.encode(again)]
        return trail

    first = run(space)
    assert run(space) == first
    assert run(make_space(request.node.callspec.params["space"])) == first
    assert space.sample(np.random.default_rng(7)).hash() == space.sample(np.random.default_rng(7)).hash()


def test_seeds_are_members(space: SearchSpace) -> None:
    for seed in space.seeds():
        assert space.contains(seed), seed.name


def test_members_of_another_input_shape_are_not_members(space: SearchSpace, request: pytest.FixtureRequest) -> None:
    arch = space.sample(np.random.default_rng(4))
    name = request.node.callspec.params["space"]
    other = (readme_space_factory()(input_shape=(3, 8, 8), num_classes=CLASSES) if name == README_SPACE
             else search_spaces.get(name, input_shape=(3, 8, 8), num_classes=CLASSES))
    assert not other.contains(arch)
