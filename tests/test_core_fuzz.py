"""Fuzzing the genome parser and lowering: any corruption of a valid genome validates or raises GenomeError.

Every corrupted genome either parses, validates, lowers and hashes, or fails with a GenomeError; any other exception
type (KeyError, TypeError, RecursionError, ...) is a bug in the core. The small valid ones are also built and run,
since a genome that validates must build. The RNG is seeded, so failures reproduce.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
import torch
import yaml

import nasbench
from nasbench.architecture import Architecture
from nasbench.errors import GenomeError
from nasbench.ops import op_names

# Not the shared tiny_resnet: network variables, a 2*W expression, a list kernel and dropout give the fuzzer more to
# corrupt, and the seeded outcome counts depend on this exact text.
RESNET_CELLS = """
name: tiny
input_shape: [3, 16, 16]
cells:
  basic:
    vars: {C: null, s: 1}
    nodes:
      c1: {op: conv_bn_relu, args: {out: C, stride: s}, inputs: [x]}
      c2: {op: conv_bn, args: {out: C, kernel: [1, 3]}, inputs: [c1]}
      out: {op: relu, inputs: [c2, x], merge: add}
    output: out
  proj:
    vars: {C: null, s: 2}
    nodes:
      c1: {op: conv_bn_relu, args: {out: C, stride: s}, inputs: [x]}
      c2: {op: conv_bn, args: {out: C}, inputs: [c1]}
      sc: {op: conv_bn, args: {out: C, kernel: 1, stride: s}, inputs: [x]}
      out: {op: relu, inputs: [c2, sc], merge: add}
    output: out
network:
  vars: {W: 8}
  nodes:
    stem: {op: conv_bn_relu, args: {out: W}, inputs: [input]}
    b: {cell: basic, vars: {C: W}, inputs: [stem], repeat: 2}
    p: {cell: proj, vars: {C: 2*W}, inputs: [b]}
    gap: {op: global_avg_pool, inputs: [p]}
    drop: {op: dropout, args: {p: 0.2}, inputs: [gap]}
    fc: {op: linear, args: {out: 10}, inputs: [drop]}
  output: fc
"""

# Not a ResNet: two-input cells, a gate merge, shuffle and slice ops and an aux head cover the rest of the grammar.
TWO_INPUT_CELLS = """
name: nasnetish
input_shape: [3, 16, 16]
cells:
  normal:
    inputs: [s0, s1]
    vars: {C: null}
    nodes:
      p0: {op: fact_reduce, args: {out: C, stride: 1}, inputs: [s0]}
      p1: {op: fact_reduce, args: {out: C, stride: 1}, inputs: [s1]}
      a: {op: sep_conv, args: {out: C}, inputs: [p0]}
      b: {op: max_pool, args: {kernel: 3}, inputs: [p1]}
      n2: {op: identity, inputs: [a, b], merge: add}
      c: {op: dil_conv, args: {out: C}, inputs: [n2]}
      d: {op: skip_connect, inputs: [p1]}
      n3: {op: identity, inputs: [c, d], merge: add}
      cat: {op: identity, inputs: [n2, n3], merge: concat}
    output: cat
network:
  nodes:
    stem: {op: conv_bn, args: {out: 12}, inputs: [input]}
    stem1: {op: conv_bn, args: {out: 12}, inputs: [stem]}
    cells: {cell: normal, vars: {C: 4}, inputs: [stem, stem1], repeat: 2}
    head: {op: avg_pool, args: {kernel: 2, stride: 2, padding: 0}, inputs: [cells]}
    shuffle: {op: channel_shuffle, args: {groups: 2}, inputs: [head]}
    gate: {op: identity, inputs: [shuffle, shuffle2, head], merge: gate}
    shuffle2: {op: channel_slice, args: {start: 0, stop: 8}, inputs: [head]}
    gap: {op: global_avg_pool, inputs: [gate]}
    aux: {op: linear, args: {out: 10}, inputs: [head]}
    fc: {op: linear, args: {out: 10}, inputs: [gap]}
  output: fc
  aux: [aux]
