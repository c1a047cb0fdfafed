"""``nasbench spaces``: the registered search spaces with their size and variables, or one space in detail.

The JSON rows and the detail of one space list every variable of a fixed-length space with its kind (ordinal: ordered
numbers such as widths and kernel sizes; categorical: ops, inputs, edge bits) and its choices.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nasbench.app.cli import app
from nasbench.errors import NasbenchError

if TYPE_CHECKING:
    from search_spaces.base import Variable


def space_row(source: Any) -> dict[str, Any]:
    """Name, kind, size (where finite), variables (count, then ``encoding``), seeds and summary of a space.

    ``source`` is a space name, a YAML space file or a SearchSpace.
    """
    from search_spaces import get

    space = get(source)
    variables = space.variables()
    doc = (type(space).__doc__ or "").strip().splitlines()
    row: dict[str, Any] = {"name": space.name, "kind": "open-ended" if variables is None else "fixed-length",
                           "size": space.size(), "variables": None if variables is None else len(variables),
                           "encoding": encoding(variables), "summary": doc[0] if doc else ""}
    try:
        row["seeds"] = len(space.seeds())
    except NasbenchError as error:
        row["seeds_error"] = str(error)
    return row


def encoding(variables: dict[str, Variable] | None) -> dict[str, dict[str, Any]] | None:
    """Variable name -> ``{"kind": "ordinal" | "categorical", "choices": [...]}``; None for an open-ended space."""
    if variables is None:
        return None
    return {key: {"kind": variable.kind, "choices": list(variable.choices)} for key, variable in variables.items()}


def space_rows() -> list[dict[str, Any]]:
    """One row per registered space (see ``space_row``)."""
    from search_spaces import names

    return [space_row(name) for name in names()]


def _size(size: int | None) -> str:
    if size is None:
        return "open"
    return f"{size:,}" if size < 10**12 else f"{size:.3e}"


@app.command()
def spaces(
    space: Annotated[str | None, typer.Argument(help="Show one space (a name, a YAML space file or module:attr) "
                                                     "with its variables.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of the table.")] = False,
) -> None:
    """List the registered search spaces with their size where finite and their number of variables."""
    if space is not None:
        row = space_row(space)
        if as_json:
            typer.echo(json.dumps(row))
            return
        typer.echo(f"{row['name']}: {row['summary']}")
        typer.echo(f"size {_size(row['size'])}, seeds {row.get('seeds', 0)}")
        for key, variable in (row["encoding"] or {}).items():
            typer.echo(f"  {key} ({variable['kind']}): {', '.join(map(str, variable['choices']))}")
        return
    rows = space_rows()
    if as_json:
        typer.echo(json.dumps(rows))
        return
    header = ("name", "kind", "size", "variables", "seeds", "summary")
    table = [header] + [(row["name"], row["kind"], _size(row["size"]),
                         "-" if row["variables"] is None else str(row["variables"]), str(row.get("seeds", "error")),
                         row["summary"]) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        cells = [f"{text:>{width}}" if i in (2, 3, 4) else f"{text:<{width}}"
                 for i, (text, width) in enumerate(zip(line, widths))]
        typer.echo("  ".join(cells).rstrip())
