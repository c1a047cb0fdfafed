"""The SearchSpace contract, run on every registered space and on README.md's custom space.

Samples and mutants are members that build and run; mutants differ from their parent; fixed-length spaces round-trip
through ``encode``/``decode`` with the same hash and ``variables`` agrees with ``encode``; the same seed gives the same
samples and mutations; seeds are members.
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
from search_spaces import SearchSpace

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


def test_fixed_length_encoding_round_trips_and_agrees_with_variables(space: SearchSpace) -> None:
    variables = space.variables()
    if variables is None:
        pytest.skip(f"{space.name} is open-ended")
    assert variables and all(len(options) >= 1 for options in variables.values())
    rng = np.random.default_rng(2)
    for _ in range(3):
        arch = space.sample(rng)
        choices = space.encode(arch)
        assert set(choices) == set(variables)
        assert all(choices[key] in variables[key] for key in variables)
        assert space.decode(choices).hash() == arch.hash()
    size = space.size()
    assert size is None or size >= 2


def test_neighbors_change_one_variable(space: SearchSpace) -> None:
    if space.variables() is None:
        pytest.skip(f"{space.name} is open-ended")
    arch = space.sample(np.random.default_rng(3))
    current = space.encode(arch)
    for neighbor, _ in zip(space.neighbors(arch), range(3)):
        changed = [key for key, value in space.encode(neighbor).items() if value != current[key]]
        assert len(changed) == 1


def test_same_seed_gives_same_samples_and_mutations(space: SearchSpace, request: pytest.FixtureRequest) -> None:
    def run(target: SearchSpace) -> list[str]:
        rng = np.random.default_rng(5)
        arch = target.sample(rng)
        return [arch.hash(), target.mutate(arch, rng).hash(), target.sample(rng).hash()]

    first = run(space)
    assert run(space) == first
    assert run(make_space(request.node.callspec.params["space"])) == first


def test_seeds_are_members(space: SearchSpace) -> None:
    for seed in space.seeds():
        assert space.contains(seed), seed.name


def test_members_of_another_input_shape_are_not_members(space: SearchSpace, request: pytest.FixtureRequest) -> None:
    arch = space.sample(np.random.default_rng(4))
    name = request.node.callspec.params["space"]
    other = (readme_space_factory()(input_shape=(3, 8, 8), num_classes=CLASSES) if name == README_SPACE
             else search_spaces.get(name, input_shape=(3, 8, 8), num_classes=CLASSES))
    assert not other.contains(arch)