"""

BAD_STRINGS = ["C/", "C*", "__import__('os')", "x.y", "", " ", "C**C**C**C", "1e400", "-C", "C//0", "C%0",
               "(-C)**0.5", "2**C**C", "max()", "round(C, C, C)", "lambda: 1", "[C]", "C if C else 1",
               "nan", "inf", "C/0.0",
               "int('3')", "ceil(1e308*10)", "10**10**10", "s*0", "0.5*C", "(", "\x00", "9" * 400]
BAD_NAMES = ["", "1abc", "a-b", "a.b", "input", "x", " ", "ä", "__class__", "b", "gap", "stem"]
MERGES = [None, "add", "concat", "mean", "gate", "sum", "ADD", "", 1, ["add"]]


def _random_value(rng: random.Random) -> Any:
    """A random value of a random JSON-ish type, biased to the values that break careless code."""
    kind = rng.randrange(10)
    if kind == 0:
        return rng.choice([0, -1, 1, 2, 3, 10**18, -(10**18), 2**31, 2**63, 7, 10**30, 10**400])
    if kind == 1:
        return rng.choice([0.0, -0.5, 0.5, 1.5, float("inf"), float("nan"), 1e308, 3.0])
    if kind == 2:
        return rng.choice(BAD_STRINGS)
    if kind == 3:
        return rng.choice(op_names() + ["conv_bn_relu_typo", "Conv", "sep_conv ", "zoo"])
    if kind == 4:
        return rng.choice(MERGES)
    if kind == 5:
        return rng.choice([None, True, False])
    if kind == 6:
        return rng.choice([[], [1], ["x"], ["input"], ["stem", "stem"], [None], [[1, 2]], [3, 3], [1, 7]])
    if kind == 7:
        return rng.choice([{}, {"out": 0}, {"C": None}, {"a": {"b": 1}}, {"": 1}])
    if kind == 8:
        return rng.choice(BAD_NAMES)
    return rng.randint(-3, 40)


def _containers(data: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """Every (path, dict-or-list) inside ``data``, itself included."""
    found = [(path, data)] if isinstance(data, (dict, list)) else []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    for key, value in items:
        found += _containers(value, (*path, key))
    return found


def _nodes(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The node mappings of the network and every cell (the ones that are still mappings)."""
    cells = data.get("cells")
    graphs = [data.get("network")] + (list(cells.values()) if isinstance(cells, dict) else [])
    found = []
    for graph in graphs:
        if isinstance(graph, dict) and isinstance(graph.get("nodes"), dict):
            found.append(graph["nodes"])
    return found


