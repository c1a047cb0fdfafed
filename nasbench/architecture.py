"""The architecture genome: a network graph of stem ops, cell instances and head ops over named cell templates."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import yaml

from nasbench.cell import FORMAT, VERSION, Cell, check_name, expect_type
from nasbench.errors import GenomeError
from nasbench.hashing import architecture_hash
from nasbench.lowering import Lowered, lower
from nasbench.ops import Shape
from nasbench.ops.registry import REGISTRY as OPS


@dataclass(frozen=True)
class Measurement:
    """What one lowering at the genome's input shape tells: canonical hash, parameters, MACs."""

    hash: str
    params: int
    macs: int


# Genome text digest -> measurement. Lowering is the costly part of proposing a candidate, and a search measures the
# same genomes again and again (a mutation compares child and parent, the loop deduplicates, benchmarks repeat runs).
_MEASURED: dict[tuple[str, int], Measurement] = {}
_MEASURED_LIMIT = 100_000


class Architecture:
    """A network over named cell templates, with the input shape it is built for.

    ``meta`` holds descriptive fields (family, paper, ...) that do not affect the network or its hash.
    """

    def __init__(
        self,
        name: str,
        input_shape: Sequence[int],
        network: Cell,
        cells: Mapping[str, Cell] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.input_shape = tuple(int(x) for x in input_shape)
        self.network = network
        self.cells = dict(cells or {})
        self.meta = dict(meta or {})

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form of the versioned genome schema."""
        data: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": self.name,
                                "input_shape": list(self.input_shape)}
        if self.meta:
            data["meta"] = copy.deepcopy(self.meta)
        if self.cells:
            data["cells"] = {name: cell.to_dict() for name, cell in self.cells.items()}
        data["network"] = self.network.to_dict(network=True)
        return data

    @classmethod
    def from_dict(cls, data: object) -> Architecture:
        """Parse and structurally validate the plain-data form."""
        data = expect_type(data, dict, "genome", "a mapping")
        allowed = ("format", "version", "name", "input_shape", "meta", "cells", "network")
        for key in data:
            if key not in allowed:
                raise GenomeError(key, f"unknown field (allowed: {', '.join(allowed)})")
        if data.get("format", FORMAT) != FORMAT:
            raise GenomeError("format", f"expected {FORMAT!r}, got {data.get('format')!r}")
        version = data.get("version", VERSION)
        if version != VERSION:
            raise GenomeError("version", f"unsupported genome version {version!r} (this nasbench reads {VERSION})")
        name = expect_type(data.get("name", "unnamed"), str, "name", "a string")
        shape = expect_type(data.get("input_shape"), list, "input_shape", "a list like [3, 32, 32]")
        if len(shape) != 3 or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in shape):
            raise GenomeError("input_shape", f"expected three positive integers [C, H, W], got {shape}")
        meta = expect_type(data.get("meta", {}), dict, "meta", "a mapping")
        raw_cells = expect_type(data.get("cells", {}), dict, "cells", "a mapping of cell templates")
        cells = {}
        for cell_name, cell_data in raw_cells.items():
            check_name(cell_name, "cells")
            cells[cell_name] = Cell.from_dict(cell_data, f"cells.{cell_name}")
        if "network" not in data:
            raise GenomeError("network", "missing field")
        network = Cell.from_dict(data["network"], "network", network=True)
        arch = cls(name, shape, network, cells, meta)
        arch.check_cell_references()
        return arch

    def graphs(self) -> Iterable[tuple[str, Cell]]:
        """(field prefix, graph) for the network and every cell template."""
        yield "network", self.network
        for name, cell in self.cells.items():
            yield f"cells.{name}", cell

    def check_cell_references(self) -> None:
        """Every cell instance names a known template, templates do not instantiate themselves, inputs fit."""
        uses = nx.DiGraph()
        for where, graph in self.graphs():
            for node in graph.nodes():
                template = graph.node(node).get("cell")
                if template is None:
                    continue
                field = f"{where}.nodes.{node}"
                if template not in self.cells:
                    raise GenomeError(f"{field}.cell", f"unknown cell {template!r}")
                uses.add_edge(where, f"cells.{template}")
                expected = len(self.cells[template].inputs)
                given = 1 if graph.node(node).get("merge") else len(graph.node_inputs(node))
                if given != expected:
                    raise GenomeError(f"{field}.inputs", f"cell {template!r} takes {expected} inputs, got {given}")
        try:
            cycle = nx.find_cycle(uses)
        except nx.NetworkXNoCycle:
            return
        raise GenomeError(f"{cycle[0][1]}", "cell templates instantiate each other in a cycle")

    def copy(self) -> Architecture:
        """A deep copy."""
        return Architecture(self.name, self.input_shape, self.network.copy(),
                            {k: c.copy() for k, c in self.cells.items()}, copy.deepcopy(self.meta))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Architecture) and self.to_dict() == other.to_dict()

    def lower(self, input_shape: Sequence[int] | None = None) -> Lowered:
        """The validated, flat layer form (see ``nasbench.lowering``) for ``input_shape`` (default: the genome's)."""
        return lower(self, input_shape)

    def validate(self) -> None:
        """Raise GenomeError naming the offending field if the architecture cannot be built."""
        self.check_cell_references()
        for where, graph in self.graphs():
            graph.check_acyclic(where)
        self.lower()

    def measure(self) -> Measurement:
        """Hash, parameters and MACs at the genome's input shape, memoized by the genome's text.

        The memo also keys on the op registry's version, so replacing an op's cost function is never answered from it.
        An invalid genome raises GenomeError, as ``lower`` does.
        """
        key = (hashlib.sha256(self.to_json(indent=None).encode()).hexdigest(), OPS.version)
        found = _MEASURED.get(key)
        if found is None:
            lowered = self.lower()
            found = Measurement(architecture_hash(lowered), lowered.params, lowered.macs)
            if len(_MEASURED) >= _MEASURED_LIMIT:
                _MEASURED.clear()
            _MEASURED[key] = found
        return found

    def params(self, input_shape: Sequence[int] | None = None) -> int:
        """Trainable parameters, counted analytically (auxiliary heads included)."""
        return self.measure().params if input_shape is None else self.lower(input_shape).params

    def macs(self, input_shape: Sequence[int] | None = None) -> int:
        """Multiply-accumulates of one inference forward pass, counted analytically."""
        return self.measure().macs if input_shape is None else self.lower(input_shape).macs

    def shapes(self, input_shape: Sequence[int] | None = None) -> dict[str, Shape]:
        """Output shape (without batch) of every layer, by module path, for ``input_shape``."""
        return {layer.path: layer.out_shape for layer in self.lower(input_shape).layers}

    def output_shape(self, input_shape: Sequence[int] | None = None) -> Shape:
        """Shape of the network's output."""
        return self.lower(input_shape).output_shape

    def hash(self) -> str:
        """Canonical hash: equal for isomorphic networks, different for any change of op, edge, width or stride."""
        return self.measure().hash

    def to_yaml(self) -> str:
        """The genome as YAML text."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, width=120)

    def to_json(self, indent: int | None = 2) -> str:
        """The genome as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_yaml(cls, text: str) -> Architecture:
        """Parse YAML genome text (``yaml.safe_load`` only)."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark else "yaml"
            raise GenomeError(where, f"invalid YAML: {getattr(error, 'problem', error)}") from None
        return cls.from_dict(data)

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        """Parse JSON genome text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise GenomeError(f"line {error.lineno}", f"invalid JSON: {error.msg}") from None
        return cls.from_dict(data)

    def __repr__(self) -> str:
        return f"Architecture({self.name!r}, input_shape={self.input_shape}, cells={list(self.cells)})"
