"""``nasbench results show | top | export``: read a search's Optuna study."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nasbench.app.cli import app

if TYPE_CHECKING:
    import optuna

results_app = typer.Typer(help="Inspect and export the trials of a search study.", no_args_is_help=True)
app.add_typer(results_app, name="results")

STORAGE_HELP = "Optuna storage URL (default sqlite:///results/nasbench.db)."
STUDY_HELP = "Study name (default: the only study of the storage)."
WIDE_HELP = "Every column (name, hash, error) at full width, beyond 80 columns."


def _study(storage: str | None, study: str | None) -> optuna.Study:
    from results.store import DEFAULT_STORAGE, load_study

    return load_study(storage or DEFAULT_STORAGE, study)


def _print_records(rows: list[dict], as_json: bool, title: str, wide: bool = False) -> None:
    """Rows as JSON, or as a table that fits an 80-column terminal (``wide``: every column, at its full width)."""
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
    columns = ["#", "state", *(["name"] if wide else []), *metrics, *(["hash"] if wide else []), "params", "MACs",
               "origin", *(["error"] if wide else [])]
    # One space between columns and none at the edges; only the free-text columns give way on a narrow terminal.
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in columns:
        text = column in ("state", "name", "hash", "origin", "error")
        table.add_column(column, justify="left" if text else "right", no_wrap=True,
                         overflow="fold" if wide else "ellipsis",
                         max_width=None if wide or column != "origin" else 22)
    for row in rows:
        values = row["values"] or {}
        cells = {"#": str(row["number"]), "state": row["state"].lower(), "name": row["name"] or "",
                 "hash": (row["hash"] or "")[:8], "params": count_text(row["params"]),
                 "MACs": count_text(row["macs"]), "origin": row["origin"], "error": row["error"] or "",
                 **{metric: "-" if values.get(metric) is None else f"{values[metric]:.4g}" for metric in metrics}}
        table.add_row(*(cells[column] for column in columns))
    Console(width=100_000 if wide else None).print(table)


@results_app.command("show")
def show(storage: str = typer.Option(None, help=STORAGE_HELP), study: str = typer.Option(None, help=STUDY_HELP),
         as_json: bool = typer.Option(False, "--json", help="A JSON list of trial records."),
         wide: bool = typer.Option(False, "--wide", help=WIDE_HELP)) -> None:
    """Every trial of the study, in order."""
    from results.records import records

    the_study = _study(storage, study)
    _print_records(records(the_study), as_json, f"study {the_study.study_name}", wide)


@results_app.command("top")
def top(k: int = typer.Option(10, "-k", "--top", help="How many trials."),
        storage: str = typer.Option(None, help=STORAGE_HELP), study: str = typer.Option(None, help=STUDY_HELP),
        as_json: bool = typer.Option(False, "--json", help="A JSON list of trial records, best first."),
        wide: bool = typer.Option(False, "--wide", help=WIDE_HELP)) -> None:
    """The k best completed trials, best first (by Pareto front, then the first objective)."""
    from results.records import top as best

    the_study = _study(storage, study)
    _print_records(best(the_study, k), as_json, f"study {the_study.study_name}: top {k}", wide)


@results_app.command("pareto")
def pareto(storage: str = typer.Option(None, help=STORAGE_HELP), study: str = typer.Option(None, help=STUDY_HELP),
           as_json: bool = typer.Option(False, "--json", help="A JSON list of trial records."),
           wide: bool = typer.Option(False, "--wide", help=WIDE_HELP)) -> None:
    """The Pareto front: the completed trials no other trial beats on every objective."""
    from results.records import pareto as front

    the_study = _study(storage, study)
    rows = front(the_study)
    _print_records(rows, as_json, f"study {the_study.study_name}: Pareto front ({len(rows)} trials)", wide)


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


@results_app.command("plot")
def plot_command(output: str = typer.Option(..., "-o", "--output", help="Picture to write (.png, .svg, .pdf)."),
                 kind: str = typer.Option("best", help="best (best so far against evaluations, one line per "
                                                        "study) | pareto | curves."),
                 storage: str = typer.Option(None, help=STORAGE_HELP),
                 study: Annotated[list[str] | None, typer.Option(help="Study name; repeat it to compare studies "
                                                                      "(best).")] = None,
                 x: str = typer.Option(None, help="pareto: the objective across (default: the second, or params)."),
                 y: str = typer.Option(None, help="pareto: the objective up (default: the first)."),
                 ) -> None:
    """Plot the search: best so far, the Pareto front of two objectives, or the best trials' curves."""
    from results.plots import plot

    studies = [_study(storage, name) for name in (study or [None])]
    typer.echo(f"wrote {plot(studies, kind, output, x, y)}")


@results_app.command("report")
def report_command(output: str = typer.Option("report.md", "-o", "--output", help="Page to write (.md or .html)."),
                   storage: str = typer.Option(None, help=STORAGE_HELP),
                   study: str = typer.Option(None, help=STUDY_HELP)) -> None:
    """Write a report of the search: settings, leaderboard, the best's drawing and lineage, plots."""
    from results.report import write_report

    for path in write_report(_study(storage, study), output):
        typer.echo(f"wrote {path}")
