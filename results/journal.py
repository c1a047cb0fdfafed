"""The journal of a search's training jobs (a one-shot strategy's supernet searches) in the search's storage.

A job is one trial of the companion study ``<study>.jobs``, so that the dashboard draws its curve live beside the
search: the intermediate values are the supernet's validation accuracy per epoch, the user attribute ``epochs`` holds
every epoch's record (accuracies, the entropy of the architecture distribution, the genotype derived at that epoch),
and the trial completes with the last epoch's validation accuracy. A job resumed after a kill reopens its trial and
goes on writing from the epoch it continues from. The search study names its companion in ``jobs_study``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import TrialState, create_trial

from results.store import clean

JOBS_SUFFIX = ".jobs"
JOB_METRIC = "val_acc"


def jobs_study_name(study_name: str) -> str:
    """The companion study that holds the training jobs of search ``study_name``."""
    return study_name + JOBS_SUFFIX


class StudyJournal:
    """Writes the epochs of training jobs as trials of the companion study of ``search`` (created on first use)."""

    def __init__(self, search: optuna.Study) -> None:
        self.search = search
        self.storage: BaseStorage = search._storage  # Optuna exposes no public getter for a study's storage
        self.name = jobs_study_name(search.study_name)
        self._study: optuna.Study | None = None
        self.trials: dict[str, int] = {}
        self.epochs: dict[str, list[dict[str, Any]]] = {}

    @property
    def study(self) -> optuna.Study:
        """The companion study, created (and named in the search study's ``jobs_study``) on first use."""
        if self._study is None:
            with warnings.catch_warnings():  # experimental since Optuna 3.2 and unchanged since; the dashboard reads it
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self._study = optuna.create_study(storage=self.storage, study_name=self.name, direction="maximize",
                                                  load_if_exists=True)
                if self._study.metric_names is None:
                    self._study.set_metric_names([JOB_METRIC])
            self._study.set_user_attr("search_study", self.search.study_name)
            self.search.set_user_attr("jobs_study", self.name)
        return self._study

    def start(self, job: str, config: Mapping[str, Any]) -> None:
        """Open the trial of ``job``, or reopen the one a killed run left (keeping its epochs)."""
        for trial in self.study.get_trials(deepcopy=False):
            if trial.user_attrs.get("job") == job:
                self.trials[job] = trial._trial_id
                self.epochs[job] = list(trial.user_attrs.get("epochs", []))
                return
        template = create_trial(state=TrialState.RUNNING, user_attrs={"job": job, "config": clean(dict(config))})
        study_id = self.storage.get_study_id_from_name(self.name)
        self.trials[job] = self.storage.create_new_trial(study_id, template_trial=template)
        self.epochs[job] = []

    def epoch(self, job: str, entry: Mapping[str, Any]) -> None:
        """Store one epoch: its validation accuracy as the intermediate value, its record among ``epochs``."""
        trial_id = self.trials[job]
        epochs = [e for e in self.epochs[job] if e.get("epoch") != entry["epoch"]] + [clean(dict(entry))]
        self.epochs[job] = epochs
        value = entry.get(JOB_METRIC)
        if isinstance(value, (int, float)) and math.isfinite(value):
            self.storage.set_trial_intermediate_value(trial_id, int(entry["epoch"]), float(value))
        self.storage.set_trial_user_attr(trial_id, "epochs", epochs)

    def finish(self, job: str, summary: Mapping[str, Any]) -> None:
        """Complete the trial of ``job`` with its last validation accuracy and store ``summary``."""
        trial_id = self.trials[job]
        if self.storage.get_trial(trial_id).state != TrialState.RUNNING:
            return
        self.storage.set_trial_user_attr(trial_id, "summary", clean(dict(summary)))
        last = self.epochs[job][-1].get(JOB_METRIC) if self.epochs[job] else None
        if isinstance(last, (int, float)) and math.isfinite(last):
            self.storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [float(last)])
        else:
            self.storage.set_trial_state_values(trial_id, TrialState.FAIL)
