"""Cells of the genome: DAGs of op and cell-instance nodes held as networkx graphs, with structural validation.

Both levels are ``networkx.DiGraph``s. A node carries either ``op`` (a registered op, with ``args``) or ``cell`` (a
template name, with ``vars``), a ``merge`` that combines several inputs first (add, concat, mean, gate) and a ``repeat``
count. Edges carry ``index``, the position of the input, because order matters for gates and two-input cells.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx

from nasbench.errors import GenomeError

FORMAT = "nasbench.genome"
VERSION = 1
MERGES = ("add", "concat", "mean", "gate")
NETWORK_INPUT = "input"
DEFAULT_INPUT = "x"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NODE_KEYS = ("op", "args", "cell", "vars", "inputs", "merge", "repeat")


def check_name(name: object, where: str) -> str:
    """Return ``name`` if it is a valid node, input or cell name; raise GenomeError otherwise."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise GenomeError(where, f"invalid name {name!r} (use letters, digits and _, not starting with a digit)")
    return name


def expect_type(value: object, kind: type | tuple[type, ...], where: str, what: str) -> Any:
    """Return ``value`` if it is of ``kind`` (bools are not numbers); raise GenomeError naming ``where`` otherwise."""
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise GenomeError(where, f"expected {what}, got {type(value).__name__}")
    return value


def _number_or_expression(value: object, where: str) -> object:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) and value is not None:
        raise GenomeError(where, f"expected a number, an expression or null, got {type(value).__name__}")
    return value


