"""Custom spaces: the Python composition API, YAML space files, ``module:attr`` references, errors, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from search_toys import ToySpace
from typer.testing import CliRunner

import search_spaces
from nasbench.app.cli import _register_commands, app
from nasbench.errors import GenomeError, NasbenchError
from search_spaces import Variable, register_space
from search_spaces.custom import CellSpace, Choice, GenomeSpace, load_space_file
from search_spaces.registry import SPACES

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
    assert space.variables() == {"w": Variable((8, 12), ordinal=True), "cell.b.kernel": Variable((1, 3), ordinal=True)}


def test_numeric_choices_are_ordinal_unless_told_otherwise(tmp_path: Path) -> None:
    assert Choice([16, 8, 32]).variable() == Variable((8, 16, 32), ordinal=True)  # ordered by value
    assert Choice([3, 1], ordinal=False).variable() == Variable((3, 1))
    assert not Choice(["x", "a"]).ordinal and not Choice([True, False]).ordinal
    assert Choice({1: {"op": "relu"}, 2: {"op": "identity"}}).ordinal
    with pytest.raises(NasbenchError, match="ordinal choice needs numeric options"):
        Choice(["add", "concat"], ordinal=True)
    text = (EXAMPLES / "tiny_cells.yaml").read_text()
    path = tmp_path / "kinds.yaml"
    path.write_text(text + "ordinal: {width: false, join: false}\n")
    variables = load_space_file(path, SHAPE, 10).variables()
    assert variables["width"] == Variable((8, 16)) and variables["depth"].ordinal
    assert not variables["join"].ordinal and not variables["op_a"].ordinal
    for ordinal, field in (("{join: true}", "ordinal.join"), ("{nope: false}", "ordinal.nope"),
                           ("{width: 0}", "ordinal.width"), ("[width]", "ordinal")):
        path.write_text(f"{text}ordinal: {ordinal}\n")
        with pytest.raises(GenomeError) as caught:
            load_space_file(path, SHAPE, 10)
        assert caught.value.field == field, str(caught.value)


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


def stem_space(out: Any, kernel: Any, num_classes: int = 10) -> GenomeSpace:
    template = {"network": {"nodes": {
        "stem": {"op": "conv_bn_relu", "args": {"out": out, "kernel": kernel}, "inputs": ["input"]},
        "gap": {"op": "global_avg_pool", "inputs": ["stem"]},
        "fc": {"op": "linear", "args": {"out": 5}, "inputs": ["gap"]}}, "output": "fc"}}
    return GenomeSpace(template, name="stem", input_shape=SHAPE, num_classes=num_classes)


def test_sampling_and_mutation_give_up_after_bounded_draws() -> None:
    # The head has 5 outputs: with 10 classes no member is valid, and sampling says why after max_tries draws.
    space = stem_space(Choice([4, 8]), 3)
    space.max_tries = 7
    with pytest.raises(NasbenchError, match=r"no member found in 7 random draws \(last: .* not a valid network\)"):
        space.sample(np.random.default_rng(0))
    # Without random draws left, a mutation is a random neighbour; a member without neighbours cannot mutate.
    space = stem_space(Choice([4, 8], name="w"), Choice({"three": 3, "also_three": 3}, name="k"), num_classes=5)
    space.max_tries = 0
    arch = space.decode({"w": 8, "k": "three"})
    assert space.mutate(arch, np.random.default_rng(0)).meta["mutation"] == "w: 8 -> 4"
    assert [space.encode(n) for n in space.neighbors(arch)] == [{"w": 4, "k": "three"}]
    single = stem_space(8, Choice({"three": 3, "also_three": 3}, name="k"), num_classes=5)
    with pytest.raises(NasbenchError, match="no member is one variable away"):
        single.mutate(single.decode({"k": "three"}), np.random.default_rng(0))


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


def test_registered_plug_in_spaces_state_their_name_once() -> None:
    class Widths(ToySpace):
        """The toy space as a plug-in: its name comes from the registry."""

    register_space("test-widths")(Widths)
    try:
        register_space("test-widths", Widths)  # the same class again (a module imported twice) is harmless
        with pytest.raises(ValueError, match="already registered"):
            register_space("test-widths", ToySpace)
        space = search_spaces.get("test-widths", input_shape=SHAPE, num_classes=3, layers=2)
        assert Widths.name == space.name == "test-widths" and "test-widths" in search_spaces.names()
        arch = space.sample(np.random.default_rng(0))
        assert space.contains(arch) and space.size() == 16 and len(list(space.neighbors(arch))) == 6
    finally:
        SPACES.unregister("test-widths")
    assert "test-widths" not in search_spaces.names() and ToySpace.name == "toy"


def test_unknown_spaces_and_options_are_one_line_errors() -> None:
    with pytest.raises(NasbenchError, match=r"unknown search space 'nb210' \(did you mean nb201.*module:attr"):
        search_spaces.get("nb210")
    with pytest.raises(NasbenchError, match=r"search space 'nb201': unknown option\(s\) width \(options: .*C, N"):
        search_spaces.get("nb201", width=3)
    with pytest.raises(NasbenchError, match="unknown option"):
        search_spaces.get("custom_space:tiny_cells", width=3)


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
    assert shown["size"] == 384 and shown["encoding"]["depth"] == {"kind": "ordinal", "choices": [1, 2, 3]}
    assert shown["encoding"]["op_a"] == {"kind": "categorical", "choices": ["conv3", "sep5", "maxpool", "skip"]}
    assert rows["nb201"]["encoding"]["edge_0_1"]["kind"] == "categorical" and rows["graph"]["encoding"] is None
    text = runner.invoke(app, ["spaces", str(EXAMPLES / "tiny_cells.yaml")])
    assert "depth (ordinal): 1, 2, 3" in text.output and "join (categorical): add, concat" in text.output
