"""The canonical hash: blind to names and declaration order, sensitive to every change of the computed network."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from genomes import tiny_resnet

from nasbench.architecture import Architecture
from nasbench.cell import NETWORK_INPUT
from search_spaces import zoo

TINY = tiny_resnet(size=16, width=8, projection=True)


def _tiny() -> Architecture:
    return Architecture.from_dict(yaml.safe_load(TINY))


def _darts() -> Architecture:
    return zoo.get("darts_v2_cifar", input_shape=(3, 16, 16), num_classes=10)


ARCHS: dict[str, Callable[[], Architecture]] = {
    "tiny_resnet": _tiny,
    "resnet18": lambda: zoo.get("resnet18"),
    "darts_v2": _darts,
    "inception_v3": lambda: zoo.get("inception_v3"),
}


def _rename_graph(graph: dict[str, Any], rng: random.Random, network: bool,
                  cell_names: dict[str, str]) -> dict[str, Any]:
    """The graph with every node (and cell input) renamed, nodes in shuffled order, references followed."""
    default_inputs = [NETWORK_INPUT] if network else ["x"]
    inputs = graph.get("inputs", default_inputs)
    names = {name: name if network else f"in_{rng.randrange(10**6)}_{i}" for i, name in enumerate(inputs)}
    for i, name in enumerate(graph["nodes"]):
        names[name] = f"n{rng.randrange(10**6)}_{i}"
    nodes = list(graph["nodes"].items())
    rng.shuffle(nodes)
    renamed: dict[str, Any] = {}
    for name, entry in nodes:
        entry = copy.deepcopy(entry)
        entry["inputs"] = [names[source] for source in entry["inputs"]]
        if "cell" in entry:
            entry["cell"] = cell_names[entry["cell"]]
        renamed[names[name]] = entry
    result = dict(graph, nodes=renamed, output=names[graph["output"]])
    if not network:
        result["inputs"] = [names[name] for name in inputs]
    if "aux" in graph:
        result["aux"] = [names[name] for name in graph["aux"]]
    return result


def relabel(arch: Architecture, seed: int) -> Architecture:
    """An isomorphic copy: every node, cell input and template renamed, nodes shuffled, cells dict reordered."""
    rng = random.Random(seed)
    data = arch.to_dict()
    cells = data.get("cells", {})
    cell_names = {name: f"t{rng.randrange(10**6)}_{i}" for i, name in enumerate(cells)}
    items = list(cells.items())
    rng.shuffle(items)
    data["cells"] = {cell_names[name]: _rename_graph(cell, rng, False, cell_names) for name, cell in items}
    data["network"] = _rename_graph(data["network"], rng, True, cell_names)
    data["name"] = f"renamed_{seed}"
    data.pop("meta", None)
    return Architecture.from_dict(data)


@pytest.mark.parametrize("name", list(ARCHS))
def test_hash_invariant_under_relabelling(name: str) -> None:
    arch = ARCHS[name]()
    reference = arch.hash()
    assert len(reference) == 32 and int(reference, 16) >= 0
    for seed in range(3):
        other = relabel(arch, seed)
        assert other != arch  # the genome really is different text
        assert set(other.network.nodes()).isdisjoint(arch.network.nodes())
        assert other.hash() == reference
        assert other.params() == arch.params() and other.macs() == arch.macs()


def _edit(arch: Architecture, graph: str, node: str, **changes: Any) -> Architecture:
    data = arch.to_dict()
    target = data["network"] if graph == "network" else data["cells"][graph]
    entry = target["nodes"][node]
    for key, value in changes.items():
        if key in ("out", "stride", "kernel", "dilation"):
            entry.setdefault("args", {})[key] = value
        else:
            entry[key] = value
    return Architecture.from_dict(data)


def test_hash_sensitive_to_changes() -> None:
    arch = _tiny()
    variants = {
        "op": _edit(arch, "basic", "c1", op="conv_bn_relu6"),
        "op_in_network": _edit(arch, "network", "stem", op="conv_bn"),
        "edge": _edit(arch, "proj", "sc", inputs=["c1"], args={"out": "C", "kernel": 1}),
        "width": _edit(arch, "network", "fc", out=12),
        "cell_width": _edit(arch, "network", "p", vars={"C": 24}),
        "stride": _edit(arch, "network", "stem", stride=2),
        "kernel": _edit(arch, "basic", "c2", kernel=5),
        "repeat": _edit(arch, "network", "b", repeat=3),
        "merge": _edit(arch, "basic", "out", merge="mean"),
    }
    hashes = {name: variant.hash() for name, variant in variants.items()}
    hashes["original"] = arch.hash()
    shape = copy.deepcopy(arch)
    shape.input_shape = (3, 32, 32)
    hashes["input_shape"] = shape.hash()
    channels = copy.deepcopy(arch)
    channels.input_shape = (1, 16, 16)
    hashes["input_channels"] = channels.hash()
    assert len(set(hashes.values())) == len(hashes), hashes


def test_hash_sensitive_in_darts_cells() -> None:
    arch = _darts()
    reference = arch.hash()
    for cell_name in arch.cells:
        data = arch.to_dict()
        nodes = data["cells"][cell_name]["nodes"]
        swap = {"sep_conv": "dil_conv", "max_pool": "avg_pool"}
        changed = next(name for name, entry in nodes.items() if entry.get("op") in swap)
        nodes[changed]["op"] = swap[nodes[changed]["op"]]
        assert Architecture.from_dict(data).hash() != reference, cell_name
    rewired = arch.to_dict()
    assert rewired["cells"]["normal"]["nodes"]["b0_1"]["inputs"] == ["p1"]
    rewired["cells"]["normal"]["nodes"]["b0_1"]["inputs"] = ["p0"]
    assert Architecture.from_dict(rewired).hash() != reference


def test_gate_input_order_matters_add_order_does_not() -> None:
    text = """
