"""A study's trials as plain records, pandas DataFrames, leaderboards and CSV/Parquet files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from nasbench.errors import NasbenchError

RECORD_KEYS = ("number", "state", "objective", "hash", "strategy", "seed_name", "parent", "params", "macs", "metrics")
EXPORT_FORMATS = ("csv", "parquet")


def trial_record(trial: FrozenTrial) -> dict[str, Any]:
    """The JSON record of one trial: exactly ``RECORD_KEYS`` (``seed_name`` is None for non-seeds)."""
    attrs = trial.user_attrs
    outcome = attrs.get("outcome") or {}
    return {
        "number": trial.number,
        "state": trial.state.name,
        "objective": trial.value if trial.state == TrialState.COMPLETE else None,
        "hash": attrs.get("hash"),
        "strategy": attrs.get("strategy"),
        "seed_name": attrs.get("seed_name"),
        "parent": attrs.get("parent"),
        "params": attrs.get("params"),
        "macs": attrs.get("macs"),
        "metrics": dict(outcome.get("metrics") or {}),
    }


def records(study: optuna.Study) -> list[dict[str, Any]]:
    """Every trial of ``study`` as a record, in trial-number order."""
    return [trial_record(trial) for trial in study.get_trials(deepcopy=False)]


def top(study: optuna.Study, k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` best COMPLETE trials as records, best first (ties: earlier trial first)."""
    if k < 1:
        raise NasbenchError(f"k must be at least 1, got {k}")
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    ranked = sorted(trials, key=lambda trial: (sign * trial.value, trial.number))
    return [trial_record(trial) for trial in ranked[:k]]


def dataframe(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: the record's columns, name, origin, wall time, error, ``metric_*`` and ``param_*`` columns."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        record = trial_record(trial)
        outcome = trial.user_attrs.get("outcome") or {}
        row = {key: record[key] for key in RECORD_KEYS if key != "metrics"}
        row.update(name=trial.user_attrs.get("name"), origin=trial.user_attrs.get("origin"),
                   mutations=trial.user_attrs.get("mutations"), seconds=outcome.get("seconds"),
                   error=outcome.get("error"), started=trial.datetime_start, completed=trial.datetime_complete)
        row.update({f"metric_{key}": value for key, value in record["metrics"].items()})
        row.update({f"param_{key}": value for key, value in trial.params.items()})
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else [key for key in RECORD_KEYS if key != "metrics"])


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
