"""``nasbench show`` and ``nasbench draw``: inspect one architecture (zoo name, genome file or YAML text)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nasbench.api import load
from nasbench.architecture import Architecture
from nasbench.cli import app, fail
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


def describe(arch: Architecture) -> dict[str, object]:
    """The facts ``show --json`` prints: name, params, MACs, hash, input and output shapes, cells, meta."""
    lowered = arch.lower()
    return {
        "name": arch.name,
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
) -> None:
    """Print the per-layer summary of an architecture: output shapes, parameters, MACs and totals."""
    architecture = load_or_fail(arch)
    if as_json:
        typer.echo(json.dumps(describe(architecture)))
        return
    typer.echo(summary(architecture, cells=not brief))
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
