"""``nasbench seeds``: the zoo of hand-designed networks with their sizes at the published configuration."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from nasbench.app.cli import app
from nasbench.errors import NasbenchError
from nasbench.summary import human


def seed_rows() -> list[dict[str, object]]:
    """One row per zoo network: name, family, paper, analytic params and MACs, published params and whether they match.

    Counts come from the lowered genome (no module is built), so listing the whole zoo takes about a second.
    """
    from search_spaces import zoo

    rows: list[dict[str, object]] = []
    for name in zoo.names():
        item = zoo.entry(name)
        row: dict[str, object] = {"name": name, "family": item.family, "paper": item.paper,
                                  "published_params": item.params}
        try:
            arch = zoo.get(name)
            lowered = arch.lower()
        except NasbenchError as error:
            row["error"] = str(error)
            rows.append(row)
            continue
        row.update(params=lowered.params, macs=lowered.macs, input_shape=list(lowered.input_shape))
        if item.params is not None:
            row["matches_published"] = (lowered.params == item.params if item.exact
                                        else abs(lowered.params - item.params) <= item.tolerance * item.params)
        rows.append(row)
    return rows


@app.command()
def seeds(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of the table.")] = False,
) -> None:
    """List the zoo networks (seed individuals) with family, paper, parameters and MACs (a rich table)."""
    rows = seed_rows()
    if as_json:
        typer.echo(json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    lines: list[tuple[str, ...]] = []
    for row in rows:
        if "error" in row:
            lines.append((str(row["name"]), str(row["family"]), "error", str(row["error"]), "", "", ""))
            continue
        published = row.get("published_params")
        mark = "" if published is None else ("✓" if row.get("matches_published") else "✗")
        lines.append((str(row["name"]), str(row["family"]), f"{row['params']:,}", human(int(row["macs"])),
                      "×".join(str(x) for x in row["input_shape"]),
                      "" if published is None else f"{published:,} {mark}", str(row["paper"])))
    console = Console()
    if not console.is_terminal:
        # Piped or captured: no terminal width to fit, so keep every network on one greppable line.
        console = Console(width=320)
    header = ("name", "family", "params", "MACs", "input", "published", "paper")
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    # Every column but the paper keeps its full width; a narrow terminal shortens the paper (3 border/padding
    # characters per column, plus the closing border).
    widths[-1] = max(8, min(widths[-1], console.width - sum(widths[:-1]) - 3 * len(header) - 1))
    table = Table(caption=f"{len(rows)} networks", caption_justify="left")
    for column, size in zip(header, widths):
        table.add_column(column, justify="right" if column in {"params", "MACs", "published"} else "left",
                         no_wrap=True, overflow="ellipsis", min_width=size, max_width=size)
    for line in lines:
        table.add_row(*line)
    console.print(table)