def _corrupt(data: dict[str, Any], rng: random.Random) -> None:
    """Apply one random corruption to ``data`` in place."""
    choice = rng.randrange(9)
    containers = _containers(data)
    _, target = rng.choice(containers)
    if choice == 0 and target:  # delete a key or an item
        key = rng.choice(list(target)) if isinstance(target, dict) else rng.randrange(len(target))
        del target[key]
    elif choice == 1 and isinstance(target, dict) and target:  # rename a key
        key = rng.choice(list(target))
        target[rng.choice(BAD_NAMES + ["out", "C", "n9", "nodes", "args", "vars", "inputs"])] = target.pop(key)
    elif choice in (2, 3) and target:  # replace a value with a random one of (usually) another type
        key = rng.choice(list(target)) if isinstance(target, dict) else rng.randrange(len(target))
        target[key] = _random_value(rng)
    elif choice == 4:  # rewire: swap, duplicate or add inputs of a node
        nodes = rng.choice(_nodes(data) or [{}])
        entries = [e for e in nodes.values() if isinstance(e, dict) and isinstance(e.get("inputs"), list)]
        if entries:
            entry = rng.choice(entries)
            inputs = entry["inputs"]
            action = rng.randrange(3)
            if action == 0:
                rng.shuffle(inputs)
            elif action == 1 and inputs:
                inputs.append(rng.choice(inputs))
            else:
                inputs.append(rng.choice(list(nodes) + ["x", "s0", "s1", "input", "n9"]))
    elif choice == 5:  # create a cycle: a node reads a later one
        nodes = rng.choice(_nodes(data) or [{}])
        names = list(nodes)
        if len(names) >= 2 and isinstance(nodes[names[0]], dict):
            nodes[names[0]]["inputs"] = [rng.choice(names[1:])]
    elif choice == 6:  # a random op, merge or repeat on a random node
        nodes = rng.choice(_nodes(data) or [{}])
        entries = [e for e in nodes.values() if isinstance(e, dict)]
        if entries:
            entry = rng.choice(entries)
            field = rng.choice(["op", "merge", "repeat", "cell"])
            entry[field] = {"op": rng.choice(op_names() + ["bogus"]), "merge": rng.choice(MERGES),
                            "repeat": rng.choice([0, -1, 1, 2, 3, 10**9, 2.0, "2"]),
                            "cell": rng.choice(["basic", "proj", "normal", "nope", 3])}[field]
    elif choice == 7:  # a bad expression or a weird number in an op argument or a variable
        nodes = rng.choice(_nodes(data) or [{}])
        entries = [e for e in nodes.values() if isinstance(e, dict)]
        if entries:
            entry = rng.choice(entries)
            bag = entry.setdefault("args" if "op" in entry else "vars", {})
            if isinstance(bag, dict):
                key = rng.choice(list(bag) + ["out", "stride", "kernel", "groups", "p", "C", "s", "W"])
                bag[key] = rng.choice(BAD_STRINGS + [0, -1, 10**12, 2**40, 0.5, [0, 1], [2, 2, 2], None, True])
    else:  # a random top-level field
        key = rng.choice(["input_shape", "version", "format", "name", "cells", "network", "meta"])
        data[key] = rng.choice([_random_value(rng), [3, 0, 16], [3, 16, 16, 1], [3, 10**6, 1], [1, 1, 1]])


def _check(data: dict[str, Any]) -> Architecture | None:
    """The architecture if the genome is valid, None if it raises GenomeError; any other exception propagates."""
    try:
        arch = Architecture.from_dict(data)
        arch.validate()
        arch.lower()
        arch.hash()
        arch.params()
        Architecture.from_yaml(arch.to_yaml())
    except GenomeError:
        return None
    return arch


def _builds(arch: Architecture) -> bool:
    """Whether a valid genome also builds and runs as validated; False for ones too big to try quickly."""
    if arch.params() > 200_000 or arch.macs() > 20_000_000 or max(arch.input_shape) > 64:
        return False
    model = nasbench.build(arch).eval()
    with torch.no_grad():
        out = model(torch.randn(1, *arch.input_shape))
    assert tuple(out.shape[1:]) == arch.output_shape()
    assert sum(p.numel() for p in model.parameters()) == arch.params()
    return True


@pytest.mark.parametrize("base", [RESNET_CELLS, TWO_INPUT_CELLS], ids=["resnet_cells", "two_input_cells"])
def test_corruptions_raise_only_genome_error(base: str) -> None:
    genome = yaml.safe_load(base)
    assert _check(copy.deepcopy(genome)) is not None
    rng = random.Random(20240601)
    outcomes = {"ok": 0, "error": 0, "built": 0}
    for trial in range(1100):
        data = copy.deepcopy(genome)
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            _corrupt(data, rng)
        try:
            arch = _check(data)
            outcomes["error" if arch is None else "ok"] += 1
            # Validation promises a buildable network: build the valid ones that are small enough to run quickly.
            if arch is not None and _builds(arch):
                outcomes["built"] += 1
        except Exception as error:  # noqa: BLE001 - the point: report any non-GenomeError with its input
            raise AssertionError(f"trial {trial}: {type(error).__name__}: {error}\n{data!r}") from error
    # The corruptions must exercise both outcomes, or the fuzzer is not reaching the validator.
    assert outcomes["error"] > 300 and outcomes["ok"] > 50 and outcomes["built"] > 20, outcomes
