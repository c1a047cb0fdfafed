"""The genome: exact YAML/JSON round trips, ``nasbench.load`` sources, validation errors and shape inference."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from genomes import TINY_RESNET_YAML

import nasbench
from nasbench.app import load
from nasbench.architecture import Architecture
from nasbench.errors import GenomeError
from search_spaces import zoo


def tiny() -> dict[str, Any]:
    """The hand-written genome as plain data (a fresh copy each call)."""
    return yaml.safe_load(TINY_RESNET_YAML)


ZOO = ["resnet18", "densenet121", "inception_v3", "nasnet_a_cifar"]


def _roundtrip(arch: Architecture) -> None:
    via_yaml = Architecture.from_yaml(arch.to_yaml())
    via_json = Architecture.from_json(arch.to_json())
    for other in (via_yaml, via_json):
        assert other.to_dict() == arch.to_dict()
        assert other == arch
        assert other.hash() == arch.hash()
        assert other.name == arch.name and other.input_shape == arch.input_shape
    # A second trip is a fixed point of the text form too.
    assert via_yaml.to_yaml() == arch.to_yaml()
    assert via_json.to_json() == arch.to_json()


def test_hand_written_roundtrip() -> None:
    arch = Architecture.from_dict(tiny())
    _roundtrip(arch)
    assert arch.params() == Architecture.from_yaml(arch.to_yaml()).params()


@pytest.mark.parametrize("name", ZOO)
def test_zoo_roundtrip(name: str) -> None:
    arch = zoo.get(name)
    _roundtrip(arch)
    if name == "inception_v3":
        assert arch.network.aux, "inception_v3 is expected to carry an auxiliary head"
        assert Architecture.from_yaml(arch.to_yaml()).network.aux == arch.network.aux


def test_equality_sees_changes() -> None:
    a, b = Architecture.from_dict(tiny()), Architecture.from_dict(tiny())
    assert a == b
    b.network.node("fc")["args"]["out"] = 11
    assert a != b
    assert a.hash() != b.hash()


def test_load_sources(tmp_path: Path) -> None:
    arch = Architecture.from_dict(tiny())
    yaml_path = tmp_path / "tiny.yaml"
    json_path = tmp_path / "tiny.json"
    yaml_path.write_text(arch.to_yaml())
    json_path.write_text(arch.to_json())
    for source in (yaml_path, str(yaml_path), json_path, str(json_path), TINY_RESNET_YAML, arch.to_json()):
        loaded = load(source)
        assert loaded == arch, source
    assert load(arch) is arch
    resnet = load("resnet18")
    assert resnet == zoo.get("resnet18")
    assert resnet.output_shape() == (1000,)


def test_load_missing_file_is_nasbench_error(tmp_path: Path) -> None:
    with pytest.raises(nasbench.NasbenchError, match="not found"):
        load(tmp_path / "missing.yaml")


def _mutated(edit: Any) -> dict[str, Any]:
    data = tiny()
    edit(data)
    return data


def _set(path: str, value: Any) -> Any:
    """An edit that sets the dotted ``path`` of the genome dict to ``value``."""

    def edit(data: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = data
        for key in parents:
            target = target[key]
        target[leaf] = copy.deepcopy(value)

    return edit


BASIC = "cells.basic.nodes"
ERRORS = [
    # (edit, expected field, message fragment)
    (_set(f"{BASIC}.c1.inputs", ["c2"]), f"{BASIC}.", "cycle"),
    (_set(f"{BASIC}.c1.op", "conv_bn_relu_typo"), f"{BASIC}.c1.op", "unknown op 'conv_bn_relu_typo'"),
    (_set(f"{BASIC}.c2.inputs", ["n9"]), f"{BASIC}.c2.inputs", "unknown node 'n9'"),
    (_set(f"{BASIC}.c2.args", {"out": "2*C"}), f"{BASIC}.out.inputs", "cannot add"),
    (_set("network.nodes.stem.args", {"out": 0}), "network.nodes.stem.args.out", "at least 1"),
    (_set(f"{BASIC}.c1.args", {"out": "C", "stride": "s", "kernal": 3}), f"{BASIC}.c1.args.kernal",
     "unknown argument"),
    (_set(f"{BASIC}.c1.colour", "red"), f"{BASIC}.c1.colour", "unknown field"),
    (_set("network.colour", "red"), "network.colour", "unknown field"),
    (_set("colour", "red"), "colour", "unknown field"),
    (_set("version", 99), "version", "unsupported genome version"),
    (_set("network.nodes.b.cell", "bottleneck"), "network.nodes.b.cell", "unknown cell 'bottleneck'"),
    (_set("network.nodes.b.vars", {}), "network.nodes.b.vars.C", "missing variable"),
    (_set("network.nodes.b.vars", {"C": 16, "D": 2}), "network.nodes.b.vars.D", "unknown variable"),
    (_set(f"{BASIC}.c1.args", {"out": "C/", "stride": "s"}), f"{BASIC}.c1.args.out", "cannot parse"),
    (_set(f"{BASIC}.c1.args", {"out": "C/3", "stride": "s"}), f"{BASIC}.c1.args.out", "whole number"),
    (_set(f"{BASIC}.out.merge", "multiply"), f"{BASIC}.out.merge", "unknown merge"),
    (_set(f"{BASIC}.out.merge", None), f"{BASIC}.out.inputs", "need a merge"),
    (_set("network.output", "head"), "network.output", "unknown node 'head'"),
    (_set("input_shape", [3, 32]), "input_shape", "three positive integers"),
    (_set("network.nodes.fc.repeat", 0), "network.nodes.fc.repeat", "at least 1"),
    # Limits that keep validation total: no hang, no overflow inside PyTorch after validation passed.
    (_set("network.nodes.b.repeat", 10**9), "network.nodes.b.repeat", "more than 100,000 layers"),
    (_set(f"{BASIC}.c1.args", {"out": "C**C**C", "stride": "s"}), f"{BASIC}.c1.args.out", "exponent too large"),
    (_set(f"{BASIC}.c1.args", {"out": "C", "stride": "(-s)**0.5"}), f"{BASIC}.c1.args.stride", "not a real number"),
    (_set("network.nodes.stem.args", {"out": 16, "stride": 2**63}), "network.nodes.stem.args.stride", "at most"),
    (_set("network.nodes.gap", {"op": "max_pool", "args": {"kernel": 2, "padding": 3}, "inputs": ["b"]}),
     "network.nodes.gap.args.padding", "exceeds half"),
    (_set("network.nodes.gap", {"op": "dropout", "args": {"p": float("nan")}, "inputs": ["b"]}),
     "network.nodes.gap.args.p", "finite"),
]


@pytest.mark.parametrize(("edit", "field", "fragment"), ERRORS, ids=[e[1] + ":" + e[2] for e in ERRORS])
def test_validation_errors_name_the_field(edit: Any, field: str, fragment: str) -> None:
    data = _mutated(edit)
    with pytest.raises(GenomeError) as info:
        Architecture.from_dict(data).validate()
    error = info.value
    assert error.field.startswith(field), (error.field, field)
    assert fragment in error.message
    assert str(error).startswith(error.field + ": ")


def test_unknown_input_message_is_exact() -> None:
    with pytest.raises(GenomeError) as info:
        Architecture.from_dict(_mutated(_set(f"{BASIC}.c2.inputs", ["n9"])))
    assert str(info.value) == "cells.basic.nodes.c2.inputs: unknown node 'n9'"


def test_cycle_names_a_node_on_it() -> None:
    data = _mutated(_set(f"{BASIC}.c1.inputs", ["c2"]))
    with pytest.raises(GenomeError, match=r"cycle .*c1.*c2|cycle .*c2.*c1") as info:
        Architecture.from_dict(data)
    assert info.value.field in {f"{BASIC}.c1.inputs", f"{BASIC}.c2.inputs"}


def test_spatial_size_below_one() -> None:
    data = {
        "name": "shrink", "input_shape": [3, 8, 8],
        "network": {"nodes": {f"c{i}": {"op": "conv", "args": {"out": 4, "stride": 2, "padding": 0},
                                        "inputs": [f"c{i - 1}" if i else "input"]} for i in range(5)},
                    "output": "c4"},
    }
    with pytest.raises(GenomeError, match="below 1") as info:
        Architecture.from_dict(data).validate()
    # 8 -> 3 -> 1 -> below 1 at the third conv.
    assert info.value.field == "network.nodes.c2"


def test_template_cycle() -> None:
    data = tiny()
    data["cells"]["loop"] = {"nodes": {"a": {"cell": "loop2", "inputs": ["x"]}}, "output": "a"}
    data["cells"]["loop2"] = {"nodes": {"a": {"cell": "loop", "inputs": ["x"]}}, "output": "a"}
    with pytest.raises(GenomeError, match="cycle") as info:
        Architecture.from_dict(data)
    assert info.value.field.startswith("cells.loop")
    data["cells"]["self"] = {"nodes": {"a": {"cell": "self", "inputs": ["x"]}}, "output": "a"}
    del data["cells"]["loop"], data["cells"]["loop2"]
    with pytest.raises(GenomeError, match="cycle"):
        Architecture.from_dict(data)


def test_invalid_text() -> None:
    with pytest.raises(GenomeError, match="invalid YAML"):
        Architecture.from_yaml("name: [unclosed\n")
    with pytest.raises(GenomeError, match="invalid JSON"):
        Architecture.from_json('{"name": ')
    with pytest.raises(GenomeError, match="expected a mapping"):
        Architecture.from_json(json.dumps([1, 2]))


@pytest.mark.parametrize("size", [32, 64, 224])
def test_resnet18_shapes(size: int) -> None:
    arch = zoo.get("resnet18")
    shapes = arch.shapes((3, size, size))
    quarter = size // 4  # conv1 stride 2 then max-pool stride 2 (both 'same'-padded, even sizes)
    assert shapes["conv1"] == (64, size // 2, size // 2)
    assert shapes["maxpool"] == (64, quarter, quarter)
    assert shapes["layer1.0.conv1"] == shapes["layer1.1.out"] == (64, quarter, quarter)
    assert shapes["layer2_0.downsample"] == (128, quarter // 2, quarter // 2)
    assert shapes["layer3.out"] == (256, quarter // 4, quarter // 4)
    assert shapes["layer4_0.conv1"] == shapes["layer4.out"] == (512, -(-quarter // 8), -(-quarter // 8))
    assert shapes["avgpool"] == (512,)
    assert arch.output_shape((3, size, size)) == (1000,) == shapes["fc"]
    # Width and parameters do not depend on the input size; MACs grow with the pixel count.
    assert arch.params((3, size, size)) == arch.params()
    assert len(shapes) == 31


def test_resnet18_macs_scale_with_input() -> None:
    arch = zoo.get("resnet18")
    assert arch.macs((3, 64, 64)) < arch.macs((3, 224, 224))
    # ResNet-18 at 224x224: 11,689,512 parameters and about 1.82 G MACs (torchvision).
    assert arch.params() == 11_689_512
    assert abs(arch.macs() - 1.814e9) / 1.814e9 < 0.01


def test_input_shape_override_validated() -> None:
    arch = zoo.get("resnet18")
    with pytest.raises(GenomeError, match="input_shape"):
        arch.lower((3, 0, 32))
    with pytest.raises(GenomeError, match="input_shape"):
        arch.lower((3, 32))


def test_expression_vars_and_repeat_paths() -> None:
    data = tiny()
    data["network"]["vars"] = {"W": 8}
    data["network"]["nodes"]["stem"]["args"]["out"] = "2*W"
    data["network"]["nodes"]["b"]["vars"]["C"] = "W*2"
    arch = Architecture.from_dict(data)
    shapes = arch.shapes()
    assert shapes["stem"] == (16, 32, 32)
    assert shapes["b.0.c1"] == shapes["b.1.out"] == (16, 32, 32)
    assert arch.hash() == Architecture.from_dict(tiny()).hash()
