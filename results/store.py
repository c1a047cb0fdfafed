"""The results store: one Optuna study per search, one trial per evaluation, in any Optuna storage.

A trial is written once when its evaluation starts (state RUNNING, with the genome and provenance as user attributes,
and the space's encoding as params where it has one) and once when it ends (intermediate values = the per-epoch
curve, the metrics, wall time, then COMPLETE with every objective's value, or FAIL with the reason). The study's
metric names are the objectives' metrics, so the dashboard shows ``val_acc``, not ``Objective 0``. The search's
checkpoint (the strategy's ``state_dict`` and the loop's counters) is a study system attribute in the same storage.
A search killed midway leaves RUNNING trials behind; the next searcher marks them FAIL (``stale``) and evaluates them
again (``results.shared``).
"""

from __future__ import annotations

import json
import math
import random
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import BaseStorage, InMemoryStorage
from optuna.trial import FrozenTrial, TrialState, create_trial

from nasbench.errors import NasbenchError, error_line
from nasbench.objectives import Objective, format_objectives, values_of

SQLITE = "sqlite:///"
SQLITE_BUSY_SECONDS = 60.0
OPEN_ATTEMPTS = 8
# What a process opening a new database sees when another one is creating the same tables at that moment.
SCHEMA_RACES = ("alembic_version", "already exists", "database is locked", "duplicate key value")
# How long a process opening a study waits for the process that has just created it to store its metric names.
CREATION_SECONDS = 10.0
DEFAULT_STORAGE = "sqlite:///results/nasbench.db"
MEMORY = "memory"
CHECKPOINT_KEY = "nasbench:checkpoint"
RETRAIN = "retrain"  # the origin of a trial that records a training run of a found architecture, not an evaluation
FINISHED = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def open_storage(url: str | BaseStorage | None = DEFAULT_STORAGE, read_only: bool = False) -> BaseStorage:
    """An Optuna storage from a URL (``sqlite:///path``, ``postgresql://...``, ``memory``) or a storage object.

    The directory of an SQLite file is created if missing. ``read_only``: the store must exist and is not changed
    (an SQLite file is opened read-only, and a missing one is an error naming it). A URL that cannot be opened is a
    one-line NasbenchError.
    """
    if isinstance(url, BaseStorage):
        return url
    if url is None or url == MEMORY:
        if read_only:
            raise NasbenchError("an in-memory storage holds no study to read: give the storage URL of a search")
        return InMemoryStorage()
    text = str(url)
    if "://" not in text:
        raise NasbenchError(f"storage must be an Optuna storage URL such as sqlite:///results/nasbench.db "
                            f"or 'memory', got {text!r}")
    opened = text
    if text.startswith(SQLITE):
        path = text[len(SQLITE):]
        if path and path != ":memory:":
            file = Path(path).expanduser()
            if read_only:
                if not file.is_file():
                    raise NasbenchError(f"no store at {file}: the SQLite file does not exist")
                # SQLite's own read-only mode: reading a file never creates tables in it or upgrades its schema.
                opened = f"{SQLITE}file:{quote(str(file.resolve()))}?mode=ro&uri=true"
            else:
                file.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _open_racing(opened)
    except Exception as error:  # SQLAlchemy and the drivers raise many types; all mean "cannot open"
        reason = error_line(error)
        if read_only and "readonly database" in reason:  # Optuna found no tables and tried to create them
            reason = "it is an SQLite file without an Optuna study"
        if isinstance(error, ImportError) or "Failed to import DB access module" in reason:
            reason = ("its database driver is not installed (for PostgreSQL: pip install 'nasbench[postgres]', "
                      "which is psycopg2)")
        shown = public_url(text)
        raise NasbenchError(f"cannot open storage {shown!r}: {reason.replace(text, shown)}") from None