name: g
input_shape: [4, 8, 8]
network:
  nodes:
    h: {op: conv, args: {out: 4}, inputs: [input]}
    t: {op: conv, args: {out: 4, kernel: 1}, inputs: [input]}
    g: {op: identity, inputs: [h, t, input], merge: gate}
  output: g
"""
    arch = Architecture.from_yaml(text)
    swapped = Architecture.from_yaml(text.replace("[h, t, input]", "[t, h, input]"))
    assert swapped.hash() != arch.hash()
    added = Architecture.from_yaml(text.replace("[h, t, input], merge: gate", "[h, t, input], merge: add"))
    added_swapped = Architecture.from_yaml(text.replace("[h, t, input], merge: gate", "[t, input, h], merge: add"))
    assert added.hash() == added_swapped.hash() != arch.hash()


def test_shared_layer_differs_from_two_copies() -> None:
    shared = """
name: shared
input_shape: [3, 8, 8]
network:
  nodes:
    a: {op: conv_bn_relu, args: {out: 4}, inputs: [input]}
    l: {op: conv, args: {out: 4}, inputs: [a]}
    r: {op: conv, args: {out: 4}, inputs: [a]}
    out: {op: identity, inputs: [l, r], merge: add}
  output: out
"""
    copies = shared.replace("""    a: {op: conv_bn_relu, args: {out: 4}, inputs: [input]}
    l: {op: conv, args: {out: 4}, inputs: [a]}""", """    a: {op: conv_bn_relu, args: {out: 4}, inputs: [input]}
    a2: {op: conv_bn_relu, args: {out: 4}, inputs: [input]}
    l: {op: conv, args: {out: 4}, inputs: [a2]}""")
    one, two = Architecture.from_yaml(shared), Architecture.from_yaml(copies)
    assert len(two.lower().layers) == len(one.lower().layers) + 1
    assert one.hash() != two.hash()


def test_dead_layers_do_not_change_hash() -> None:
    arch = _tiny()
    data = arch.to_dict()
    data["network"]["nodes"]["unused"] = {"op": "conv", "args": {"out": 3}, "inputs": ["stem"]}
    with_dead = Architecture.from_dict(data)
    assert with_dead.hash() == arch.hash()
    assert with_dead.params() == arch.params()
