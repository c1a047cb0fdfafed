"""The search loop: seeds first, then a strategy's proposals, evaluated, deduplicated and stored in an Optuna study.

``search(...)`` is the Python twin of ``nasbench search``. The loop:

1. opens (or creates) the study; a study that already holds trials is resumed: RUNNING trials left by a killed run
   are marked FAIL (stale) and their candidates queued again, and every finished trial is replayed into the strategy
   (told in trial order), whose random stream is then restarted from (seed, trials replayed);
2. evaluates the selected seeds of the space (``space.seeds()``) and tells them to the strategy before it is asked;
3. asks the strategy for candidates, keeping ``workers`` evaluations in flight (steady state): whenever one finishes
   it is stored, told, and a new candidate is asked for.

Budget: the number of distinct architectures evaluated in the study, seeds and failures included (a candidate over
``max_params`` / ``max_macs``, or one whose evaluation raised or diverged, is a FAIL trial that counts). A proposal
whose canonical hash the study already holds is not evaluated again and uses no budget: the strategy is told the stored
result and asked again; after ``max_duplicates`` duplicates in a row the search stops early (the strategy converged).
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nasbench.architecture import Architecture
from nasbench.errors import GenomeError, NasbenchError
from nasbench.hashing import architecture_hash
from results.store import DEFAULT_STORAGE

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage

    from results.summary import SearchResults
    from search_spaces.base import SearchSpace
    from strategies.base import Candidate, Strategy
    from workers.base import Evaluator, Result

# The main job (``nasbench search --strategy evolution``): the graph space's 8 default seeds plus 12 evolved
# networks, 3 epochs each on digits, take about 4 minutes on 2 CPU cores (measured on a shared machine).
DEFAULT_BUDGET = 20
DEFAULT_EPOCHS = 3
MAX_DUPLICATES = 100


def search(strategy: str = "evolution", space: str | SearchSpace = "graph", dataset: str | None = None,
           evaluator: str | Evaluator = "train",
           budget: int = DEFAULT_BUDGET, seed: int = 0, storage: str | BaseStorage | None = DEFAULT_STORAGE,
           study: str | None = None, table: str | None = None, workers: int = 1, epochs: int | None = None,
           seeds: str | Sequence[str] = "all", max_params: int | None = None, max_macs: int | None = None,
           population: int | None = None, tournament: int | None = None,
           mutations_schedule: str | Sequence[float] | None = None, remove: str = "oldest", progress: bool = True,
           max_duplicates: int = MAX_DUPLICATES, backend: str = "local", space_options: dict[str, Any] | None = None,
           evaluator_options: dict[str, Any] | None = None) -> SearchResults:
    """Run (or resume) a search and return its results (the Optuna study, best trial, leaderboard).

    ``dataset`` defaults to ``digits`` for the train evaluator; ``epochs`` is the evaluation fidelity (default 3 for
    training, the evaluator's own for a table). ``storage`` is an Optuna URL, ``"memory"`` or a storage object;
    ``backend`` names the executor (``local``: in-process for one worker, a process pool for ``workers`` > 1).
    ``study`` defaults to ``<strategy>-<space>-<dataset or evaluator>-seed<seed>`` so that re-running the same call
    resumes. ``seeds`` is ``"all"``, ``"none"`` or seed names (comma-separated or a list). ``population``,
    ``tournament``, ``mutations_schedule`` (``"d,r"``) and ``remove`` configure ``evolution`` (defaults from
    ``strategies.evolution.default_population``).
    """
    from results.display import SearchProgress, print_summary
    from results.store import open_storage, open_study, storage_url
    from results.summary import SearchResults
    from strategies import get as get_strategy
    from strategies.evolution import default_population
    from workers.base import Evaluator, get_evaluator

    if budget < 1:
        raise NasbenchError(f"budget must be at least 1, got {budget}")
    if workers < 1:
        raise NasbenchError(f"workers must be at least 1, got {workers}")
    options = dict(evaluator_options or {})
    if evaluator == "train":
        dataset = dataset or "digits"
        epochs = epochs or DEFAULT_EPOCHS
        # One torch thread per evaluation: the small networks of a CPU search gain little from intra-op threads,
        # and OpenMP threads competing with other processes for the cores slow training down by an order of magnitude.
        options.setdefault("threads", 1)
    if dataset is not None:
        options["dataset"] = dataset
    if table is not None:
        options["table"] = table
    judge = evaluator if isinstance(evaluator, Evaluator) else get_evaluator(evaluator, **options)
    input_shape, num_classes = task_shape(judge)

    import search_spaces

    the_space = search_spaces.get(space, input_shape=input_shape, num_classes=num_classes, **(space_options or {}))
    strategy_options: dict[str, Any] = {"seed": seed, "objective": judge.objective, "direction": judge.direction}
    if strategy == "evolution":
        default_p, default_s = default_population(budget)
        strategy_options.update(population=population or default_p, tournament=tournament or default_s,
                                mutations_schedule=mutations_schedule, remove=remove)
    elif population or tournament or mutations_schedule or remove != "oldest":
        raise NasbenchError(f"population, tournament, mutations_schedule and remove are options of the evolution "
                            f"strategy, not of {strategy!r}")
    proposer = get_strategy(strategy, the_space, **strategy_options)

    name = study or f"{strategy}-{the_space.name}-{dataset or judge.name}-seed{seed}"
    store = open_storage(storage)
    attrs = {"objective": judge.objective, "strategy": strategy, "space": the_space.name, "evaluator": judge.name,
             "dataset": dataset, "budget": budget, "seed": seed}
    the_study = open_study(store, name, judge.direction, attrs)
    loop = SearchLoop(the_study, the_space, proposer, judge, budget=budget, seed=seed, fidelity=epochs,
                      workers=workers, max_params=max_params, max_macs=max_macs, max_duplicates=max_duplicates,
                      backend=backend)
    with SearchProgress(budget, judge.objective, enabled=progress) as bar:
        stopped = loop.run(select_seeds(the_space.seeds(), seeds), bar)
    results = SearchResults(the_study, storage_url(storage), judge.objective, budget, stopped)
    if progress:
        print_summary(results)
    return results


def task_shape(evaluator: Evaluator) -> tuple[tuple[int, ...], int]:
    """(input shape, number of classes) of the evaluator's task: its dataset's, or its declared ones (tables)."""
    data = getattr(evaluator, "data", None)
    if data is not None:
        return tuple(data.input_shape), int(data.num_classes)
    return tuple(getattr(evaluator, "input_shape", (3, 32, 32))), int(getattr(evaluator, "num_classes", 10))


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


Measured = tuple[str, int | None, int | None, str | None]
_MEASURED: dict[str, Measured] = {}
_MEASURED_LIMIT = 100_000


def measure(genome: str, arch: Architecture) -> Measured:
    """(hash, params, MACs, error) of ``arch`` whose genome JSON is ``genome``, memoized in this process.

    Strategies propose the same genomes again and again (duplicates, and every run of a benchmark in one process), and
    lowering dominates the cost of a table lookup; the memo is keyed by a digest of the genome text.
    """
    key = hashlib.sha256(genome.encode()).hexdigest()
    found = _MEASURED.get(key)
    if found is None:
        try:
            lowered = arch.lower()
            found = (architecture_hash(lowered), lowered.params, lowered.macs, None)
        except GenomeError as error:
            found = (f"invalid-{key[:24]}", None, None, f"invalid architecture: {error}")
        if len(_MEASURED) >= _MEASURED_LIMIT:
            _MEASURED.clear()
        _MEASURED[key] = found
    return found


@dataclass
class Prepared:
    """A candidate ready to store: genome JSON, canonical hash, size, or why it cannot be built."""

    genome: str
    hash: str
    params: int | None
    macs: int | None
    error: str | None


class SearchLoop:
    """One search over an open study: resume, seeds, then ask/evaluate/store/tell with ``workers`` in flight."""

    def __init__(self, study: optuna.Study, space: SearchSpace, strategy: Strategy, evaluator: Evaluator, budget: int,
                 seed: int = 0,
                 fidelity: int | None = None, workers: int = 1, max_params: int | None = None,
                 max_macs: int | None = None, max_duplicates: int = MAX_DUPLICATES, backend: str = "local") -> None:
        from results.store import TrialWriter

        self.study, self.space, self.strategy, self.evaluator = study, space, strategy, evaluator
        self.budget, self.seed, self.fidelity, self.workers = budget, seed, fidelity, workers
        self.max_params, self.max_macs, self.max_duplicates = max_params, max_macs, max_duplicates
        self.backend = backend
        self.writer = TrialWriter(study, evaluator.objective)
        self.choices = space.variables()
        self.known: dict[str, Result] = {}  # hash -> stored result, over the whole study
        self.evaluated = 0
        self.best: float | None = None

    def run(self, seeds: list[Architecture], bar: Any) -> str | None:
        """Resume, evaluate the seeds, then search until the budget is used; returns why it stopped early, if so."""
        from strategies.base import Candidate
        from workers.base import Result

        requeued = self.resume()
        bar.update(self.evaluated, self.best)
        queue: deque[tuple[Candidate, bool]] = deque()
        queue.extend((Candidate(arch, {"origin": "seed", "seed": arch.name}), True) for arch in seeds)
        queue.extend((candidate, False) for candidate in requeued)
        pending: dict[Any, tuple[Any, Candidate, Prepared, bool]] = {}
        running: set[str] = set()
        duplicates = 0
        stopped = None
        with self.executor() as pool:
            while True:
                while stopped is None and len(pending) < self.workers and self.evaluated + len(pending) < self.budget:
                    seeds_pending = any(is_seed for *_, is_seed in pending.values())
                    if queue:
                        candidate, is_seed = queue.popleft()
                    elif seeds_pending:
                        break  # seeds are told before the strategy is first asked
                    else:
                        candidate, is_seed = self.strategy.ask(), False
                    prepared = self.prepare(candidate)
                    candidate.info["hash"] = prepared.hash
                    if prepared.hash in self.known or prepared.hash in running:
                        if is_seed:
                            continue
                        duplicates += 1
                        if prepared.hash in self.known:
                            self.strategy.tell(candidate, self.known[prepared.hash])
                        if duplicates >= self.max_duplicates:
                            stopped = f"{duplicates} duplicate proposals in a row: the strategy has converged"
                        continue
                    duplicates = 0
                    handle = self.writer.start(self.attrs(candidate, prepared), *self.encoding(candidate.arch))
                    reason = prepared.error or self.over_limits(prepared)
                    if reason is not None:
                        self.finish(handle, candidate, prepared, Result.failure(reason), bar)
                        continue
                    job = pool.submit(candidate.arch, self.fidelity, self.seed)
                    pending[job] = (handle, candidate, prepared, is_seed)
                    running.add(prepared.hash)
                if not pending:
                    break
                job, result = pool.wait_any(list(pending))
                handle, candidate, prepared, _ = pending.pop(job)
                running.discard(prepared.hash)
                self.finish(handle, candidate, prepared, result, bar)
        return stopped

    def resume(self) -> list[Candidate]:
        """Fail stale RUNNING trials and replay finished ones into the strategy; returns the candidates to redo."""
        from results.store import evaluated_trials

        stale = self.writer.fail_stale("interrupted: the search stopped while this evaluation ran; evaluated again")
        replayed = 0
        for trial in evaluated_trials(self.study):
            candidate, result = self.restore(trial)
            self.known[candidate.info["hash"]] = result
            self.strategy.tell(candidate, result)
            self.evaluated += 1
            replayed += 1
            self.track(result)
        if replayed:
            self.strategy.reseed(replayed)
        requeued, seen = [], set(self.known)
        for trial in stale:
            candidate, _ = self.restore(trial)
            if candidate.info["hash"] not in seen and candidate.info.get("origin") != "seed":
                seen.add(candidate.info["hash"])
                requeued.append(candidate)
        return requeued

    def restore(self, trial: Any) -> tuple[Candidate, Result]:
        """The candidate and result a stored trial holds."""
        from strategies.base import Candidate
        from workers.base import FAIL, OK, Result

        attrs = trial.user_attrs
        arch = Architecture.from_json(attrs["genome"])
        info = {key: attrs[key] for key in ("origin", "parent", "mutations", "hash") if attrs.get(key) is not None}
        if attrs.get("seed_name"):
            info["seed"] = attrs["seed_name"]
        outcome = attrs.get("outcome") or {}
        ok = trial.state.name == "COMPLETE"
        stored = outcome.get("metrics") or {}
        metrics = {key: float("nan") if value is None else value for key, value in stored.items()}
        result = Result(OK if ok else FAIL, metrics, list(outcome.get("curve") or []), outcome.get("seconds", 0.0),
                        None if ok else outcome.get("error", "failed"))
        return Candidate(arch, info), result

    def prepare(self, candidate: Candidate) -> Prepared:
        """Genome JSON, hash, parameters and MACs from one lowering (memoized by genome)."""
        genome = candidate.arch.to_json(indent=None)
        return Prepared(genome, *measure(genome, candidate.arch))

    def over_limits(self, prepared: Prepared) -> str | None:
        """Why the candidate exceeds ``max_params`` / ``max_macs`` (None if it does not)."""
        if self.max_params is not None and prepared.params is not None and prepared.params > self.max_params:
            return f"too large: {prepared.params:,} parameters > max_params {self.max_params:,}"
        if self.max_macs is not None and prepared.macs is not None and prepared.macs > self.max_macs:
            return f"too large: {prepared.macs:,} MACs > max_macs {self.max_macs:,}"
        return None

    def attrs(self, candidate: Candidate, prepared: Prepared) -> dict[str, Any]:
        """The user attributes a trial starts with."""
        info = candidate.info
        return {"genome": prepared.genome, "hash": prepared.hash, "name": candidate.arch.name,
                "params": prepared.params, "macs": prepared.macs, "strategy": self.strategy.name,
                "origin": info.get("origin"), "parent": info.get("parent"), "mutations": info.get("mutations"),
                "seed_name": info.get("seed"), "fidelity": self.fidelity}

    def encoding(self, arch: Architecture) -> tuple[dict[str, Any] | None, dict[str, list[Any]] | None]:
        """(params, choices) of the space's flat encoding, or (None, None) for open-ended spaces."""
        if self.choices is None:
            return None, None
        try:
            return self.space.encode(arch), self.choices
        except (NasbenchError, NotImplementedError, KeyError):
            return None, None

    def finish(self, handle: Any, candidate: Candidate, prepared: Prepared, result: Result, bar: Any) -> None:
        """Store the result, tell the strategy, count it against the budget."""
        self.writer.finish(handle, result.ok, result.metrics, result.curve, result.seconds, result.error)
        self.known[prepared.hash] = result
        self.strategy.tell(candidate, result)
        self.evaluated += 1
        self.track(result)
        bar.update(self.evaluated, self.best)

    def track(self, result: Result) -> None:
        """Follow the best objective so far."""
        value = result.value(self.evaluator.objective, self.evaluator.direction)
        if not math.isfinite(value):
            return
        if self.best is None or (value > self.best) == (self.evaluator.direction == "maximize"):
            self.best = value

    def executor(self) -> Any:
        """The backend's executor (``local``: in-process for one worker, a process pool for more)."""
        from workers.executor import get_executor

        return get_executor(self.backend, self.evaluator, workers=self.workers)
