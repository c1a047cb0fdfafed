"""Terminal display of a search: the live progress bar and the final leaderboard (rich)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import TracebackType

import pandas as pd
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from nasbench.objectives import ANALYTIC_METRICS
from nasbench.summary import human
from results.summary import SearchResults


class SearchProgress:
    """A progress bar over the budget showing evaluations done, the best objective so far and the ETA.

    Disabled (a no-op) when ``enabled`` is False, so the loop calls it unconditionally.
    """

    def __init__(self, budget: int, objective: str, enabled: bool = True, console: Console | None = None) -> None:
        self.objective = objective
        self.enabled = enabled
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=console, disable=not enabled, transient=False)
        self.task = self.progress.add_task("search", total=budget, status=f"best {objective} -")

    def __enter__(self) -> SearchProgress:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.progress.stop()

    def warn(self, message: str) -> None:
        """Print ``message`` above the bars (on the console even when the bars are off)."""
        self.progress.console.print(message, style="yellow", markup=False, highlight=False)

    def job(self, label: str, total: int) -> JobProgress:
        """A second bar, under the search's, over the ``total`` epochs of a training job (a supernet search)."""
        return JobProgress(self.progress, label, total)

    def update(self, done: int, best: float | None) -> None:
        """Show ``done`` evaluations and the best objective so far."""
        shown = "-" if best is None or not math.isfinite(best) else f"{best:.4g}"
        # a resumed study may already hold more evaluations than this run's budget
        total = max(done, self.progress.tasks[0].total or 0)
        self.progress.update(self.task, completed=done, total=total, status=f"best {self.objective} {shown}")


class JobProgress:
    """The bar of one training job inside a search's display; ``close`` removes it."""

    def __init__(self, progress: Progress, label: str, total: int) -> None:
        self.progress = progress
        self.task = progress.add_task(label, total=total, status="")

    def update(self, completed: int, text: str = "") -> None:
        """Show ``completed`` epochs and ``text`` (the job's last accuracy, say)."""
        self.progress.update(self.task, completed=completed, status=text)

    def close(self) -> None:
        """Remove the bar."""
        self.progress.remove_task(self.task)


def leaderboard_table(frame: pd.DataFrame, metrics: Sequence[str], title: str) -> Table:
    """A rich table of a leaderboard DataFrame (``SearchResults.leaderboard``) showing the objectives ``metrics``."""
    # One space between columns and none at the edges: the whole table fits an 80-column terminal.
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    shown = [metric for metric in metrics if metric not in ANALYTIC_METRICS]
    numeric = ("rank", *shown, "params", "MACs")
    widest = {"name": 12, "seed / parent": 16}
    for column in ("rank", "name", "hash", *shown, "params", "MACs", "seed / parent"):
        table.add_column(column, justify="right" if column in numeric else "left", no_wrap=True, overflow="ellipsis",
                         min_width=4 if column == "rank" else 8, max_width=widest.get(column))
    for row in frame.to_dict("records"):
        scores = ["-" if row[metric] is None else f"{row[metric]:.4g}" for metric in shown]
        table.add_row(str(row["rank"]), str(row["name"] or ""), str(row["hash"] or "")[:8], *scores,
                      count_text(row["params"]), count_text(row["macs"]), row["origin"])
    return table


def print_summary(results: SearchResults, console: Console | None = None, k: int = 10) -> None:
    """The leaderboard (the best ``k`` trials, or the Pareto front of several objectives) and the dashboard command."""
    console = console or Console()
    metrics = [objective.metric for objective in results.objectives]
    name = results.study.study_name
    if results.multi_objective:
        front = results.pareto_front()
        objectives = ", ".join(str(objective) for objective in results.objectives)
        title = f"study {name}: Pareto front ({len(front)} trials) of {objectives}"
        console.print(leaderboard_table(front.head(max(k, 20)), metrics, title))
    else:
        console.print(leaderboard_table(results.leaderboard(k), metrics, f"study {name}: top {k}"))
    noise = noise_text(results)
    if noise:
        console.print(noise, markup=False, highlight=False)
    if results.stopped:
        console.print(f"[yellow]stopped early: {results.stopped}")
    command = results.dashboard_command
    if command:
        # soft_wrap: the command stays on one line, to be copied as it is
        console.print(f"dashboard: {command}", soft_wrap=True, markup=False, highlight=False)
    else:
        console.print("dashboard: none for an in-memory study (--storage sqlite:///... keeps it)")


def noise_text(results: SearchResults) -> str | None:
    """How much of an accuracy difference is one validation image (None unless the evaluator says how many)."""
    images = results.study.user_attrs.get("validation_images")
    accuracies = [objective.metric for objective in results.objectives
                  if objective.metric.startswith("val") and objective.metric.endswith("acc")]
    if not images or not accuracies:
        return None
    step = 100.0 / float(images)
    return f"noise: one validation image is {step:.2f} % of {accuracies[0]} ({int(images)} images)"


def count_text(value: object) -> str:
    """A count as people read it: 1.07M, 830K, 12 (``-`` when unknown)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return human(float(value))