class Cell:
    """A DAG of nodes with named inputs and one output node, held as a ``networkx.DiGraph``.

    The same class holds a cell template and the network itself (whose single input is ``input`` and whose nodes may
    be cell instances). ``vars`` declares the template variables (such as the width ``C`` and stride ``s``) with their
    defaults; ``None`` marks a variable every instance must set. ``aux`` names auxiliary output nodes (extra training
    outputs, as Inception's and DARTS's auxiliary heads).
    """

    def __init__(
        self,
        inputs: Sequence[str] = (DEFAULT_INPUT,),
        vars: Mapping[str, Any] | None = None,  # noqa: A002 - the genome's own word
        output: str | None = None,
        aux: Sequence[str] = (),
    ) -> None:
        self.graph = nx.DiGraph(output=output, vars=dict(vars or {}), aux=list(aux))
        for name in inputs:
            self.graph.add_node(name, role="input")

    @property
    def inputs(self) -> list[str]:
        """The cell's input names, in order."""
        return [n for n, role in self.graph.nodes(data="role") if role == "input"]

    @property
    def output(self) -> str:
        """The node whose result is the cell's output."""
        return self.graph.graph["output"]

    @output.setter
    def output(self, name: str) -> None:
        self.graph.graph["output"] = name

    @property
    def vars(self) -> dict[str, Any]:
        """Declared template variables and their defaults."""
        return self.graph.graph["vars"]

    @property
    def aux(self) -> list[str]:
        """Auxiliary output nodes (training-only heads)."""
        return self.graph.graph["aux"]

    def nodes(self) -> list[str]:
        """The op and cell-instance nodes (not the inputs), in insertion order."""
        return [n for n, role in self.graph.nodes(data="role") if role != "input"]

    def node(self, name: str) -> dict[str, Any]:
        """The attribute dict of node ``name`` (op/args or cell/vars, merge, repeat)."""
        return self.graph.nodes[name]

    def node_inputs(self, name: str) -> list[str]:
        """The inputs of node ``name`` in their declared order."""
        edges = sorted(self.graph.in_edges(name, data="index"), key=lambda edge: edge[2])
        return [source for source, _, _ in edges]

    def add(
        self,
        name: str,
        op: str | None = None,
        *,
        inputs: Sequence[str],
        args: Mapping[str, Any] | None = None,
        cell: str | None = None,
        vars: Mapping[str, Any] | None = None,  # noqa: A002
        merge: str | None = None,
        repeat: int = 1,
    ) -> str:
        """Add a node computing ``op(merge(inputs))`` (or a ``cell`` instance) and return its name."""
        if name in self.graph:
            raise GenomeError(name, f"node {name!r} already exists")
        attrs: dict[str, Any] = {"role": "node", "merge": merge, "repeat": repeat}
        if cell is None:
            attrs.update(op=op, args=dict(args or {}))
        else:
            attrs.update(cell=cell, vars=dict(vars or {}))
        self.graph.add_node(name, **attrs)
        self.set_inputs(name, inputs)
        return name

    def set_inputs(self, name: str, inputs: Sequence[str]) -> None:
        """Replace the inputs of node ``name``; unknown sources are added as bare nodes for validation to catch."""
        self.graph.remove_edges_from(list(self.graph.in_edges(name)))
        for index, source in enumerate(inputs):
            if self.graph.has_edge(source, name):
                raise GenomeError(name, f"input {source!r} listed twice")
            self.graph.add_edge(source, name, index=index)

    def remove(self, name: str) -> None:
        """Remove node ``name`` and its edges."""
        self.graph.remove_node(name)

    def copy(self) -> Cell:
        """A deep copy."""
        other = Cell.__new__(Cell)
        other.graph = copy.deepcopy(self.graph)
        return other

    def to_dict(self, network: bool = False) -> dict[str, Any]:
        """Plain-data form (the genome schema); empty and default fields are left out."""
        data: dict[str, Any] = {}
        if self.inputs != [NETWORK_INPUT if network else DEFAULT_INPUT]:
            data["inputs"] = self.inputs
        if self.vars:
            data["vars"] = dict(self.vars)
        nodes: dict[str, Any] = {}
        for name in self.nodes():
            attrs = self.node(name)
            entry: dict[str, Any] = {}
            if attrs.get("cell") is not None:
                entry["cell"] = attrs["cell"]
                if attrs.get("vars"):
                    entry["vars"] = dict(attrs["vars"])
            else:
                entry["op"] = attrs.get("op")
                if attrs.get("args"):
                    entry["args"] = copy.deepcopy(attrs["args"])
            entry["inputs"] = self.node_inputs(name)
            if attrs.get("merge"):
                entry["merge"] = attrs["merge"]
            if attrs.get("repeat", 1) != 1:
                entry["repeat"] = attrs["repeat"]
            nodes[name] = entry
        data["nodes"] = nodes
        data["output"] = self.output
        if self.aux:
            data["aux"] = list(self.aux)
        return data

    @classmethod
    def from_dict(cls, data: object, where: str, network: bool = False) -> Cell:
        """Parse and structurally validate the plain-data form; errors name the field under ``where``."""
        data = expect_type(data, dict, where, "a mapping")
        allowed = {"inputs", "vars", "nodes", "output", "aux"}
        for key in data:
            if key not in allowed:
                raise GenomeError(f"{where}.{key}", f"unknown field (allowed: {', '.join(sorted(allowed))})")
        inputs = data.get("inputs", [NETWORK_INPUT if network else DEFAULT_INPUT])
        inputs = expect_type(inputs, list, f"{where}.inputs", "a list of input names")
        if not inputs:
            raise GenomeError(f"{where}.inputs", "a cell needs at least one input")
        if network and len(inputs) != 1:
            raise GenomeError(f"{where}.inputs", "the network takes exactly one input")
        for i, name in enumerate(inputs):
            check_name(name, f"{where}.inputs[{i}]")
        if len(set(inputs)) != len(inputs):
            raise GenomeError(f"{where}.inputs", "duplicate input name")
        variables = expect_type(data.get("vars", {}), dict, f"{where}.vars", "a mapping of variables")
        for key, value in variables.items():
            check_name(key, f"{where}.vars")
            _number_or_expression(value, f"{where}.vars.{key}")
        cell = cls(inputs=inputs, vars=variables)
        nodes = expect_type(data.get("nodes"), dict, f"{where}.nodes", "a mapping of nodes")
        if not nodes:
            raise GenomeError(f"{where}.nodes", "a cell needs at least one node")
        pending: list[tuple[str, list[str]]] = []
        for name, entry in nodes.items():
            field = f"{where}.nodes.{name}"
            check_name(name, f"{where}.nodes")
            if name in inputs:
                raise GenomeError(field, f"node name {name!r} is also an input name")
            node_inputs = cls._parse_node(cell, name, entry, field)
            pending.append((name, node_inputs))
        for name, node_inputs in pending:
            field = f"{where}.nodes.{name}.inputs"
            for source in node_inputs:
                if source not in cell.graph:
                    raise GenomeError(field, f"unknown node {source!r}")
            if len(set(node_inputs)) != len(node_inputs):
                raise GenomeError(field, "an input is listed twice")
            for index, source in enumerate(node_inputs):
                cell.graph.add_edge(source, name, index=index)
        output = data.get("output")
        if not isinstance(output, str) or output not in nodes:
            problem = f"unknown node {output!r}" if isinstance(output, str) else "missing field"
            raise GenomeError(f"{where}.output", problem)
        cell.output = output
        aux = expect_type(data.get("aux", []), list, f"{where}.aux", "a list of node names")
        for i, name in enumerate(aux):
            expect_type(name, str, f"{where}.aux[{i}]", "a node name")
            if name not in nodes:
                raise GenomeError(f"{where}.aux[{i}]", f"unknown node {name!r}")
        cell.graph.graph["aux"] = list(aux)
        cell.check_acyclic(where)
        return cell

    @staticmethod
    def _parse_node(cell: Cell, name: str, entry: object, field: str) -> list[str]:
        entry = expect_type(entry, dict, field, "a mapping")
        for key in entry:
            if key not in _NODE_KEYS:
                raise GenomeError(f"{field}.{key}", f"unknown field (allowed: {', '.join(_NODE_KEYS)})")
        has_op, has_cell = "op" in entry, "cell" in entry
        if has_op == has_cell:
            raise GenomeError(field, "a node needs exactly one of 'op' and 'cell'")
        node_inputs = expect_type(entry.get("inputs"), list, f"{field}.inputs", "a list of input names")
        if not node_inputs:
            raise GenomeError(f"{field}.inputs", "a node needs at least one input")
        for i, source in enumerate(node_inputs):
            expect_type(source, str, f"{field}.inputs[{i}]", "a node name")
        merge = entry.get("merge")
        if merge is not None and merge not in MERGES:
            raise GenomeError(f"{field}.merge", f"unknown merge {merge!r} (allowed: {', '.join(MERGES)})")
        repeat = expect_type(entry.get("repeat", 1), int, f"{field}.repeat", "an integer")
        if repeat < 1:
            raise GenomeError(f"{field}.repeat", f"must be at least 1, got {repeat}")
        attrs: dict[str, Any] = {"role": "node", "merge": merge, "repeat": repeat}
        if has_op:
            attrs["op"] = expect_type(entry["op"], str, f"{field}.op", "an op name")
            attrs["args"] = dict(expect_type(entry.get("args", {}), dict, f"{field}.args", "a mapping of arguments"))
        else:
            attrs["cell"] = expect_type(entry["cell"], str, f"{field}.cell", "a cell name")
            variables = expect_type(entry.get("vars", {}), dict, f"{field}.vars", "a mapping of variables")
            for key, value in variables.items():
                _number_or_expression(value, f"{field}.vars.{key}")
            attrs["vars"] = dict(variables)
        cell.graph.add_node(name, **attrs)
        return list(node_inputs)

    def check_acyclic(self, where: str) -> None:
        """Raise GenomeError naming a node on a cycle, if there is one."""
        try:
            cycle = nx.find_cycle(self.graph)
        except nx.NetworkXNoCycle:
            return
        path = " -> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
        raise GenomeError(f"{where}.nodes.{cycle[0][1]}.inputs", f"cycle {path}")

    def topological_nodes(self) -> list[str]:
        """Nodes in a topological order that keeps insertion order where the graph allows."""
        order = {name: i for i, name in enumerate(self.graph.nodes)}
        return [n for n in nx.lexicographical_topological_sort(self.graph, key=order.__getitem__)
                if self.graph.nodes[n].get("role") != "input"]
