"""``search(...)``, the Python twin of ``nasbench search``: plug-ins and a study composed, then the search loop run.

It composes an evaluator, a space, a strategy, an executor and a study, then runs ``nasbench.app.loop``.

Every plug-in is found in its registry and configured through its own declared options (``strategy_options``,
``evaluator_options``, ``executor_options``, ``space_options``): this module special-cases no strategy, evaluator or
backend (an evaluator's defaults for a search are its own ``search_defaults``). Everything a user can get wrong (an
unknown objective, metric or option, a value of the wrong type, several objectives for a strategy that takes one) is
checked before the store is opened, so bad input writes nothing.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage

import search_spaces
from nasbench.app.loop import CHECKPOINT_EVERY, MAX_DUPLICATES, SearchLoop
from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from nasbench.objectives import Objective, check_metrics, format_objectives, parse_objectives
from nasbench.options import signature_options
from results.artifacts import ARTIFACTS_SUFFIX, TrialArtifacts
from results.display import SearchProgress, print_summary
from results.journal import JOBS_SUFFIX, StudyJournal
from results.shared import GRACE_SECONDS, HEARTBEAT_SECONDS, SharedStudy
from results.store import DEFAULT_STORAGE, beside_store, open_storage, open_study, storage_url, study_names
from results.summary import SearchResults
from search_spaces.base import SearchSpace
from strategies import get as get_strategy
from strategies.base import Strategy
from strategies.context import SearchContext
from workers.base import EVALUATORS, Evaluator, get_evaluator
from workers.datasets import Dataset, load_dataset
from workers.executor import get_executor
from workers.weights import WEIGHTS_SUFFIX, WeightStore

# The main job (``nasbench search --strategy evolution``): the graph space's 8 default seeds plus 12 evolved
# networks, 3 epochs each on digits, take about 3 minutes on 2 CPU cores (measured on a shared machine).
DEFAULT_BUDGET = 20
DEFAULT_STRATEGY = "evolution"
DEFAULT_EVALUATOR = "train"
DEFAULT_DATASET = "digits"
KEEP_WEIGHTS = ("best", "all", "none")


def search(strategy: str = DEFAULT_STRATEGY, space: str | SearchSpace = "graph", dataset: str | None = None,
           evaluator: str | Evaluator = DEFAULT_EVALUATOR, budget: int = DEFAULT_BUDGET, seed: int = 0,
           storage: str | BaseStorage | None = DEFAULT_STORAGE, study: str | None = None, table: str | None = None,
           workers: int | None = None, epochs: int | None = None, seeds: str | Sequence[str] = "all",
           max_params: int | None = None, max_macs: int | None = None,
           objectives: str | Sequence[str | Objective] | None = None,
           strategy_options: Mapping[str, Any] | None = None, progress: bool = True,
           max_duplicates: int = MAX_DUPLICATES, backend: str = "local",
           space_options: Mapping[str, Any] | None = None, evaluator_options: Mapping[str, Any] | None = None,
           executor_options: Mapping[str, Any] | None = None,
           checkpoint_every: int = CHECKPOINT_EVERY, drawings: bool | None = None,
           keep_weights: str = "best", heartbeat: int = HEARTBEAT_SECONDS,
           heartbeat_grace: int = GRACE_SECONDS) -> SearchResults:
    """Run (or resume) a search and return its results (the Optuna study, best trials, leaderboard).

    ``dataset`` and ``table`` are the evaluator's options of those names (the train evaluator's dataset defaults to
    ``digits``); ``epochs`` is the evaluation fidelity (default: the evaluator's, 3 epochs for training in a
    search). ``objectives`` is ``"metric:max,metric:min"`` or a list (default: the evaluator's); any metric the
    evaluator reports, and every candidate's analytic ``params`` and ``macs``, may be one. ``storage`` is an Optuna
    URL, ``"memory"`` or a storage object; ``backend`` names the executor and ``workers``
    how many evaluations it runs at once (the executor's ``workers`` option; others go through ``executor_options``).
    ``study`` defaults to ``<strategy>-<space>-<dataset or evaluator>-seed<seed>`` so that re-running the same call
    resumes exactly where it stopped. ``seeds`` is ``"all"``, ``"none"`` or seed names (comma-separated or a list).
    ``strategy_options`` are the strategy's declared options (``nasbench strategies`` lists them). ``drawings``:
    every trial carries SVG drawings of its network and cells and a note, as artifacts the dashboard shows (default:
    on for a stored study, unless the evaluator's own default says otherwise, as the table's does: a lookup costs
    less than a drawing; an in-memory study has no artifact store). ``keep_weights``: ``best`` keeps the trained
    weights of the ``KEEP_BEST`` best evaluations by the first objective, ``all`` every evaluation's, ``none``
    none; they are stored beside the study (``<store>.weights/<study>/<hash>.safetensors``; none in memory).

    Several processes may run the same search on one study at once (``results.shared``): together they evaluate
    ``budget`` distinct architectures, each once. Every ``heartbeat`` seconds a process records that its evaluations
    are alive; another process's evaluation silent for ``heartbeat_grace`` seconds (or whose process on this host is
    gone) is stale and is evaluated again by one of the others.
    """
    for what, value, least in (("budget", budget, 1), ("workers", workers, 1), ("epochs", epochs, 1),
                               ("max_params", max_params, 1), ("max_macs", max_macs, 1),
                               ("max_duplicates", max_duplicates, 1), ("checkpoint_every", checkpoint_every, 1),
                               ("heartbeat", heartbeat, 1), ("heartbeat_grace", heartbeat_grace, 1)):
        if value is not None and value < least:
            raise NasbenchError(f"{what} must be at least {least}, got {value}")
    if heartbeat_grace <= heartbeat:
        raise NasbenchError(f"heartbeat_grace ({heartbeat_grace} s) must be longer than heartbeat ({heartbeat} s): "
                            "a live search would look stale between two beats")
    judge = make_evaluator(evaluator, dataset, table, evaluator_options)
    if keep_weights not in KEEP_WEIGHTS:
        raise NasbenchError(f"keep_weights must be one of {', '.join(KEEP_WEIGHTS)}, got {keep_weights!r}")
    wants_drawings = judge.drawings if drawings is None else drawings
    artifacts_folder = beside_store(storage, ARTIFACTS_SUFFIX) if wants_drawings else None
    if drawings and artifacts_folder is None:
        raise NasbenchError("drawings are stored beside the study, and an in-memory study has no folder: use a "
                            "storage URL, or --no-drawings")
    search_data = dataset if dataset is not None and not evaluator_takes(evaluator, "dataset") else None
    goals = parse_objectives(objectives) if objectives else judge.default_objectives()
    check_metrics(goals, judge.metrics, f"evaluator {judge.name!r}")
    input_shape, num_classes = tuple(judge.input_shape), int(judge.num_classes)
    the_space = search_spaces.get(space, input_shape=input_shape, num_classes=num_classes, **dict(space_options or {}))
    judge.use_space(the_space)
    chosen_seeds, unfit_seeds = select_seeds(the_space, seeds)
    given = dict(strategy_options or {})
    proposer = get_strategy(strategy, the_space, goals, seed, budget, given)
    name = study or "-".join([strategy, the_space.name, *([search_data] if search_data else []), judge.task,
                              f"seed{seed}"])
    weights_folder = weights_directory(storage, name) if keep_weights != "none" else None
    if not judge.keep_weights(str(weights_folder.resolve()) if weights_folder is not None else None):
        weights_folder = None  # nothing will be written there, so nothing is to be pruned
    context = SearchContext(loader=data_loader(judge, search_data), directory=job_directory(storage, name))
    proposer.bind(context)  # a strategy that trains on the data checks that it fits, before anything is written
    executor_settings = {**({"workers": workers} if workers is not None else {}), **dict(executor_options or {})}
    executor = get_executor(backend, judge, **executor_settings)
    shared: SharedStudy | None = None
    try:
        executor.use_objectives(goals)
        context.runner = executor.run_task

        store = open_storage(storage)
        if name in study_names(store):
            proposer = resumed_strategy(store, name, strategy, proposer, given, the_space, goals, seed, budget)
            proposer.bind(context)
        attrs = {"objective": goals[0].metric, "objectives": format_objectives(goals), "strategy": strategy,
                 "space": the_space.name, "evaluator": judge.name, "dataset": judge.task, "budget": budget,
                 "seed": seed, "strategy_config": proposer.config,
                 **({"search_dataset": search_data} if search_data else {}),
                 **({"validation_images": judge.validation_size()} if judge.validation_size() else {})}
        the_study = open_study(store, name, goals, attrs)
        shared = SharedStudy(the_study, heartbeat, heartbeat_grace, warn=print_warning)
        if shared.join() > 0:
            # Another searcher works on this study now: this one proposes with its own random stream.
            proposer = get_strategy(strategy, the_space, goals, searcher_seed(seed, shared.slot), budget,
                                    proposer.config)
            proposer.bind(context)
        loop = SearchLoop(the_study, the_space, proposer, executor, goals, budget=budget, seed=seed, fidelity=epochs,
                          max_params=max_params, max_macs=max_macs, max_duplicates=max_duplicates,
                          checkpoint_every=checkpoint_every,
                          best_weights=WeightStore(weights_folder) if weights_folder and keep_weights == "best"
                          else None, shared=shared)
    except BaseException:
        executor.close()  # the loop closes it once running; until then a started Ray must not outlive a bad input
        if shared is not None:
            shared.leave()
        raise
    with SearchProgress(budget, goals[0].metric, enabled=progress) as bar:
        for reason in unfit_seeds:
            bar.warn(f"skipped: {reason}")
        context.journal, context.progress = StudyJournal(the_study), bar.job
        if artifacts_folder is not None:
            loop.artifacts = TrialArtifacts(the_study, artifacts_folder, bar.warn)
        shared.warn = bar.warn
        try:
            stopped = loop.run(chosen_seeds, bar)
        finally:
            shared.leave()
            if loop.artifacts is not None:
                loop.artifacts.close()
    results = SearchResults(the_study, storage_url(storage), goals, budget, stopped)
    if progress:
        print_summary(results)
    return results


def searcher_seed(seed: int, slot: int) -> int:
    """The strategy seed of the searcher in ``slot`` of a study searched with ``seed`` (slot 0: ``seed`` itself)."""
    return seed if slot == 0 else int.from_bytes(hashlib.sha256(f"{seed}:{slot}".encode()).digest()[:4], "big")


def print_warning(text: str) -> None:
    """A one-line warning on standard error."""
    print(f"warning: {text}", file=sys.stderr)


def evaluator_takes(evaluator: str | Evaluator, option: str) -> bool:
    """Whether the evaluator (a registered name or an object) is configured by an option named ``option``."""
    factory = type(evaluator) if isinstance(evaluator, Evaluator) else EVALUATORS.get(evaluator)
    return any(declared.name == option for declared in signature_options(factory))


def make_evaluator(evaluator: str | Evaluator, dataset: str | None, table: str | None,
                   options: Mapping[str, Any] | None) -> Evaluator:
    """An evaluator object as given, or the registered one built with its search defaults and the given options.

    ``dataset`` and ``table`` go to an evaluator that takes them; a dataset that the evaluator does not take (the
    table evaluator's) is the search's own, which a one-shot strategy trains its supernet on.
    """
    if isinstance(evaluator, Evaluator):
        return evaluator
    shortcuts = {key: value for key, value in (("dataset", dataset), ("table", table))
                 if value is not None and evaluator_takes(evaluator, key)}
    settings = {**EVALUATORS.get(evaluator).search_defaults, **shortcuts, **dict(options or {})}
    return get_evaluator(evaluator, **settings)


def data_loader(judge: Evaluator, dataset: str | None) -> Callable[[], Dataset]:
    """What reads the search's training data, when a strategy first needs it.

    ``dataset`` when given apart from the evaluator, else the evaluator's own (the train evaluator's), else the
    embedded default (digits).
    """

    def load() -> Dataset:
        own = getattr(judge, "data", None) if dataset is None else None
        return own if isinstance(own, Dataset) else load_dataset(dataset or DEFAULT_DATASET)

    return load


def weights_directory(storage: str | BaseStorage | None, study: str) -> Path | None:
    """Where a search keeps its candidates' trained weights: ``<store>.weights/<study>`` (``beside_store``)."""
    folder = beside_store(storage, WEIGHTS_SUFFIX)
    return None if folder is None else folder / study


def job_directory(storage: str | BaseStorage | None, study: str) -> Path | None:
    """Where a search's training jobs keep their checkpoints: ``<store>.jobs/<study>`` (``beside_store``)."""
    folder = beside_store(storage, JOBS_SUFFIX)
    return None if folder is None else folder / study


def resumed_strategy(store: BaseStorage, name: str, strategy: str, fresh: Strategy, given: Mapping[str, Any],
                     space: SearchSpace, objectives: tuple[Objective, ...], seed: int, budget: int) -> Strategy:
    """The strategy that resumes study ``name``: configured as stored, with the options given now on top.

    A different strategy, or options given now that change the stored configuration, are errors: the checkpoint
    holds the state of the stored configuration.
    """
    attrs = optuna.load_study(storage=store, study_name=name).user_attrs
    stored_name = attrs.get("strategy")
    if stored_name is not None and stored_name != strategy:
        raise NasbenchError(f"study {name!r} was searched by strategy {stored_name!r}, not {strategy!r} "
                            "(choose another --study)")
    if attrs.get("seed") is not None and attrs["seed"] != seed:
        raise NasbenchError(f"study {name!r} was searched with seed {attrs['seed']}, not {seed} "
                            "(choose another --study)")
    stored = attrs.get("strategy_config")
    if stored is None:
        return fresh  # written before configurations were stored: resumed by replay with the given options
    merged = {**stored, **{key: value for key, value in given.items() if value is not None}}
    resumed = get_strategy(strategy, space, objectives, seed, budget, merged)
    if resumed.config != stored:
        changed = sorted(key for key in resumed.config if resumed.config[key] != stored.get(key))
        raise NasbenchError(f"study {name!r} was searched with {strategy} options "
                            f"{', '.join(f'{key}={stored.get(key)!r}' for key in changed)}; resume it with the same "
                            "options or choose another --study")
    return resumed


def select_seeds(space: SearchSpace, choice: str | Sequence[str]) -> tuple[list[Architecture], list[str]]:
    """The seeds named by ``choice``, and why each of the space's catalog that could not be one was left out.

    ``all`` (the space's default seeds), ``none``, ``zoo`` (every network of the space's catalog that fits it, the
    others with a one-line reason each), or names (comma-separated text or a list), in that order; a name that cannot
    be a seed is an error.
    """
    if isinstance(choice, str):
        if choice == "all":
            return space.seeds(), []
        if choice in ("none", ""):
            return [], []
        if choice == "zoo":
            entered, unfit = [], []
            for name in space.seed_catalog():
                try:
                    entered.append(space.make_seed(name))
                except NasbenchError as error:
                    unfit.append(str(error))
            return entered, unfit
        choice = [part.strip() for part in choice.split(",") if part.strip()]
    return [space.make_seed(name) for name in choice], []
