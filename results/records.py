"""A study's trials as plain records, pandas DataFrames, leaderboards and CSV/Parquet files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from nasbench.errors import NasbenchError
from nasbench.objectives import Objective, oriented, pareto_fronts
from results.store import RETRAIN, study_objectives

RECORD_KEYS = ("number", "state", "name", "objective", "values", "hash", "strategy", "origin", "seed_name", "parent",
               "params", "macs", "error", "metrics")
EXPORT_FORMATS = ("csv", "parquet")


def trial_record(trial: FrozenTrial, objectives: Sequence[Objective]) -> dict[str, Any]:
    """The JSON record of one trial: exactly ``RECORD_KEYS``.

    ``objective`` is the first objective's value and ``values`` every objective's, by metric (None unless COMPLETE);
    ``origin`` says where the candidate came from (``origin``); ``seed_name`` is None for non-seeds; ``error`` is why
    a trial failed or was pruned.
    """
    attrs = trial.user_attrs
    outcome = attrs.get("outcome") or {}
    done = trial.state == TrialState.COMPLETE
    return {
        "number": trial.number,
        "state": trial.state.name,
        "name": attrs.get("name"),
        "objective": trial.values[0] if done else None,
        "values": {o.metric: value for o, value in zip(objectives, trial.values)} if done else None,
        "hash": attrs.get("hash"),
        "strategy": attrs.get("strategy"),
        "origin": origin(attrs),
        "seed_name": attrs.get("seed_name"),
        "parent": attrs.get("parent"),
        "params": attrs.get("params"),
        "macs": attrs.get("macs"),
        "error": outcome.get("error"),
        "metrics": dict(outcome.get("metrics") or {}),
    }


def origin(attrs: dict) -> str:
    """``seed <name>``, where a one-shot search derived it, ``from <parent hash8>``, ``retrain of #N`` or ``sample``."""
    if attrs.get("origin") == "retrain":
        return f"retrain of #{attrs['retrain_of']}" if attrs.get("retrain_of") is not None else "retrain"
    if attrs.get("derived"):
        return str(attrs["derived"])
    if attrs.get("seed_name"):
        return f"seed {attrs['seed_name']}"
    if attrs.get("parent"):
        return f"from {attrs['parent'][:8]}"
    return "sample"


def records(study: optuna.Study) -> list[dict[str, Any]]:
    """Every trial of ``study`` as a record, in trial-number order."""
    objectives = study_objectives(study)
    return [trial_record(trial, objectives) for trial in study.get_trials(deepcopy=False)]


def ranked(study: optuna.Study) -> list[tuple[int, FrozenTrial]]:
    """COMPLETE trials of the search (not its retrains) with their Pareto front (0 = non-dominated), best first.

    Ranked by front, then the first objective, then trial number (earlier first). With one objective every trial is
    given front 0 and the ranking is by value alone.
    """
    objectives = study_objectives(study)
    # A retrain (nasbench train TRIAL) trains a found architecture longer: it is not one of the search's evaluations.
    trials = [trial for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if trial.user_attrs.get("origin") != RETRAIN]
    points = [oriented(objectives, trial.values) for trial in trials]
    level = [0] * len(trials)
    if len(objectives) > 1:
        for index, front in enumerate(pareto_fronts(points)):
            for i in front:
                level[i] = index
    order = sorted(range(len(trials)), key=lambda i: (level[i], -points[i][0], trials[i].number))
    return [(level[i], trials[i]) for i in order]


def top(study: optuna.Study, k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` best COMPLETE trials as records, best first (by Pareto front, then the first objective)."""
    if k < 1:
        raise NasbenchError(f"k must be at least 1, got {k}")
    objectives = study_objectives(study)
    return [trial_record(trial, objectives) for _, trial in ranked(study)[:k]]


def pareto(study: optuna.Study) -> list[dict[str, Any]]:
    """The Pareto front: every COMPLETE trial no other trial dominates, ranked by the first objective."""
    objectives = study_objectives(study)
    if len(objectives) == 1:
        best = ranked(study)[:1]
        return [trial_record(trial, objectives) for _, trial in best]
    return [trial_record(trial, objectives) for front, trial in ranked(study) if front == 0]


def dataframe(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: the record's columns, name, origin, wall time, error, ``metric_*`` and ``param_*`` columns."""
    rows = []
    objectives = study_objectives(study)
    for trial in study.get_trials(deepcopy=False):
        record = trial_record(trial, objectives)
        outcome = trial.user_attrs.get("outcome") or {}
        row = {key: record[key] for key in RECORD_KEYS if key not in ("metrics", "values")}
        row.update({f"value_{metric}": value for metric, value in (record["values"] or {}).items()})
        row.update(name=trial.user_attrs.get("name"), origin=trial.user_attrs.get("origin"),
                   mutations=trial.user_attrs.get("mutations"), seconds=outcome.get("seconds"),
                   error=outcome.get("error"), started=trial.datetime_start, completed=trial.datetime_complete)
        row.update({f"metric_{key}": value for key, value in record["metrics"].items()})
        row.update({f"param_{key}": value for key, value in trial.params.items()})
        rows.append(row)
    empty = [key for key in RECORD_KEYS if key not in ("metrics", "values")]
    return pd.DataFrame(rows, columns=None if rows else empty)


def export(study: optuna.Study, fmt: str, path: str | Path) -> Path:
    """Write the study's DataFrame as CSV or Parquet to ``path``; returns the path written."""
    if fmt not in EXPORT_FORMATS:
        raise NasbenchError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    frame = dataframe(study)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(target, index=False)
    else:
        try:
            frame.to_parquet(target, index=False)
        except ImportError as error:
            raise NasbenchError(f"parquet export needs pyarrow (pip install 'nasbench[parquet]'): {error}") from None
    return target