def _open_racing(url: str) -> BaseStorage:
    """The RDB storage at ``url``, retried with backoff while other processes create the same schema at once."""
    # SQLite: wait this long for another process's write to finish rather than fail with "database is locked".
    engine = {"connect_args": {"timeout": SQLITE_BUSY_SECONDS}} if url.startswith(SQLITE) else None
    attempt = 0
    while True:
        try:
            return optuna.storages.get_storage(optuna.storages.RDBStorage(url, engine_kwargs=engine))
        except Exception as error:
            attempt += 1
            if attempt == OPEN_ATTEMPTS or not any(words in str(error) for words in SCHEMA_RACES):
                raise
            time.sleep(0.05 * 2 ** attempt * (1.0 + random.random()))


def public_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***`` (for messages and logs)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 -- not a database URL: nothing in it to hide
        return url


def storage_url(storage: str | BaseStorage | None) -> str | None:
    """The URL that reopens ``storage`` from any directory (SQLite paths made absolute), or None if in-memory."""
    if isinstance(storage, BaseStorage):
        url = getattr(storage, "url", None)
        return storage_url(url) if isinstance(url, str) else None
    if storage is None or storage == MEMORY:
        return None
    text = str(storage)
    if text.startswith(SQLITE) and not text[len(SQLITE):].startswith("/"):
        return SQLITE + str(Path(text[len(SQLITE):]).expanduser().resolve())
    return text


def beside_store(storage: str | BaseStorage | None, suffix: str) -> Path | None:
    """A folder kept with the store (None for an in-memory one, whose study nothing outlives).

    ``<folder of the SQLite file>/<its stem><suffix>`` (two databases in one folder never share it), or
    ``results/<stem of the default database><suffix>`` for other storages.
    """
    url = storage_url(storage)
    if url is None:
        return None
    if url.startswith(SQLITE):
        database = Path(url[len(SQLITE):])
        return database.parent / f"{database.stem}{suffix}"
    default = Path(DEFAULT_STORAGE[len(SQLITE):])
    return default.parent / f"{default.stem}{suffix}"


def study_names(storage: BaseStorage) -> list[str]:
    """Names of the studies in ``storage``."""
    return [summary.study_name for summary in storage.get_all_studies()]


def open_study(storage: BaseStorage, name: str, objectives: Sequence[Objective],
               attrs: Mapping[str, Any] | None = None) -> optuna.Study:
    """Load the study ``name`` or create it optimizing ``objectives`` (directions and metric names).

    A stored study that optimizes other objectives is an error; one written before metric names were stored (one
    objective, named in its ``objective`` attribute) is accepted when that name and direction agree, and one created
    without names (by Optuna alone) when its directions do.
    """
    directions = [objective.direction for objective in objectives]
    metrics = [objective.metric for objective in objectives]
    exists = name in study_names(storage)
    study = optuna.create_study(storage=storage, study_name=name, directions=directions, load_if_exists=True)
    if exists or study.metric_names is not None:  # another searcher may have created it since it was listed
        stored_metrics = stored_metric_names(study) or metrics  # a study created without names: directions decide
        stored = [f"{metric}:{'max' if d.name == 'MAXIMIZE' else 'min'}"
                  for metric, d in zip(stored_metrics, study.directions)]
        if stored != [str(objective) for objective in objectives]:
            raise NasbenchError(f"study {name!r} exists and optimizes {','.join(map(str, stored))}; this search "
                                f"would optimize {format_objectives(objectives)} (choose another --study)")
    if study.metric_names is None:
        with warnings.catch_warnings():  # experimental since Optuna 3.2 and unchanged since; the dashboard reads it
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(metrics)
    for key, value in (attrs or {}).items():
        if key not in study.user_attrs:
            study.set_user_attr(key, value)
    return study


