"""``nasbench dashboard``: optuna-dashboard on a search's store, with the drawings of its trials."""

from __future__ import annotations

from pathlib import Path

import typer

from nasbench.app.cli import app
from nasbench.errors import NasbenchError

DASHBOARD_MISSING = "the dashboard needs optuna-dashboard: pip install 'nasbench[dashboard]'"


@app.command("dashboard")
def dashboard(storage: str = typer.Option(None, help="Optuna storage URL (default sqlite:///results/nasbench.db)."),
              host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 to serve other machines)."),
              port: int = typer.Option(8080, help="Port to listen on."),
              artifacts: str = typer.Option(None, help="Folder of the trials' drawings (default: beside the store, "
                                                       "<store>.artifacts)."),
              ) -> None:
    """Serve optuna-dashboard on the store, read-only, with every trial's drawings and note."""
    from results.artifacts import ARTIFACTS_SUFFIX, artifact_store
    from results.store import DEFAULT_STORAGE, beside_store, open_storage, public_url

    try:
        import optuna_dashboard
    except ImportError:
        raise NasbenchError(DASHBOARD_MISSING) from None
    if not 0 < port < 65536:
        raise NasbenchError(f"port must be between 1 and 65535, got {port}")
    url = storage or DEFAULT_STORAGE
    store = open_storage(url, read_only=True)
    folder = Path(artifacts) if artifacts is not None else beside_store(url, ARTIFACTS_SUFFIX)
    if artifacts is not None and not Path(artifacts).is_dir():
        raise NasbenchError(f"no artifact folder at {artifacts}")
    served = artifact_store(folder) if folder is not None and folder.is_dir() else None
    typer.echo(f"dashboard of {public_url(url)} at http://{host}:{port}/dashboard/ (Ctrl-C stops it)")
    optuna_dashboard.run_server(store, host=host, port=port, artifact_store=served)
