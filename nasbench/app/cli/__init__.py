"""The ``nasbench`` command line: one typer app; each command group lives in its own module of this package."""

from __future__ import annotations

import sys

import typer

from nasbench.errors import NasbenchError

app = typer.Typer(help="nasbench: neural architecture search over graphs of cells.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error to stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def main() -> None:
    """Console-script entry point: run the app, turning nasbench's own errors into one-line messages."""
    _register_commands()
    try:
        # Without standalone mode click returns (not raises) the exit code of ``typer.Exit``.
        code = app(standalone_mode=False)
    except NasbenchError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as error:  # click's usage errors and the like
        # Duck-typed: recent typer releases vendor click, so its exceptions are not ``click.ClickException``.
        if callable(getattr(error, "show", None)) and isinstance(getattr(error, "exit_code", None), int):
            error.show()
            sys.exit(error.exit_code)
        raise
    if isinstance(code, int) and code:
        sys.exit(code)


def _register_commands() -> None:
    # Each module adds its commands to ``app`` on import.
    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(f"nasbench.app.cli.{module}")


COMMAND_MODULES: list[str] = ["genome", "zoo", "search", "train", "results", "spaces", "strategies", "dashboard",
                              "export"]
