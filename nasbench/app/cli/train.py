"""``nasbench train ARCH``: train one architecture, optionally with its cells transferred to another size."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nasbench.app.cli import app, fail
from nasbench.errors import NasbenchError
from nasbench.options import parse_assignments


@app.command("train")
def train_command(
    arch: Annotated[str, typer.Argument(help="A trial number of the study, a zoo name, a genome file (.yaml/.json) "
                                             "or genome YAML text; with --space also a seed of that space "
                                             "(darts_v2).")],
    dataset: Annotated[str | None, typer.Option(help="Dataset: digits, mnist, fashion-mnist, cifar10, cifar100 or an "
                                                     "ImageFolder directory (default: a trial's study's, else "
                                                     "digits).")] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the initialization and the data order.")] = 0,
    space: Annotated[str | None, typer.Option(help="The space ARCH belongs to, for --cells/--width (nb201, darts, "
                                                   "nasnet; default: the one its genome names); its seeds are "
                                                   "names too (graph: the zoo adapted to the dataset).")] = None,
    cells: Annotated[int | None, typer.Option(help="Transfer the cells to this depth (nb201: N cells per stage; "
                                                   "darts, nasnet: layers).")] = None,
    width: Annotated[int | None, typer.Option(help="Transfer the cells to this width C (channels).")] = None,
    evaluator_option: Annotated[list[str] | None, typer.Option(help="KEY=VALUE: a train evaluator option "
                                                                    "(repeatable), e.g. lr=0.05.")] = None,
    save: Annotated[Path | None, typer.Option(help="Write the trained state_dict to this file.")] = None,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL of the study (default "
                                                     "sqlite:///results/nasbench.db).")] = None,
    study: Annotated[str | None, typer.Option(help="The study of TRIAL, or one to record the run in.")] = None,
    checkpoint: Annotated[bool, typer.Option("--checkpoint/--no-checkpoint",
                                             help="Save every epoch beside the store and continue a killed run "
                                                  "(default on).")] = True,
) -> None:
    """Train one architecture (or a study's trial) at full fidelity: progress bar, checkpoints, final accuracy.

    A trial's run is recorded in its study as a trial of origin retrain.
    """
    from nasbench.app.train import train  # here: it loads Optuna and the plug-ins, which other commands skip

    try:
        options = parse_assignments(evaluator_option or [], "--evaluator-option")
        run = train(arch, dataset=dataset, epochs=epochs, seed=seed, space=space, cells=cells, width=width,
                    evaluator_options=options, save=save, storage=storage, study=study, checkpoint=checkpoint)
    except NasbenchError as error:
        fail(str(error))
    if not run.result.ok:
        fail(f"training {run.arch.name} failed: {run.result.error}", code=1)
