"""What a search returns: the Optuna study with its best trials, leaderboard, Pareto front and dashboard command."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

import optuna
import pandas as pd
from optuna.trial import FrozenTrial

from nasbench.architecture import Architecture
from nasbench.objectives import ANALYTIC_METRICS, Objective
from results.records import dataframe, origin, ranked
from results.store import genome_json, public_url


@dataclass
class SearchResults:
    """The study of one search. ``storage`` is the URL that reopens it (None for in-memory storage).

    Trials rank by Pareto front, then the first objective (with one objective: by its value). ``stopped`` says why
    the search ended before its budget (None when it used the whole budget).
    """

    study: optuna.Study
    storage: str | None
    objectives: Sequence[Objective]
    budget: int
    stopped: str | None = None

    @property
    def objective(self) -> str:
        """The first objective's metric."""
        return self.objectives[0].metric

    @property
    def multi_objective(self) -> bool:
        """Whether the search optimized several objectives."""
        return len(self.objectives) > 1

    @property
    def best_trial(self) -> FrozenTrial | None:
        """The best COMPLETE trial (on the Pareto front, best first objective), or None when none succeeded."""
        best = ranked(self.study)[:1]
        return best[0][1] if best else None

    @property
    def best_value(self) -> float | None:
        """The best trial's value of the first objective (None when no evaluation succeeded)."""
        best = self.best_trial
        return None if best is None else best.values[0]

    def best_architecture(self) -> Architecture | None:
        """The genome of the best trial."""
        best = self.best_trial
        text = None if best is None else genome_json(best)
        return None if text is None else Architecture.from_json(text)

    def dataframe(self) -> pd.DataFrame:
        """Every trial as a row (see ``results.records.dataframe``)."""
        return dataframe(self.study)

    def leaderboard(self, k: int | None = 10) -> pd.DataFrame:
        """The ``k`` best COMPLETE trials (all when None), best first.

        Columns: rank, front, number, name, hash, one per objective, params, macs, origin.
        """
        trials = ranked(self.study)
        rows = []
        for rank, (front, trial) in enumerate(trials if k is None else trials[:k], start=1):
            attrs = trial.user_attrs
            row = {"rank": rank, "front": front, "number": trial.number, "name": attrs.get("name"),
                   "hash": attrs.get("hash")}
            row.update({objective.metric: value for objective, value in zip(self.objectives, trial.values)})
            row.update(params=attrs.get("params"), macs=attrs.get("macs"), origin=origin(attrs))
            rows.append(row)
        metrics = [o.metric for o in self.objectives if o.metric not in ANALYTIC_METRICS]
        columns = ["rank", "front", "number", "name", "hash", *metrics, *ANALYTIC_METRICS, "origin"]
        return pd.DataFrame(rows, columns=columns)

    def pareto_front(self) -> pd.DataFrame:
        """The leaderboard rows of the non-dominated trials."""
        frame = self.leaderboard(None)
        return frame[frame["front"] == 0].reset_index(drop=True) if self.multi_objective else frame.head(1)

    @property
    def dashboard_command(self) -> str | None:
        """The shell command that serves the dashboard of this study's storage (with its drawings) on 127.0.0.1.

        A password in the storage URL is shown as ``***``.
        """
        if self.storage is None:
            return None
        return f"nasbench dashboard --storage {shlex.quote(public_url(self.storage))}"
