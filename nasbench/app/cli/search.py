"""``nasbench search``: run or resume a search; every option can also come from ``--config search.yaml``."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from nasbench.app.cli import app
from nasbench.errors import NasbenchError
from nasbench.files import read_text_file

# Shorthands kept from before strategies declared their options: each sets the strategy option of its name.
STRATEGY_SHORTHANDS = ("population", "tournament", "mutations_schedule", "remove")
# Flags of the executors' options (--backend ray's resources and retries, either backend's early stopping), by the
# executor option each sets.
EXECUTOR_SHORTHANDS = {"scheduler": "scheduler", "grace_period": "grace_period", "reduction_factor": "reduction_factor",
                       "cpus_per_trial": "cpus_per_trial", "gpus_per_trial": "gpus_per_trial",
                       "max_concurrent": "max_concurrent", "max_failures": "max_failures", "ray_address": "address"}


def load_config(path: Path) -> dict[str, Any]:
    """The options of a YAML config file (keys spelled as the CLI's, with dashes or underscores)."""
    from nasbench.app.search import search

    text = read_text_file(path, "config")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise NasbenchError(f"config {path}: invalid YAML: {getattr(error, 'problem', error)}") from None
    if not isinstance(data, dict):
        raise NasbenchError(f"config {path}: expected a mapping of option: value")
    known = set(inspect.signature(search).parameters) | set(STRATEGY_SHORTHANDS) | set(EXECUTOR_SHORTHANDS)
    options = {str(key).replace("-", "_"): value for key, value in data.items()}
    shorthands = {key: options.pop(key) for key in STRATEGY_SHORTHANDS if key in options}
    executor = {EXECUTOR_SHORTHANDS[key]: options.pop(key) for key in list(options) if key in EXECUTOR_SHORTHANDS}
    for key in ("strategy_options", "evaluator_options", "executor_options", "space_options"):
        if key in options:
            if not isinstance(options[key], dict):
                raise NasbenchError(f"config {path}: {key} must be a mapping of option: value")
            options[key] = {str(name).replace("-", "_"): value for name, value in options[key].items()}
    unknown = sorted(set(options) - known)
    if unknown:
        raise NasbenchError(f"config {path}: unknown option(s) {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(known))})")
    if shorthands:
        options["strategy_options"] = {**shorthands, **dict(options.get("strategy_options") or {})}
    if executor:
        options["executor_options"] = {**executor, **dict(options.get("executor_options") or {})}
    return options


@app.command("search")
def search_command(
    strategy: str = typer.Option(None, help="Search strategy (nasbench strategies lists them; default evolution)."),
    space: str = typer.Option(None, help="Search space: a registered name, a .yaml file or module:attr "
                                         "(default graph)."),
    dataset: str = typer.Option(None, help="Dataset of the train evaluator (default digits)."),
    evaluator: str = typer.Option(None, help="Evaluator: train | table (default train)."),
    objectives: str = typer.Option(None, help="METRIC:max|min[,...]: what to optimize (default: the evaluator's; "
                                              "params and macs are always available)."),
    budget: int = typer.Option(None, help="Distinct architectures to evaluate, seeds included (default 20)."),
    seed: int = typer.Option(None, help="Random seed of the strategy and of every training run (default 0)."),
    storage: str = typer.Option(None, help="Optuna storage URL or 'memory' (default sqlite:///results/nasbench.db)."),
    study: str = typer.Option(None, help="Study name (default <strategy>-<space>-<dataset>-seed<seed>); "
                                         "an existing study is resumed."),
    table: str = typer.Option(None, help="CSV table for the table evaluator (default: the shipped NAS-Bench-201)."),
    workers: int = typer.Option(None, help="Evaluations in flight at once (default 1)."),
    backend: str = typer.Option(None, help="Executor of the evaluations: local (default) or ray (Ray Tune trials)."),
    epochs: int = typer.Option(None, help="Training epochs per evaluation (default 3 for the train evaluator)."),
    seeds: str = typer.Option(None, help="Seed networks evaluated first: all | none | zoo | name,name (default "
                                         "all: the space's own)."),
    max_params: int = typer.Option(None, help="Candidates with more parameters fail without training."),
    max_macs: int = typer.Option(None, help="Candidates with more multiply-accumulates fail without training."),
    option: Annotated[list[str] | None, typer.Option("--option", "-o", help="KEY=VALUE: a strategy option "
                                                     "(repeatable; nasbench strategies lists them).")] = None,
    evaluator_option: Annotated[list[str] | None, typer.Option(help="KEY=VALUE: an evaluator option "
                                                                    "(repeatable).")] = None,
    executor_option: Annotated[list[str] | None, typer.Option(help="KEY=VALUE: an executor option "
                                                                   "(repeatable).")] = None,
    space_option: Annotated[list[str] | None, typer.Option(help="KEY=VALUE: a search space option (repeatable), "
                                                                "e.g. C=36 and layers=20 to evaluate darts cells "
                                                                "at that size.")] = None,
    population: str = typer.Option(None, help="Same as --option population=N."),
    tournament: str = typer.Option(None, help="Same as --option tournament=N."),
    mutations_schedule: str = typer.Option(None, help="Same as --option mutations_schedule=d,r."),
    remove: str = typer.Option(None, help="Same as --option remove=oldest|worst."),
    scheduler: str = typer.Option(None, help="fifo (default) or asha: stop candidates early on their per-epoch "
                                             "curve (ray: Tune's ASHA; local: Optuna's successive halving)."),
    grace_period: int = typer.Option(None, help="ASHA: epochs before a candidate can be stopped (default 1)."),
    reduction_factor: int = typer.Option(None, help="ASHA: 1/N of the candidates go on at each rung (default 4)."),
    cpus_per_trial: float = typer.Option(None, help="ray: CPUs of each trial (default 1)."),
    gpus_per_trial: float = typer.Option(None, help="ray: GPUs of each trial; 0.25 packs four on one GPU "
                                                    "(default 0)."),
    max_concurrent: int = typer.Option(None, help="ray: trials at once (default: what the cluster holds)."),
    max_failures: int = typer.Option(None, help="ray: retries of a trial whose worker died (default 3)."),
    ray_address: str = typer.Option(None, help="ray: a running cluster (auto, ray://host:10001); default: "
                                               "start a local Ray."),
    progress: bool = typer.Option(None, "--progress/--no-progress", help="Live progress bar and leaderboard."),
    keep_weights: str = typer.Option(None, help="Trained weights kept beside the study: best (the 5 best, default) "
                                                "| all | none."),
    drawings: bool = typer.Option(None, "--drawings/--no-drawings",
                                  help="Store SVG drawings and a note with every trial, for the dashboard (default: "
                                       "on for a stored study)."),
    heartbeat: int = typer.Option(None, help="Seconds between the beats that tell other processes searching the "
                                             "same study that this one's evaluations are alive (default 10)."),
    heartbeat_grace: int = typer.Option(None, help="Seconds without a beat after which another process's "
                                                   "evaluation is stale and is evaluated again here (default 60)."),
    config: str = typer.Option(None, help="YAML file of options (the command line overrides it)."),
) -> None:
    """Search for architectures and store every evaluation in an Optuna study (the main job: --strategy evolution)."""
    from nasbench.app.search import search
    from nasbench.options import parse_assignments

    options = load_config(Path(config)) if config is not None else {}
    given = {"strategy": strategy, "space": space, "dataset": dataset, "evaluator": evaluator,
             "objectives": objectives, "budget": budget, "seed": seed, "storage": storage, "study": study,
             "table": table, "workers": workers, "backend": backend, "epochs": epochs, "seeds": seeds,
             "max_params": max_params, "max_macs": max_macs, "progress": progress, "drawings": drawings,
             "keep_weights": keep_weights, "heartbeat": heartbeat, "heartbeat_grace": heartbeat_grace}
    options.update({key: value for key, value in given.items() if value is not None})
    shorthands = dict(zip(STRATEGY_SHORTHANDS, (population, tournament, mutations_schedule, remove)))
    flags = (scheduler, grace_period, reduction_factor, cpus_per_trial, gpus_per_trial, max_concurrent, max_failures,
             ray_address)
    executor_flags = dict(zip(EXECUTOR_SHORTHANDS.values(), flags))
    for key, assignments in (("strategy_options", [*_shorthand_assignments(shorthands), *(option or [])]),
                             ("evaluator_options", evaluator_option or []),
                             ("executor_options", [*_shorthand_assignments(executor_flags), *(executor_option or [])]),
                             ("space_options", space_option or [])):
        flag = "--" + key.replace("_options", "-option").replace("strategy-option", "option")
        parsed = parse_assignments(assignments, flag)
        if parsed:
            options[key] = {**dict(options.get(key) or {}), **parsed}
    results = search(**options)
    if results.best_trial is None:
        raise NasbenchError("no evaluation succeeded (see the FAIL trials: nasbench results show)")


def _shorthand_assignments(values: dict[str, object]) -> list[str]:
    return [f"{key}={value}" for key, value in values.items() if value is not None]
