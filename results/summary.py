"""What a search returns: the Optuna study with its best trial, leaderboard and the command that opens the dashboard."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from nasbench.architecture import Architecture
from results.records import dataframe, top
from results.store import genome_json


@dataclass
class SearchResults:
    """The study of one search. ``storage`` is the URL that reopens it (None for in-memory storage).

    ``stopped`` says why the search ended before its budget (None when it used the whole budget).
    """

    study: optuna.Study
    storage: str | None
    objective: str
    budget: int
    stopped: str | None = None

    @property
    def best_trial(self) -> FrozenTrial | None:
        """The best COMPLETE trial, or None when no evaluation succeeded."""
        if not self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            return None
        return self.study.best_trial

    @property
    def best_value(self) -> float | None:
        """The best objective value (None when no evaluation succeeded)."""
        best = self.best_trial
        return None if best is None else best.value

    def best_architecture(self) -> Architecture | None:
        """The genome of the best trial."""
        best = self.best_trial
        text = None if best is None else genome_json(best)
        return None if text is None else Architecture.from_json(text)

    def dataframe(self) -> pd.DataFrame:
        """Every trial as a row (see ``results.records.dataframe``)."""
        return dataframe(self.study)

    def leaderboard(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` best COMPLETE trials, best first: rank, number, name, hash, objective, params, MACs, origin."""
        rows = []
        names = {trial.number: trial.user_attrs.get("name") for trial in self.study.get_trials(deepcopy=False)}
        for rank, record in enumerate(top(self.study, k), start=1):
            rows.append({"rank": rank, "number": record["number"], "name": names.get(record["number"]),
                         "hash": record["hash"], self.objective: record["objective"], "params": record["params"],
                         "macs": record["macs"], "origin": origin(record)})
        columns = ["rank", "number", "name", "hash", self.objective, "params", "macs", "origin"]
        return pd.DataFrame(rows, columns=columns)

    @property
    def dashboard_command(self) -> str | None:
        """The shell command that opens optuna-dashboard on this study's storage, bound to 127.0.0.1."""
        if self.storage is None:
            return None
        return f"optuna-dashboard --host 127.0.0.1 {shlex.quote(self.storage)}"


def origin(record: dict) -> str:
    """``seed <name>``, ``from <parent hash8>`` or ``sample`` for a trial record."""
    if record.get("seed_name"):
        return f"seed {record['seed_name']}"
    if record.get("parent"):
        return f"from {record['parent'][:8]}"
    return "sample"
