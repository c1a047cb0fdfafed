"""The results store: one Optuna study per search, one trial per evaluation, in any Optuna storage.

A trial is written once when its evaluation starts (state RUNNING, with the genome and provenance as user attributes,
and the space's encoding as categorical params where it has one) and once when it ends (intermediate values = the
per-epoch curve, the metrics, wall time, then COMPLETE with the objective, or FAIL with the reason). A search killed
midway leaves RUNNING trials behind; ``fail_stale`` marks them FAIL (``stale``) and hands back their candidates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.storages import BaseStorage, InMemoryStorage
from optuna.trial import FrozenTrial, TrialState, create_trial

from nasbench.errors import NasbenchError

DEFAULT_STORAGE = "sqlite:///results/nasbench.db"
MEMORY = "memory"
FINISHED = (TrialState.COMPLETE, TrialState.FAIL)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def open_storage(url: str | BaseStorage | None = DEFAULT_STORAGE) -> BaseStorage:
    """An Optuna storage from a URL (``sqlite:///path``, ``postgresql://...``, ``memory``) or a storage object.

    The directory of an SQLite file is created if missing; a URL that cannot be opened is a one-line NasbenchError.
    """
    if isinstance(url, BaseStorage):
        return url
    if url is None or url == MEMORY:
        return InMemoryStorage()
    text = str(url)
    if "://" not in text:
        raise NasbenchError(f"storage must be an Optuna storage URL such as sqlite:///results/nasbench.db "
                            f"or 'memory', got {text!r}")
    if text.startswith("sqlite:///"):
        path = text[len("sqlite:///"):]
        if path and path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        return optuna.storages.get_storage(text)
    except Exception as error:  # SQLAlchemy and the drivers raise many types; all mean "cannot open"
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise NasbenchError(f"cannot open storage {text!r}: {reason}") from None


def storage_url(storage: str | BaseStorage | None) -> str | None:
    """The URL that reopens ``storage`` from any directory (SQLite paths made absolute), or None if in-memory."""
    if isinstance(storage, BaseStorage):
        url = getattr(storage, "url", None)
        return storage_url(url) if isinstance(url, str) else None
    if storage is None or storage == MEMORY:
        return None
    text = str(storage)
    prefix = "sqlite:///"
    if text.startswith(prefix) and not text[len(prefix):].startswith("/"):
        return prefix + str(Path(text[len(prefix):]).expanduser().resolve())
    return text


def study_names(storage: BaseStorage) -> list[str]:
    """Names of the studies in ``storage``."""
    return [summary.study_name for summary in storage.get_all_studies()]


def open_study(storage: BaseStorage, name: str, direction: str, attrs: Mapping[str, Any] | None = None) -> optuna.Study:
    """Load the study ``name`` or create it with ``direction``; a stored study of the other direction is an error."""
    study = optuna.create_study(storage=storage, study_name=name, direction=direction, load_if_exists=True)
    if study.direction.name.lower() != direction:
        raise NasbenchError(f"study {name!r} exists and {study.direction.name.lower()}s its objective; "
                            f"this search would {direction} (choose another --study)")
    for key, value in (attrs or {}).items():
        if key not in study.user_attrs:
            study.set_user_attr(key, value)
    return study


def load_study(storage: str | BaseStorage | None, name: str | None = None) -> optuna.Study:
    """An existing study; without a name, the only study of the storage. Missing studies are NasbenchErrors."""
    store = open_storage(storage)
    names = study_names(store)
    if name is None:
        if len(names) != 1:
            listing = ", ".join(names) if names else "none"
            raise NasbenchError(f"choose a study with --study (studies in this storage: {listing})")
        name = names[0]
    if name not in names:
        raise NasbenchError(f"no study {name!r} in this storage (studies: {', '.join(names) or 'none'})")
    return optuna.load_study(storage=store, study_name=name)


def clean(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become None (strict JSON readers, e.g. the dashboard, reject NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(item) for item in value]
    return value


@dataclass
class TrialHandle:
    """A RUNNING trial: its storage id and number."""

    trial_id: int
    number: int


class TrialWriter:
    """Writes the trials of one study with as few storage round trips as possible."""

    def __init__(self, study: optuna.Study, objective: str) -> None:
        self.study = study
        self.storage: BaseStorage = study._storage  # Optuna exposes no public getter for a study's storage
        self.study_id = self.storage.get_study_id_from_name(study.study_name)
        self.objective = objective

    def start(self, attrs: Mapping[str, Any], params: Mapping[str, Any] | None = None,
              choices: Mapping[str, list[Any]] | None = None) -> TrialHandle:
        """A RUNNING trial carrying ``attrs`` (and ``params`` over categorical ``choices``), in one write."""
        distributions = {key: CategoricalDistribution(list(choices[key])) for key in params or {}} if choices else {}
        template = create_trial(state=TrialState.RUNNING, params=dict(params or {}) if distributions else None,
                                distributions=distributions or None, user_attrs=clean(dict(attrs)))
        trial_id = self.storage.create_new_trial(self.study_id, template_trial=template)
        return TrialHandle(trial_id, self.storage.get_trial_number_from_id(trial_id))

    def finish(self, handle: TrialHandle, status_ok: bool, metrics: Mapping[str, float],
               curve: list[Mapping[str, float]], seconds: float, error: str | None) -> None:
        """Curve, metrics and wall time, then COMPLETE with the objective, or FAIL with ``error`` as the reason."""
        for step, entry in enumerate(curve, start=1):
            # Evaluators name the per-epoch validation accuracy ``val_acc`` even when the objective has another name.
            value = entry.get(self.objective, entry.get("val_acc"))
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.storage.set_trial_intermediate_value(handle.trial_id, int(entry.get("epoch", step)), value)
        outcome: dict[str, Any] = {"metrics": clean(dict(metrics)), "seconds": round(float(seconds), 4)}
        if len(curve) > 1:
            outcome["curve"] = clean([dict(entry) for entry in curve])
        value = metrics.get(self.objective)
        valid = status_ok and isinstance(value, (int, float)) and math.isfinite(value)
        if status_ok and not valid:
            error = f"objective {self.objective!r} missing or not finite ({value!r})"
        if error:
            outcome["error"] = error
        self.storage.set_trial_user_attr(handle.trial_id, "outcome", outcome)
        if valid:
            self.storage.set_trial_state_values(handle.trial_id, TrialState.COMPLETE, [float(value)])
        else:
            self.storage.set_trial_state_values(handle.trial_id, TrialState.FAIL)

    def fail_stale(self, reason: str) -> list[FrozenTrial]:
        """Mark every RUNNING trial FAIL as stale (``reason``) and return them as they were."""
        stale = self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        for trial in stale:
            self.storage.set_trial_user_attr(trial._trial_id, "outcome",
                                             {"error": reason, "stale": True, "metrics": {}, "seconds": 0.0})
            self.storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        return stale


def is_stale(trial: FrozenTrial) -> bool:
    """Whether ``trial`` is an interrupted evaluation (its candidate was evaluated again later)."""
    return bool(trial.user_attrs.get("outcome", {}).get("stale"))


def evaluated_trials(study: optuna.Study) -> Iterator[FrozenTrial]:
    """Finished, non-stale trials in number order: the evaluations that count toward the budget."""
    for trial in study.get_trials(deepcopy=False, states=FINISHED):
        if not is_stale(trial):
            yield trial


def genome_json(trial: FrozenTrial) -> str | None:
    """The trial's genome as JSON text (None if it has none)."""
    genome = trial.user_attrs.get("genome")
    if genome is None:
        return None
    return genome if isinstance(genome, str) else json.dumps(genome)
