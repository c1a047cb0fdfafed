"""Custom spaces: the Python composition API, YAML space files, ``module:attr`` references, errors, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import search_spaces
from nasbench.app.cli import _register_commands, app
from nasbench.errors import GenomeError, NasbenchError
from search_spaces.custom import CellSpace, Choice, GenomeSpace, load_space_file

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHAPE = (1, 12, 12)


@pytest.fixture
def python_space(monkeypatch: pytest.MonkeyPatch) -> search_spaces.SearchSpace:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return search_spaces.get("custom_space:tiny_cells", input_shape=SHAPE, num_classes=10)


def test_module_attr_and_yaml_file_give_the_same_space(python_space: search_spaces.SearchSpace) -> None:
    yaml_space = search_spaces.get(str(EXAMPLES / "tiny_cells.yaml"), input_shape=SHAPE, num_classes=10)
    assert python_space.variables() == yaml_space.variables()
    assert python_space.size() == yaml_space.size() == 4 * 4 * 2 * 2 * 3 * 2
    rng = np.random.default_rng(0)
    for _ in range(6):
        arch = python_space.sample(rng)
        twin = yaml_space.decode(python_space.encode(arch))
        assert twin.hash() == arch.hash()
        assert yaml_space.contains(arch)


def test_choices_shape_the_genome(python_space: search_spaces.SearchSpace) -> None:
    base = {"op_a": "conv3", "op_b": "maxpool", "in_b": "a", "join": "concat", "width": 16, "depth": 3}
    arch = python_space.decode(base)
    cell = arch.cells["cell"]
    assert cell.node("a")["op"] == "conv_bn_relu" and cell.node("a")["args"] == {"out": "C", "kernel": 3}
    assert cell.node("b")["op"] == "max_pool" and cell.node_inputs("b") == ["a"]
    assert cell.node("out")["merge"] == "concat"
    assert arch.network.node("stage0")["repeat"] == 3 and arch.network.vars["C"] == 16
    assert arch.output_shape() == (10,)
    assert python_space.decode({**base, "depth": 1}).params() < arch.params()


def test_a_choice_object_used_twice_is_one_variable() -> None:
    width = Choice([8, 12], name="w")
    cell = {"nodes": {"a": {"op": "conv_bn_relu", "args": {"out": width}, "inputs": ["x"]},
                      "b": {"op": "conv_bn_relu", "args": {"out": width, "kernel": Choice([1, 3])}, "inputs": ["a"]}},
            "output": "b"}
    space = CellSpace(cell, stages=1, repeats=1, input_shape=SHAPE)
    assert space.variables() == {"w": [8, 12], "cell.b.kernel": [1, 3]}


def test_genome_space_with_references_inside_expressions() -> None:
    template = {"network": {"nodes": {
        "stem": {"op": "conv_bn_relu", "args": {"out": "2*$w"}, "inputs": ["input"]},
        "gap": {"op": "global_avg_pool", "inputs": ["stem"]},
        "fc": {"op": "linear", "args": {"out": "$num_classes"}, "inputs": ["gap"]}}, "output": "fc"}}
    space = GenomeSpace(template, {"w": [4, 8]}, name="stem_only", input_shape=SHAPE, num_classes=7)
    arch = space.decode({"w": 8})
    assert arch.shapes()["stem"] == (16, 12, 12) and arch.output_shape() == (7,)
    assert space.mutate(arch, np.random.default_rng(0)).meta["mutation"] == "w: 8 -> 4"


def test_invalid_combinations_are_never_sampled() -> None:
    # "add" of a 2C concat with the C-wide input cannot work: only the concat-free members are valid.
    cell = {"nodes": {"a": {"op": "conv_bn_relu", "args": {"out": "C"}, "inputs": ["x"]},
                      "m": {"op": "identity", "inputs": ["a", "x"], "merge": Choice(["add", "concat"])},
                      "out": {"op": "identity", "inputs": ["m", "x"], "merge": "add"}},
            "output": "out"}
    space = CellSpace(cell, stages=1, repeats=Choice([1, 2]), input_shape=SHAPE)
    rng = np.random.default_rng(0)
    for _ in range(5):
        arch = space.sample(rng)
        assert space.encode(arch)["cell.m.merge"] == "add" and space.contains(arch)
    with pytest.raises(NasbenchError, match="missing choice"):
        space.decode({"cell.m.merge": "add"})
    with pytest.raises(NasbenchError, match="must be one of"):
        space.decode({"cell.m.merge": "mean", "stage0.repeat": 1})


def test_hand_edited_member_is_not_contained(python_space: search_spaces.SearchSpace) -> None:
    arch = python_space.sample(np.random.default_rng(1))
    arch.network.node("fc")["args"]["out"] = 10
    edited = arch.copy()
    edited.network.node("stem")["args"]["kernel"] = 5
    assert python_space.contains(arch) and not python_space.contains(edited)
    with pytest.raises(GenomeError, match="meta.choices"):
        python_space.encode(edited)
    arch.meta.pop("choices")
    assert not python_space.contains(arch)


BAD_FILES = {
    "unknown_field": ("cell: {nodes: {a: {op: relu, inputs: [x]}}, output: a}\nlayers: 3\n", "layers"),
    "undeclared": ("cell: {nodes: {a: {op: $op, inputs: [x]}}, output: a}\n", "cell.nodes.a.op"),
    "unused": ("choices: {k: [1, 3]}\ncell: {nodes: {a: {op: relu, inputs: [x]}}, output: a}\n", "choices.k"),
    "bad_op": ("choices: {op: [conv9, relu]}\ncell: {nodes: {a: {op: $op, inputs: [x]}}, output: a}\n",
               "cell.nodes.a.op"),
    "bad_options": ("choices: {k: 3}\ncell: {nodes: {a: {op: relu, inputs: [x]}}, output: a}\n", "choices.k"),
    "no_network": ("choices: {k: [1]}\n", "network"),
    "stages": ("cell: {nodes: {a: {op: relu, inputs: [x]}}, output: a}\nstages: 0\n", "stages"),
    "mixed": ("cell: {nodes: {a: {op: relu, inputs: [x]}}, output: a}\nnetwork: {}\n", "network"),
    "syntax": ("cell: {nodes: [\n", "bad.yaml line"),
    "not_mapping": ("- a\n- b\n", "bad.yaml"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_invalid_space_files_name_the_field(tmp_path: Path, case: str) -> None:
    text, field = BAD_FILES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(GenomeError) as caught:
        load_space_file(path, SHAPE, 10)
    assert caught.value.field.startswith(field), str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_file_and_bad_reference_are_one_line_errors() -> None:
    with pytest.raises(NasbenchError, match="space file not found"):
        search_spaces.get("nowhere/space.yaml")
    with pytest.raises(NasbenchError, match="cannot load search space"):
        search_spaces.get("no_such_module:space")


def test_cli_lists_spaces_and_shows_one(tmp_path: Path) -> None:
    _register_commands()
    runner = CliRunner()
    listed = runner.invoke(app, ["spaces", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {row["name"]: row for row in json.loads(listed.output)}
    assert set(rows) == set(search_spaces.names())
    assert rows["nb201"]["size"] == 15625 and rows["nb201"]["variables"] == 6
    assert rows["graph"]["size"] is None and rows["graph"]["kind"] == "open-ended" and rows["graph"]["seeds"] >= 1
    table = runner.invoke(app, ["spaces"])
    assert table.exit_code == 0 and "15,625" in table.output and "enas-macro" in table.output
    one = runner.invoke(app, ["spaces", str(EXAMPLES / "tiny_cells.yaml"), "--json"])
    shown = json.loads(one.output)
    assert shown["size"] == 384 and shown["choices"]["depth"] == [1, 2, 3]
