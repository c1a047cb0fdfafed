"""``nasbench seeds``: the zoo of hand-designed networks with their sizes at the published configuration."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from nasbench.cli import app
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
    """List the zoo networks (seed individuals) with family, paper, parameters and MACs."""
    rows = seed_rows()
    if as_json:
        typer.echo(json.dumps(rows))
        return
    header = ("name", "family", "params", "MACs", "input", "published", "paper")
    table = [header]
    for row in rows:
        if "error" in row:
            table.append((str(row["name"]), str(row["family"]), "error", str(row["error"]), "", "", ""))
            continue
        published = row.get("published_params")
        mark = "" if published is None else ("✓" if row.get("matches_published") else "✗")
        table.append((str(row["name"]), str(row["family"]), f"{row['params']:,}", human(int(row["macs"])),
                      "×".join(str(x) for x in row["input_shape"]),
                      "" if published is None else f"{published:,} {mark}", str(row["paper"])))
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    right = {2, 3, 5}
    for line in table:
        cells = [f"{text:>{width}}" if i in right else f"{text:<{width}}"
                 for i, (text, width) in enumerate(zip(line, widths))]
        typer.echo("  ".join(cells).rstrip())
    typer.echo(f"{len(rows)} networks")