def stored_metric_names(study: optuna.Study) -> list[str] | None:
    """The metric names a stored study optimizes; None for a study created without them (by Optuna alone).

    Optuna creates a study and stores its metric names in two transactions: a searcher that opens a study another
    one has just created waits for the names (up to ``CREATION_SECONDS``) rather than take it for an unnamed one.
    """
    deadline = time.monotonic() + CREATION_SECONDS
    while (names := metric_names_of(study)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return names


def metric_names_of(study: optuna.Study) -> list[str] | None:
    """The study's metric names, or the ``objective`` attribute of one written before they were stored; else None."""
    legacy = study.user_attrs.get("objective")
    return study.metric_names or ([legacy] if legacy is not None else None)


def study_objectives(study: optuna.Study) -> tuple[Objective, ...]:
    """The objectives a stored study optimizes (its metric names and directions)."""
    metrics = metric_names_of(study) or ["objective"]
    return tuple(Objective(metric, d.name.lower()) for metric, d in zip(metrics, study.directions))


def load_study(storage: str | BaseStorage | None, name: str | None = None, read_only: bool = True) -> optuna.Study:
    """An existing study; without a name, the only study of the storage. Missing studies are NasbenchErrors.

    By default the store is opened ``read_only`` (``open_storage``).
    """
    store = open_storage(storage, read_only)
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
    """A RUNNING trial: its storage id."""

    trial_id: int


class TrialWriter:
    """Writes the trials of one study, and the search's checkpoints, with as few storage round trips as possible."""

    def __init__(self, study: optuna.Study, objectives: Sequence[Objective]) -> None:
        self.study = study
        self.storage: BaseStorage = study._storage  # Optuna exposes no public getter for a study's storage
        self.study_id = self.storage.get_study_id_from_name(study.study_name)
        self.objectives = tuple(objectives)

    def start(self, attrs: Mapping[str, Any], params: Mapping[str, Any] | None = None,
              distributions: Mapping[str, BaseDistribution] | None = None) -> TrialHandle:
        """A RUNNING trial carrying ``attrs`` (and ``params`` over their ``distributions``), in one write."""
        template = create_trial(state=TrialState.RUNNING, params=dict(params) if params else None,
                                distributions=dict(distributions) if params else None, user_attrs=clean(dict(attrs)))
        trial_id = self.storage.create_new_trial(self.study_id, template_trial=template)
        return TrialHandle(trial_id)

    def finish(self, handle: TrialHandle, status_ok: bool, metrics: Mapping[str, float],
               curve: list[Mapping[str, float]], seconds: float, error: str | None,
               extra: Mapping[str, Any] | None = None,
               pruned: bool = False) -> tuple[tuple[float, ...] | None, str | None]:
        """Curve, metrics and wall time, then COMPLETE with every objective's value, or FAIL with the reason.

        Returns what was stored: (values, None) for a COMPLETE trial, (None, reason) for a FAIL. The intermediate
        values are the curve's first objective where the curve has it, else its validation accuracy (``val_acc``,
        what every training curve reports). ``extra`` joins the stored outcome (the loop's bookkeeping).

        ``pruned``: the evaluation was stopped early (``error`` says why) and ``metrics`` are those of the last epoch
        it reached; it is stored PRUNED with that epoch (``outcome["pruned_at"]``), and its values at that epoch
        are returned, the low-fidelity result a strategy is told.
        """
        if pruned:
            return self._prune(handle, metrics, curve, seconds, error, extra)
        self._curve(handle, curve)
        outcome: dict[str, Any] = {"metrics": clean(dict(metrics)), "seconds": round(float(seconds), 4),
                                   **dict(extra or {})}
        if len(curve) > 1:
            outcome["curve"] = clean([dict(entry) for entry in curve])
        values = values_of(self.objectives, metrics)
        valid = status_ok and all(math.isfinite(value) for value in values)
        if status_ok and not valid:
            bad = [o.metric for o, value in zip(self.objectives, values) if not math.isfinite(value)]
            error = f"objective(s) {', '.join(bad)} missing or not finite"
        if not valid:
            error = error or "failed"
            outcome["error"] = error
        self.storage.set_trial_user_attr(handle.trial_id, "outcome", outcome)
        if valid:
            self.storage.set_trial_state_values(handle.trial_id, TrialState.COMPLETE, list(values))
            return values, None
        self.storage.set_trial_state_values(handle.trial_id, TrialState.FAIL)
        return None, error

    def _prune(self, handle: TrialHandle, metrics: Mapping[str, float], curve: list[Mapping[str, float]],
               seconds: float, reason: str | None,
               extra: Mapping[str, Any] | None) -> tuple[tuple[float, ...] | None, str | None]:
        self._curve(handle, curve)
        reached = int(curve[-1].get("epoch", len(curve))) if curve else 0
        outcome: dict[str, Any] = {"metrics": clean(dict(metrics)), "seconds": round(float(seconds), 4),
                                   "pruned_at": reached, "error": reason or f"pruned after epoch {reached}",
                                   **dict(extra or {})}
        if curve:
            outcome["curve"] = clean([dict(entry) for entry in curve])
        self.storage.set_trial_user_attr(handle.trial_id, "outcome", outcome)
        self.storage.set_trial_state_values(handle.trial_id, TrialState.PRUNED)
        values = values_of(self.objectives, metrics)
        if all(math.isfinite(value) for value in values):
            return values, None
        return None, outcome["error"]

    def _curve(self, handle: TrialHandle, curve: list[Mapping[str, float]]) -> None:
        first = self.objectives[0].metric
        for step, entry in enumerate(curve, start=1):
            value = entry.get(first, entry.get("val_acc"))
            if isinstance(value, (int, float)) and math.isfinite(value):
                self.storage.set_trial_intermediate_value(handle.trial_id, int(entry.get("epoch", step)), value)

    def save_checkpoint(self, checkpoint: Mapping[str, Any], slot: int = 0) -> None:
        """Store the checkpoint (strategy state and loop counters) of the searcher in ``slot`` with the study."""
        self.storage.set_study_system_attr(self.study_id, checkpoint_key(slot), clean(dict(checkpoint)))

    def load_checkpoint(self, slot: int = 0) -> dict[str, Any] | None:
        """The last checkpoint of the searcher in ``slot`` (None for a new study or one written before them)."""
        return self.storage.get_study_system_attrs(self.study_id).get(checkpoint_key(slot))


def checkpoint_key(slot: int) -> str:
    """The study system attribute that holds the checkpoint of the searcher in ``slot`` (slot 0: a lone search's)."""
    return CHECKPOINT_KEY if slot == 0 else f"{CHECKPOINT_KEY}:{slot}"


def is_stale(trial: FrozenTrial) -> bool:
    """Whether ``trial`` is an interrupted evaluation (its candidate was evaluated again later)."""
    return bool(trial.user_attrs.get("outcome", {}).get("stale"))


def evaluated_trials(study: optuna.Study) -> list[FrozenTrial]:
    """Finished, non-stale trials, the evaluations that count toward the budget, in the order they were told.

    The loop stores each evaluation's place in that order (``order``); trials written before it did are in number order.
    A training run recorded afterwards (origin ``retrain``, by ``nasbench train``) is not one of the search's.
    """
    trials = [trial for trial in study.get_trials(deepcopy=False, states=FINISHED)
              if not is_stale(trial) and trial.user_attrs.get("origin") != RETRAIN]
    return sorted(trials, key=lambda trial: (trial.user_attrs.get("outcome", {}).get("order", -1), trial.number))


def trial_with_genome(study: optuna.Study, number: int) -> FrozenTrial:
    """Trial ``number`` of ``study``; a NasbenchError if there is none or it holds no genome."""
    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if trial is None or genome_json(trial) is None:
        raise NasbenchError(f"study {study.study_name!r} has no trial {number} with a genome")
    return trial


def genome_json(trial: FrozenTrial) -> str | None:
    """The trial's genome as JSON text (None if it has none)."""
    genome = trial.user_attrs.get("genome")
    if genome is None:
        return None
    return genome if isinstance(genome, str) else json.dumps(genome)
