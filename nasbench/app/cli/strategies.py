"""``nasbench strategies``: every registered strategy with its paper and its options (type, default, help)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from nasbench.app.cli import app


@app.command()
def strategies(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of the listing.")] = False,
) -> None:
    """List the search strategies, whether they handle several objectives, and their options."""
    from rich.console import Console
    from rich.table import Table

    from strategies import describe, names

    rows = [describe(name) for name in names()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    console = Console()
    for row in rows:
        objectives = "one or several objectives" if row["multi_objective"] else "one objective"
        console.print(f"[bold]{row['name']}[/bold]: {row['summary']} ({objectives})", highlight=False)
        if row["paper"]:
            console.print(f"  {row['paper']}", highlight=False)
        if not row["options"]:
            console.print("  no options", highlight=False)
            continue
        table = Table(box=None, padding=(0, 1), show_header=True, pad_edge=False)
        for column in ("option", "type", "default", "help"):
            table.add_column(column, no_wrap=column != "help", overflow="fold")
        for option in row["options"]:
            table.add_row(f"  {option['name']}", option["type"], option["default"], option["help"])
        console.print(table)
