"""Custom search spaces: genomes with choice points, composed in Python or declared in a YAML space file.

A space is a genome template (the plain-data form of an Architecture) in which values are choice points:

- in Python, a ``Choice([...])`` object anywhere a value goes (a list of values, or a mapping label -> value);
- by reference, ``"$name"`` to a choice declared in ``choices`` (inside an expression too: ``"2*$width"``), and
  ``"$": name`` (or ``"$": Choice({...})``) in a mapping to merge the chosen mapping into it (e.g. an op with its args);
- ``$num_classes`` is the space's number of classes.

Every choice point is one variable of the flat view. A choice whose options (labels) are all numbers, such as a width,
a depth or a kernel size, is ordinal: its order means something, which COMBO and the Optuna samplers exploit; any other
is categorical. To make a numeric choice categorical (numbers that only name things), pass ``Choice([...],
ordinal=False)`` in Python, or list it under ``ordinal`` in a YAML space file (``ordinal: {seed: false}``).

``CellSpace`` wraps a cell with choice points in a standard skeleton (stem, stages of repeated cells with widths C, 2C,
4C and a strided conv between stages, global pooling, linear head). Both are fixed-length spaces (``ChoiceSpace``):
``variables/encode/decode``, sampling by choosing each variable, mutation by changing one. ``load_space_file`` reads
the same spaces from YAML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from nasbench.architecture import Architecture
from nasbench.errors import GenomeError, NasbenchError
from nasbench.files import read_text_file
from search_spaces.base import Choices, ChoiceSpace, Variable

_REFERENCE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_.]*)")
_SCALARS = (str, int, float, bool)
# Path components that only add noise to a variable name derived from the choice's place in the genome.
_STRUCTURE = {"cells", "nodes", "network", "args", "vars", "$"}


class Choice:
    """A choice point: one of ``options`` (a list of values, or a mapping label -> value).

    ``name`` (the variable's name) defaults to the choice's place in the genome (``block.a.kernel``). ``ordinal``
    says whether the labels are ordered numbers (widths, depths, kernel sizes): by default a choice whose labels are all
    numbers is ordinal and any other is categorical; ``ordinal=False`` makes a numeric choice categorical (numbers that
    only name things). An ordinal choice lists its labels in increasing order.
    """

    def __init__(self, options: Sequence[Any] | Mapping[Any, Any], name: str | None = None,
                 ordinal: bool | None = None) -> None:
        if isinstance(options, Mapping):
            self.options = dict(options)
        elif isinstance(options, (list, tuple)):
            self.options = {value: value for value in options}
            if len(self.options) != len(options):
                raise NasbenchError(f"choice {name or ''}: options repeat a value: {list(options)}")
        else:
            kind = type(options).__name__
            raise NasbenchError(f"choice {name or ''}: options must be a list or a mapping, got {kind}")
        if not self.options:
            raise NasbenchError(f"choice {name or ''}: needs at least one option")
        for label in self.options:
            if not isinstance(label, _SCALARS):
                raise NasbenchError(f"choice {name or ''}: option {label!r} is not a scalar; use a mapping "
                                    "label -> value for structured options")
        numeric = all(isinstance(label, (int, float)) and not isinstance(label, bool) for label in self.options)
        if ordinal and not numeric:
            raise NasbenchError(f"choice {name or ''}: an ordinal choice needs numeric options, got {self.labels}")
        self.ordinal = numeric if ordinal is None else bool(ordinal)
        if self.ordinal:
            self.options = dict(sorted(self.options.items(), key=lambda item: item[0]))
        self.name = name

    @property
    def labels(self) -> list[Any]:
        """The option labels: the choices of the flat view (increasing for an ordinal choice)."""
        return list(self.options)

    def variable(self) -> Variable:
        """The variable of the flat view."""
        return Variable(tuple(self.options), self.ordinal)

    def __repr__(self) -> str:
        return f"Choice({self.labels}, name={self.name!r}, ordinal={self.ordinal})"


class RecordedChoiceSpace(ChoiceSpace):
    """A ChoiceSpace whose members record their choices, for networks that do not show them all.

    Some choices leave no trace in the genome (the kernel of a block beyond a stage's depth), so a member keeps its
    choices in ``meta["choices"]``; ``encode`` reads them back and checks that they rebuild the same network
    (canonical hash), so ``contains`` rejects a genome that was edited by hand. A member must also build and end in
    ``num_classes`` outputs (``valid``): combinations whose shapes do not fit are redrawn.
    """

    def decode(self, choices: Choices) -> Architecture:
        """The member described by ``choices`` (a missing or unknown option raises NasbenchError)."""
        checked = self.checked(choices)
        arch = self.build(checked)
        arch.meta["space"] = self.name
        arch.meta["choices"] = checked
        return arch

    def encode(self, arch: Architecture) -> dict[str, Any]:
        """The choices of a member (GenomeError if ``arch`` is not one)."""
        choices = arch.meta.get("choices")
        if not isinstance(choices, Mapping):
            raise GenomeError("meta.choices", f"missing: not a member of space {self.name!r}")
        try:
            checked = self.checked(choices)
            rebuilt = self.build(checked)
        except NasbenchError as error:
            raise GenomeError("meta.choices", str(error)) from None
        if tuple(arch.input_shape) != self.input_shape or rebuilt.hash() != arch.hash():
            raise GenomeError("meta.choices", f"the choices do not describe this network in space {self.name!r}")
        return checked

    def valid(self, arch: Architecture) -> bool:
        """Whether a decoded network builds (shapes fit) and ends in ``num_classes`` outputs."""
        try:
            return arch.output_shape() == (self.num_classes,)
        except GenomeError:
            return False


class GenomeSpace(RecordedChoiceSpace):
    """A genome template with choice points (see the module docstring); ``choices`` declares ``$name`` choices."""

    def __init__(self, template: Mapping[str, Any], choices: Mapping[str, Any] | None = None, name: str = "custom",
                 input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10) -> None:
        super().__init__(input_shape, num_classes)
        self.name = name
        if not isinstance(template, Mapping):
            raise GenomeError("network", "a space template is a mapping with 'network' (and 'cells')")
        for key in template:
            if key not in ("cells", "network"):
                raise GenomeError(str(key), "unknown field of a space template (allowed: cells, network)")
        if "network" not in template:
            raise GenomeError("network", "missing field")
        self.template = dict(template)
        self.declared: dict[str, Choice] = {}
        for key, value in (choices or {}).items():
            choice = value if isinstance(value, Choice) else _declared(value, f"choices.{key}")
            self.declared[str(key)] = Choice(choice.options, str(key), choice.ordinal)
        self._choices: dict[str, Choice] = {}
        self._names: dict[int, str] = {}
        self._collect(self.template, [])
        unused = [key for key in self.declared if key not in self._choices]
        if unused:
            raise GenomeError(f"choices.{unused[0]}", "declared but never used (reference it as $" + unused[0] + ")")
        self._first = self.build({key: c.labels[0] for key, c in self._choices.items()})
        self._first.lower()  # a template whose first member does not build is a broken space: name the field now

    # ------------------------------------------------------------------------------------- collecting choices

    def _collect(self, value: Any, path: list[str]) -> None:
        if isinstance(value, Choice):
            self._register(value, path)
            for label, option in value.options.items():
                self._collect(option, [*path, str(label)])
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if key == "$" and isinstance(item, str):
                    self._reference(item.removeprefix("$"), path)
                else:
                    self._collect(item, [*path, str(key)])
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self._collect(item, [*path, str(i)])
        elif isinstance(value, str):
            for name in _REFERENCE.findall(value):
                if name != "num_classes":
                    self._reference(name, path)

    def _reference(self, name: str, path: list[str]) -> None:
        if name not in self.declared:
            known = ", ".join(self.declared) or "none declared"
            raise GenomeError(".".join(path), f"unknown choice ${name} (choices: {known})")
        if name not in self._choices:
            self._choices[name] = self.declared[name]
            for label, option in self.declared[name].options.items():
                self._collect(option, ["choices", name, str(label)])

    def _register(self, choice: Choice, path: list[str]) -> None:
        if id(choice) in self._names:
            return  # the same object in several places is one variable
        name = choice.name or ".".join(p for p in path if p not in _STRUCTURE) or "choice"
        other = self._choices.get(name)
        if other is not None and (other.options, other.ordinal) != (choice.options, choice.ordinal):
            raise GenomeError(".".join(path), f"choice name {name!r} is used with different options")
        self._names[id(choice)] = name
        self._choices[name] = choice

    # ----------------------------------------------------------------------------------------------- decoding

    def variables(self) -> dict[str, Variable]:
        """One variable per choice point (shared objects and ``$name`` references count once)."""
        return {name: choice.variable() for name, choice in self._choices.items()}

    def build(self, choices: Mapping[str, Any]) -> Architecture:
        """The template with every choice point replaced by its chosen option."""
        data = self._fill(self.template, choices, [])
        genome = {"name": self.name, "input_shape": list(self.input_shape), **data}
        return Architecture.from_dict(genome)

    def _chosen(self, choice: Choice, choices: Mapping[str, Any]) -> Any:
        name = self._names.get(id(choice), choice.name)
        return choice.options[choices[name]]

    def _fill(self, value: Any, choices: Mapping[str, Any], path: list[str]) -> Any:
        if isinstance(value, Choice):
            return self._fill(self._chosen(value, choices), choices, path)
        if isinstance(value, Mapping):
            filled: dict[str, Any] = {}
            if "$" in value:
                merged = value["$"]
                merged = self._fill(merged if isinstance(merged, Choice) else f"${str(merged).removeprefix('$')}",
                                    choices, path)
                if not isinstance(merged, Mapping):
                    raise GenomeError(".".join([*path, "$"]), "a merged choice must choose a mapping")
                filled.update(merged)
            for key, item in value.items():
                if key != "$":
                    filled[key] = self._fill(item, choices, [*path, str(key)])
            return filled
        if isinstance(value, list):
            return [self._fill(item, choices, [*path, str(i)]) for i, item in enumerate(value)]
        if isinstance(value, str) and "$" in value:
            return self._substitute(value, choices, path)
        return value

    def _substitute(self, text: str, choices: Mapping[str, Any], path: list[str]) -> Any:
        def value_of(name: str) -> Any:
            if name == "num_classes":
                return self.num_classes
            return self._fill(self.declared[name].options[choices[name]], choices, path)

        whole = _REFERENCE.fullmatch(text)
        if whole:
            return value_of(whole.group(1))
        return _REFERENCE.sub(lambda match: str(value_of(match.group(1))), text)


class CellSpace(GenomeSpace):
    """A cell with choice points in a standard network of ``stages`` stages of ``repeats`` cells.

    The network: stem conv of width C, stages of widths C, 2C, 4C, ... joined by stride-2 conv reductions, global
    average pooling and a linear head.
    ``cell`` is a cell template (plain data with choice points) over one input ``x`` and the width variable ``C``;
    ``repeats`` and ``C`` may themselves be choices (``Choice`` objects or ``$name`` references).
    """

    def __init__(self, cell: Mapping[str, Any], choices: Mapping[str, Any] | None = None, stages: int = 3,
                 repeats: Any = 2, C: Any = 16, name: str = "cells",  # noqa: N803 - the papers' name for the width
                 input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10) -> None:
        if not isinstance(cell, Mapping):
            raise GenomeError("cell", "expected a cell template (a mapping with nodes and output)")
        if isinstance(stages, bool) or not isinstance(stages, int) or stages < 1:
            raise GenomeError("stages", f"expected a positive integer, got {stages!r}")
        template_cell = {"vars": {"C": None}, **cell}
        nodes: dict[str, Any] = {"stem": {"op": "conv_bn_relu", "args": {"out": "C"}, "inputs": ["input"]}}
        previous = "stem"
        for stage in range(stages):
            width = f"{2 ** stage}*C" if stage else "C"
            if stage:
                nodes[f"reduce{stage}"] = {"op": "conv_bn_relu", "args": {"out": width, "stride": 2},
                                           "inputs": [previous]}
                previous = f"reduce{stage}"
            nodes[f"stage{stage}"] = {"cell": "cell", "vars": {"C": width}, "inputs": [previous],
                                      "repeat": repeats}
            previous = f"stage{stage}"
        nodes["gap"] = {"op": "global_avg_pool", "inputs": [previous]}
        nodes["fc"] = {"op": "linear", "args": {"out": "$num_classes"}, "inputs": ["gap"]}
        network = {"vars": {"C": C}, "nodes": nodes, "output": "fc"}
        try:
            super().__init__({"cells": {"cell": template_cell}, "network": network}, choices, name, input_shape,
                             num_classes)
        except GenomeError as error:
            # Name the field as the user wrote it: the template's ``cells.cell`` is the space's ``cell``.
            field = error.field
            if field.startswith("cells.cell"):
                field = field.removeprefix("cells.")
            raise GenomeError(field, error.message) from None


def _declared(value: Any, where: str, ordinal: bool | None = None) -> Choice:
    if not isinstance(value, (list, Mapping)):
        raise GenomeError(where, "expected a list of options or a mapping label -> option")
    try:
        return Choice(value, ordinal=ordinal)
    except NasbenchError as error:
        raise GenomeError(where, str(error).split(": ", 1)[-1]) from None


def _with_kinds(choices: dict[str, Any], ordinal: Any) -> dict[str, Any]:
    """The declared choices, each one named in a space file's ``ordinal`` mapping made ordinal or not as it says."""
    if not isinstance(ordinal, dict):
        raise GenomeError("ordinal", "expected a mapping choice name -> true or false")
    declared = dict(choices)
    for key, flag in ordinal.items():
        if key not in declared:
            raise GenomeError(f"ordinal.{key}", f"not a declared choice (choices: {', '.join(map(str, choices))})")
        if not isinstance(flag, bool):
            raise GenomeError(f"ordinal.{key}", f"expected true or false, got {flag!r}")
        declared[key] = _declared(declared[key], f"ordinal.{key}", flag)
    return declared


_FILE_FIELDS = ("name", "choices", "ordinal", "cells", "network", "cell", "stages", "repeats", "C")


def load_space_file(path: Path, input_shape: Sequence[int] = (3, 32, 32), num_classes: int = 10) -> GenomeSpace:
    """A space from a YAML file; errors name the offending field.

    The file holds a genome with choices (``network``, ``cells``) or a cell space (``cell``, with ``stages``,
    ``repeats``, ``C``); ``choices`` declares the ``$name`` choices, ``ordinal`` (choice name -> true/false) overrides
    whether one is ordinal (by default: when its options are all numbers) and ``name`` names the space.
    """
    path = Path(path)
    text = read_text_file(path, "space")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path.name} line {mark.line + 1}" if mark else path.name
        raise GenomeError(where, f"invalid YAML: {getattr(error, 'problem', error)}") from None
    if not isinstance(data, dict):
        raise GenomeError(path.name, "a space file is a mapping (with 'cell' or 'network')")
    for key in data:
        if key not in _FILE_FIELDS:
            raise GenomeError(str(key), f"unknown field of a space file (allowed: {', '.join(_FILE_FIELDS)})")
    name = data.get("name", path.stem)
    if not isinstance(name, str):
        raise GenomeError("name", "expected a string")
    choices = data.get("choices") or {}
    if not isinstance(choices, dict):
        raise GenomeError("choices", "expected a mapping name -> options")
    choices = _with_kinds(choices, data.get("ordinal") or {})
    if "cell" in data:
        for key in ("cells", "network"):
            if key in data:
                raise GenomeError(key, "a cell space ('cell') builds its own network; leave this field out")
        return CellSpace(data["cell"], choices, stages=data.get("stages", 3), repeats=data.get("repeats", 2),
                         C=data.get("C", 16), name=name, input_shape=input_shape, num_classes=num_classes)
    for key in ("stages", "repeats", "C"):
        if key in data:
            raise GenomeError(key, "only a cell space ('cell') takes this field")
    if "network" not in data:
        raise GenomeError("network", "a space file needs 'network' (a genome with choices) or 'cell'")
    template = {key: data[key] for key in ("cells", "network") if key in data}
    return GenomeSpace(template, choices, name, input_shape, num_classes)
