"""``nasbench show`` and ``nasbench draw``: inspect one architecture (zoo name, genome file or YAML text)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nasbench.app.cli import app, fail
from nasbench.app.load import load
from nasbench.architecture import Architecture
from nasbench.draw import draw as draw_architecture
from nasbench.errors import NasbenchError
from nasbench.summary import summary


def load_or_fail(source: str) -> Architecture:
    """The architecture ``source`` names, validated; bad input ends the command with a one-line error."""
    try:
        arch = load(source)
        arch.validate()
    except NasbenchError as error:
        fail(str(error))
    return arch


def parse_shape(text: str) -> tuple[int, ...]:
    """``"3,224,224"`` -> ``(3, 224, 224)``; anything but positive integers is a NasbenchError."""
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        raise NasbenchError(f"--input-shape: expected C,H,W like 3,224,224, got {text!r}") from None
    if not shape or min(shape) <= 0:
        raise NasbenchError(f"--input-shape: expected positive sizes like 3,224,224, got {text!r}")
    return shape


def describe(arch: Architecture, input_shape: tuple[int, ...] | None = None) -> dict[str, object]:
    """The facts ``show --json`` prints: name, family, paper, params, MACs, hash, shapes, cells, meta."""
    lowered = arch.lower(input_shape)
    return {
        "name": arch.name,
        "family": arch.meta.get("family"),
        "paper": arch.meta.get("paper"),
        "params": lowered.params,
        "macs": lowered.macs,
        "aux_params": sum(layer.cost.params for layer in lowered.layers if layer.aux),
        "hash": arch.hash(),
        "input_shape": list(lowered.input_shape),
        "output_shape": list(lowered.output_shape),
        "layers": len(lowered.layers),
        "cells": list(arch.cells),
        "meta": {key: value for key, value in arch.meta.items() if key != "zoo"},
    }


@app.command()
def show(
    arch: Annotated[str, typer.Argument(help="Zoo name (resnet50), genome file (.yaml/.json) or genome YAML text.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the table.")] = False,
    brief: Annotated[bool, typer.Option("--brief", help="One row per cell instance instead of every layer.")] = False,
    input_shape: Annotated[str | None, typer.Option("--input-shape", help="Input size C,H,W instead of the "
                                                                          "genome's own, e.g. 3,112,112.")] = None,
) -> None:
    """Print the per-layer summary of an architecture: output shapes, parameters, MACs and totals."""
    architecture = load_or_fail(arch)
    try:
        shape = None if input_shape is None else parse_shape(input_shape)
        text = json.dumps(describe(architecture, shape)) if as_json else summary(architecture, shape, cells=not brief)
    except NasbenchError as error:
        fail(str(error))
    typer.echo(text)
    if not as_json:
        typer.echo(f"Hash:          {architecture.hash()}")


@app.command("draw")
def draw_command(
    arch: Annotated[str, typer.Argument(help="Zoo name, genome file or genome YAML text.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Picture to write: .png, .svg or .pdf.")],
    cell: Annotated[str | None, typer.Option("--cell", help="Draw this cell template instead of the network.")] = None,
) -> None:
    """Draw the network (cell instances as single boxes) or one of its cell templates."""
    architecture = load_or_fail(arch)
    try:
        written = draw_architecture(architecture, output, cell=cell)
    except NasbenchError as error:
        fail(str(error))
    typer.echo(f"wrote {written}")
