"""``nasbench results show | top | export``: read a search's Optuna study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from nasbench.app.cli import app

if TYPE_CHECKING:
    import optuna

results_app = typer.Typer(help="Inspect and export the trials of a search study.", no_args_is_help=True)
app.add_typer(results_app, name="results")

STORAGE_HELP = "Optuna storage URL (default sqlite:///results/nasbench.db)."
STUDY_HELP = "Study name (default: the only study of the storage)."


def _study(storage: str | None, study: str | None) -> optuna.Study:
    from results.store import DEFAULT_STORAGE, load_study

    return load_study(storage or DEFAULT_STORAGE, study)


def _print_records(rows: list[dict], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from nasbench.objectives import ANALYTIC_METRICS
    from results.display import count_text

    metrics = [metric for metric in next((row["values"] for row in rows if row["values"]), None) or ["objective"]
               if metric not in ANALYTIC_METRICS]
    table = Table(title=title, box=box.SIMPLE_HEAD)
    for column in ("#", "state", *metrics, "hash", "seed / parent", "params", "MACs"):
        table.add_column(column, no_wrap=True, overflow="ellipsis",
                         justify="left" if column in ("state", "hash", "seed / parent") else "right")
    for row in rows:
        origin = f"seed {row['seed_name']}" if row["seed_name"] else (row["parent"] or "")[:8]
        values = row["values"] or {}
        scores = ["-" if values.get(metric) is None else f"{values[metric]:.4g}" for metric in metrics]
        table.add_row(str(row["number"]), row["state"].lower(), *scores, (row["hash"] or "")[:8], origin,
                      count_text(row["params"]), count_text(row["macs"]))
    Console().print(table)


@results_app.command("show")
def show(storage: str = typer.Option(None, help=STORAGE_HELP), study: str = typer.Option(None, help=STUDY_HELP),
         as_json: bool = typer.Option(False, "--json", help="A JSON list of trial records.")) -> None:
    """Every trial of the study, in order."""
    from results.records import records

    the_study = _study(storage, study)
    _print_records(records(the_study), as_json, f"study {the_study.study_name}")


@results_app.command("top")
def top(k: int = typer.Option(10, "-k", "--top", help="How many trials."),
        storage: str = typer.Option(None, help=STORAGE_HELP), study: str = typer.Option(None, help=STUDY_HELP),
        as_json: bool = typer.Option(False, "--json", help="A JSON list of trial records, best first.")) -> None:
    """The k best completed trials, best first (by Pareto front, then the first objective)."""
    from results.records import top as best

    the_study = _study(storage, study)
    _print_records(best(the_study, k), as_json, f"study {the_study.study_name}: top {k}")


@results_app.command("pareto")
def pareto(storage: str = typer.Option(None, help=STORAGE_HELP), study: str = typer.Option(None, help=STUDY_HELP),
           as_json: bool = typer.Option(False, "--json", help="A JSON list of trial records.")) -> None:
    """The Pareto front: the completed trials no other trial beats on every objective."""
    from results.records import pareto as front

    the_study = _study(storage, study)
    rows = front(the_study)
    _print_records(rows, as_json, f"study {the_study.study_name}: Pareto front ({len(rows)} trials)")


@results_app.command("export")
def export(fmt: str = typer.Option("csv", "--format", help="csv | parquet."),
           output: str = typer.Option(None, "-o", "--output", help="File to write (default <study>.<format>)."),
           storage: str = typer.Option(None, help=STORAGE_HELP), study: str = typer.Option(None, help=STUDY_HELP),
           ) -> None:
    """Write the study as a table (one row per trial) in CSV or Parquet."""
    from results.records import export as write

    the_study = _study(storage, study)
    path = write(the_study, fmt, output or Path(f"{the_study.study_name}.{fmt}"))
    typer.echo(f"wrote {path}")
