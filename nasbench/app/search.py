"""``search(...)``, the Python twin of ``nasbench search``: plug-ins and a study composed, then the search loop run.

It composes an evaluator, a space, a strategy, an executor and a study, then runs ``nasbench.app.loop``.

Every plug-in is found in its registry and configured through its own declared options (``strategy_options``,
``evaluator_options``, ``executor_options``, ``space_options``): this module names no particular strategy, evaluator
or backend. Everything a user can get wrong (an unknown objective, metric or option, a value of the wrong type, several
objectives for a strategy that takes one) is checked before the store is opened, so bad input writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.storages import BaseStorage

import search_spaces
from nasbench.app.loop import CHECKPOINT_EVERY, MAX_DUPLICATES, SearchLoop
from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from nasbench.objectives import Objective, check_metrics, format_objectives, parse_objectives
from results.display import SearchProgress, print_summary
from results.store import DEFAULT_STORAGE, open_storage, open_study, storage_url, study_names
from results.summary import SearchResults
from search_spaces.base import SearchSpace
from strategies import STRATEGIES
from strategies.base import Strategy
from workers.base import Evaluator, get_evaluator
from workers.executor import get_executor

# The main job (``nasbench search --strategy evolution``): the graph space's 8 default seeds plus 12 evolved
# networks, 3 epochs each on digits, take about 4 minutes on 2 CPU cores (measured on a shared machine).
DEFAULT_BUDGET = 20
DEFAULT_EPOCHS = 3
DEFAULT_EVALUATOR = "train"
DEFAULT_DATASET = "digits"


def search(strategy: str = "evolution", space: str | SearchSpace = "graph", dataset: str | None = None,
           evaluator: str | Evaluator = DEFAULT_EVALUATOR, budget: int = DEFAULT_BUDGET, seed: int = 0,
           storage: str | BaseStorage | None = DEFAULT_STORAGE, study: str | None = None, table: str | None = None,
           workers: int | None = None, epochs: int | None = None, seeds: str | Sequence[str] = "all",
           max_params: int | None = None, max_macs: int | None = None,
           objectives: str | Sequence[str | Objective] | None = None,
           strategy_options: Mapping[str, Any] | None = None, progress: bool = True,
           max_duplicates: int = MAX_DUPLICATES, backend: str = "local",
           space_options: Mapping[str, Any] | None = None, evaluator_options: Mapping[str, Any] | None = None,
           executor_options: Mapping[str, Any] | None = None,
           checkpoint_every: int = CHECKPOINT_EVERY) -> SearchResults:
    """Run (or resume) a search and return its results (the Optuna study, best trials, leaderboard).

    ``dataset`` defaults to ``digits`` for the train evaluator; ``epochs`` is the evaluation fidelity (default 3 for
    training, the evaluator's own for a table). ``objectives`` is ``"metric:max,metric:min"`` or a list (default: the
    evaluator's); any metric the evaluator reports, and every candidate's analytic ``params`` and ``macs``, may be
    one. ``storage`` is an Optuna URL, ``"memory"`` or a storage object; ``backend`` names the executor and ``workers``
    how many evaluations it runs at once (the executor's ``workers`` option; others go through ``executor_options``).
    ``study`` defaults to ``<strategy>-<space>-<dataset or evaluator>-seed<seed>`` so that re-running the same call
    resumes exactly where it stopped. ``seeds`` is ``"all"``, ``"none"`` or seed names (comma-separated or a list).
    ``strategy_options`` are the strategy's declared options (``nasbench strategies`` lists them).
    """
    if budget < 1:
        raise NasbenchError(f"budget must be at least 1, got {budget}")
    if workers is not None and workers < 1:
        raise NasbenchError(f"workers must be at least 1, got {workers}")
    judge, dataset, epochs = make_evaluator(evaluator, dataset, table, epochs, evaluator_options)
    goals = parse_objectives(objectives) if objectives else judge.default_objectives()
    check_metrics(goals, judge.metrics, f"evaluator {judge.name!r}")
    input_shape, num_classes = tuple(judge.input_shape), int(judge.num_classes)
    the_space = search_spaces.get(space, input_shape=input_shape, num_classes=num_classes, **dict(space_options or {}))
    chosen_seeds = select_seeds(the_space.seeds(), seeds)
    given = dict(strategy_options or {})
    proposer = STRATEGIES.get(strategy)(the_space, goals, seed, budget, **given)
    executor_settings = {**({"workers": workers} if workers is not None else {}), **dict(executor_options or {})}
    executor = get_executor(backend, judge, **executor_settings)

    name = study or f"{strategy}-{the_space.name}-{dataset or judge.name}-seed{seed}"
    store = open_storage(storage)
    if name in study_names(store):
        proposer = resumed_strategy(store, name, strategy, proposer, given, the_space, goals, seed, budget)
    attrs = {"objective": goals[0].metric, "objectives": format_objectives(goals), "strategy": strategy,
             "space": the_space.name, "evaluator": judge.name, "dataset": dataset, "budget": budget, "seed": seed,
             "strategy_config": proposer.config}
    the_study = open_study(store, name, goals, attrs)
    loop = SearchLoop(the_study, the_space, proposer, judge, executor, goals, budget=budget, seed=seed,
                      fidelity=epochs, max_params=max_params, max_macs=max_macs, max_duplicates=max_duplicates,
                      checkpoint_every=checkpoint_every)
    with SearchProgress(budget, goals[0].metric, enabled=progress) as bar:
        stopped = loop.run(chosen_seeds, bar)
    results = SearchResults(the_study, storage_url(storage), goals, budget, stopped)
    if progress:
        print_summary(results)
    return results


def make_evaluator(evaluator: str | Evaluator, dataset: str | None, table: str | None, epochs: int | None,
                   options: Mapping[str, Any] | None) -> tuple[Evaluator, str | None, int | None]:
    """(evaluator, dataset, epochs): an evaluator object as given, or the registered one built with its options."""
    if isinstance(evaluator, Evaluator):
        return evaluator, dataset, epochs
    settings = dict(options or {})
    if evaluator == DEFAULT_EVALUATOR:
        dataset = dataset or DEFAULT_DATASET
        epochs = epochs or DEFAULT_EPOCHS
        # One torch thread per evaluation: the small networks of a CPU search gain little from intra-op threads,
        # and OpenMP threads competing with other processes for the cores slow training down by an order of magnitude.
        settings.setdefault("threads", 1)
    if dataset is not None:
        settings["dataset"] = dataset
    if table is not None:
        settings["table"] = table
    return get_evaluator(evaluator, **settings), dataset, epochs


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
    stored = attrs.get("strategy_config")
    if stored is None:
        return fresh  # written before configurations were stored: resumed by replay with the given options
    merged = {**stored, **{key: value for key, value in given.items() if value is not None}}
    resumed = STRATEGIES.get(strategy)(space, objectives, seed, budget, **merged)
    if resumed.config != stored:
        changed = sorted(key for key in resumed.config if resumed.config[key] != stored.get(key))
        raise NasbenchError(f"study {name!r} was searched with {strategy} options "
                            f"{', '.join(f'{key}={stored.get(key)!r}' for key in changed)}; resume it with the same "
                            "options or choose another --study")
    return resumed


def select_seeds(available: list[Architecture], choice: str | Sequence[str]) -> list[Architecture]:
    """The seeds named by ``choice``: ``all``, ``none``, or names (comma-separated text or a list), in that order."""
    if isinstance(choice, str):
        if choice == "all":
            return list(available)
        if choice in ("none", ""):
            return []
        choice = [part.strip() for part in choice.split(",") if part.strip()]
    by_name = {arch.name: arch for arch in available}
    unknown = [name for name in choice if name not in by_name]
    if unknown:
        raise NasbenchError(f"unknown seed(s) {', '.join(unknown)} (this space's seeds: "
                            f"{', '.join(by_name) or 'none'})")
    return [by_name[name] for name in choice]
