"""``nasbench export TRIAL|ARCH``: genome, weights, ONNX and a README of a found network, in one folder."""

from __future__ import annotations

from typing import Annotated

import typer

from nasbench.app.cli import app


@app.command("export")
def export_command(
    source: Annotated[str, typer.Argument(help="A trial number of the study, or an architecture (zoo name, genome "
                                               "file).")],
    output: Annotated[str | None, typer.Option("-o", "--output", help="Folder to write (default "
                                                                      "export/<study>-trial<N> or export/<name>).")]
    = None,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL (default "
                                                     "sqlite:///results/nasbench.db).")] = None,
    study: Annotated[str | None, typer.Option(help="Study name (default: the only study of the storage).")] = None,
    weights: Annotated[str | None, typer.Option(help="A state dict file to export with it (default: the trial's "
                                                     "kept weights).")] = None,
) -> None:
    """Write a trial's (or an architecture's) genome, trained weights, ONNX model and README to a folder."""
    from nasbench.app.export import export

    done = export(source, output, storage, study, weights)
    for path in done.files:
        typer.echo(f"wrote {path}")
    typer.echo(done.onnx_note)
    if not done.trained:
        typer.echo("no trained weights: exported with its initial weights (keep them with --keep-weights, or give "
                   "--weights FILE)")
