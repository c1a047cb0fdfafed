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
    arch: Annotated[str, typer.Argument(help="Zoo name, genome file (.yaml/.json) or genome YAML text; with --space "
                                             "also a seed of that space (darts_v2).")],
    dataset: Annotated[str, typer.Option(help="Dataset: digits, mnist, fashion-mnist, cifar10, cifar100 or an "
                                              "ImageFolder directory.")] = "digits",
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
) -> None:
    """Train one architecture on a dataset and print its size, per-epoch curve and validation accuracy."""
    from nasbench.app.train import train  # here: it loads Optuna and the plug-ins, which other commands skip

    try:
        options = parse_assignments(evaluator_option or [], "--evaluator-option")
        run = train(arch, dataset=dataset, epochs=epochs, seed=seed, space=space, cells=cells, width=width,
                    evaluator_options=options, save=save)
    except NasbenchError as error:
        fail(str(error))
    if not run.result.ok:
        fail(f"training {run.arch.name} failed: {run.result.error}", code=1)
