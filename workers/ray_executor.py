"""The ``ray`` executor: every evaluation is a Ray Tune trial, on this machine's or a cluster's CPUs and GPUs.

The search loop stays the driver: it submits candidates and waits for results as with the local executor, and the
Optuna study stays the one record of the search. Underneath, one Tune experiment runs for the executor's lifetime in
a background thread. Its searcher (``SubmittedJobs``) hands Tune the submitted candidates in order, one trial each;
Tune places each trial on a worker with ``cpus_per_trial``/``gpus_per_trial`` (a fractional GPU packs several small
candidates on one device), retries a trial whose worker died up to ``max_failures`` times, and with
``scheduler="asha"`` stops candidates early on their per-epoch validation curve (Tune's ASHA). A callback
(``TrialOutcomes``) turns each finished trial back into a Result: OK or FAIL as the evaluator said, FAIL with Ray's
reason after the last retry, PRUNED with its curve when ASHA stopped it.

Without ``address`` a local Ray starts with the machine's resources (bound to 127.0.0.1 when the environment says so,
see the README) and is shut down by ``close``; ``address="auto"`` or ``"ray://host:10001"`` joins a running cluster,
which is left running.

A one-shot strategy's supernet search (``run_task``) is one more trial of the same experiment, with one evaluation's
resources: its epochs come back to the driver's journal and progress bar as it trains, a worker that dies is
retried (the job continues from its last checkpoint, in the search's folder, which a cluster's nodes must share),
and ASHA never stops it (its reports carry no epoch metric).
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import pickle
import queue
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Any

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError, error_line
from nasbench.objectives import Objective
from workers.base import PRUNED, Evaluator, Result
from workers.executor import Executor, Finished, Job, register_executor, safe_evaluate
from workers.schedulers import early_stopping

IDLE_WAIT_SECONDS = 0.9  # under the second Tune sleeps when its searcher has nothing to suggest
PROBE_SECONDS = 5.0  # to reach a cluster's address before Ray is asked to join it
RAY_MISSING = "the ray backend needs Ray Tune: pip install 'nasbench[ray]'"
FINAL = "nasbench_result"  # the key of a trial's last report: the evaluation's Result as JSON
EPOCH = "nasbench_epoch"  # the key of each epoch's report: the evaluator's curve entry as JSON
PROGRESS = "nasbench_progress"  # the key of a task's records, as JSON
OUTCOME = "nasbench_outcome"  # the key of a task's last report: its return value or exception, pickled
# Tune logs every trial's results to files and reports trials on the terminal; the Optuna study is the record of a
# search and its progress bar the display, so those only cost (a failure's reason is in its Result).
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the legacy reporter, which verbose=0 silences
# A candidate that fails before its first epoch reports no metric: a FAIL Result, not an error of the experiment.
os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
TUNE_LOGGERS = ("ray.tune", "ray.train")


def _ray() -> tuple[Any, Any]:
    try:
        import ray
        from ray import tune
    except ImportError:
        raise NasbenchError(RAY_MISSING) from None
    return ray, tune


def run_trial(config: dict[str, Any], evaluator: Evaluator) -> None:
    """A Tune function trainable: evaluate the candidate in ``config``, reporting each epoch, then the Result.

    A ``config`` with a ``task`` runs that task instead (``run_task_trial``).
    """
    from ray import tune

    if "task" in config:
        run_task_trial(config)
        return
    job = Job(config["job"], None, Architecture.from_json(config["genome"]), config["fidelity"], config["seed"])
    evaluator.setup()
    reported: dict[str, Any] = {"epoch": 0}

    def report(entry: dict[str, float]) -> None:
        epoch = int(entry.get("epoch", reported["epoch"] + 1))
        reported.clear()
        reported.update(entry, epoch=epoch)
        tune.report({**reported, EPOCH: json.dumps(entry)})

    result = safe_evaluate(evaluator, job, on_epoch=report)
    # The last epoch's numbers again, so that a scheduler reading them finds its metric in every report.
    tune.report({**reported, FINAL: json.dumps(result_to_dict(result))})


def run_task_trial(config: dict[str, Any]) -> None:
    """Run the pickled task in ``config``, reporting its records, then its return value or its exception."""
    from ray import cloudpickle, tune

    task = cloudpickle.loads(base64.b64decode(config["payload"]))
    try:
        outcome: tuple[str, Any] = ("returned", task(lambda record: tune.report({PROGRESS: json.dumps(record)})))
    except Exception as error:  # noqa: BLE001 -- raised again on the driver, as an in-process task's would be
        outcome = ("raised", error)
    try:
        packed = _pack(outcome)
    except Exception as error:  # noqa: BLE001 -- an outcome that cannot travel is said in words
        packed = _pack(("raised", NasbenchError(f"the task's outcome cannot be sent back: {error}")))
    tune.report({OUTCOME: packed})


def _pack(value: Any) -> str:
    from ray import cloudpickle

    return base64.b64encode(cloudpickle.dumps(value)).decode("ascii")


def _unpack(text: str) -> Any:
    from ray import cloudpickle

    return cloudpickle.loads(base64.b64decode(text))


def result_to_dict(result: Result) -> dict[str, Any]:
    """A Result as plain data (JSON-ready; non-finite numbers become None)."""
    def clean(value: float) -> float | None:
        return value if math.isfinite(value) else None

    return {"status": result.status, "metrics": {key: clean(float(v)) for key, v in result.metrics.items()},
            "curve": [{key: clean(float(v)) for key, v in entry.items()} for entry in result.curve],
            "seconds": result.seconds, "error": result.error}


def result_from_dict(data: dict[str, Any]) -> Result:
    """The Result ``result_to_dict`` wrote (None numbers back to NaN)."""
    def number(value: float | None) -> float:
        return math.nan if value is None else float(value)

    return Result(data["status"], {key: number(v) for key, v in data["metrics"].items()},
                  [{key: number(v) for key, v in entry.items()} for entry in data["curve"]], float(data["seconds"]),
                  data["error"])


class Channel:
    """What passes between an executor and its Tune experiment: submitted candidates, finished Results, closing.

    Tune pickles its searcher, callbacks and stopper with the experiment state; they hold the channel's name and
    find it in ``CHANNELS``, so that nothing of the driver's threads is pickled.
    """

    def __init__(self) -> None:
        self.name = uuid.uuid4().hex
        self.waiting: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.finished: queue.SimpleQueue[tuple[int, Result]] = queue.SimpleQueue()
        self.tasks: dict[int, queue.SimpleQueue[tuple[str, Any]]] = {}  # task -> its records, then its end
        self.closed = threading.Event()
        self.in_tune = 0  # configs handed to Tune whose trial has not ended


CHANNELS: dict[str, Channel] = {}


def channel_named(name: str) -> Channel | None:
    """The open channel called ``name`` (None once its executor closed).

    Tune's objects call this rather than read ``CHANNELS``: cloudpickle pickles a class made at run time by value,
    with the globals it reads, but a module's function by reference.
    """
    return CHANNELS.get(name)


def _searcher_class() -> type:
    from ray.tune.search import Searcher

    class JobSearcher(Searcher):
        """Suggests the submitted candidates in order; ``None`` (ask again later) while none waits."""

        def __init__(self, channel: str) -> None:
            super().__init__()
            self.channel = channel

        def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
            channel = channel_named(self.channel)
            if channel is None or channel.closed.is_set():
                return Searcher.FINISHED
            try:
                # With nothing running, Tune sleeps a second after every empty answer: wait here for the loop's
                # next candidate instead, which comes as soon as it has stored the last result.
                config = (channel.waiting.get(timeout=IDLE_WAIT_SECONDS) if channel.in_tune == 0
                          else channel.waiting.get_nowait())
            except queue.Empty:
                return None
            channel.in_tune += 1
            return config

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            """Outcomes are read by ``TrialOutcomes``, which also sees why a trial failed."""

    return JobSearcher


def _callback_class() -> type:
    from ray.tune import Callback

    class TrialOutcomes(Callback):
        """Turns finished trials into ``(job id, Result)`` on a queue, with their curves."""

        def __init__(self, channel: str) -> None:
            self.channel = channel
            self.curves: dict[str, list[dict[str, float]]] = {}

        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
            if EPOCH in result:
                self.curves.setdefault(trial.trial_id, []).append(json.loads(result[EPOCH]))
            elif PROGRESS in result:
                _tell_task(self.channel, trial.config["task"], "progress", json.loads(result[PROGRESS]))

        def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.curves.pop(trial.trial_id, None)  # the retry trains from its first epoch again

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            last = trial.last_result or {}
            if "task" in trial.config:
                _end_task(self.channel, trial.config["task"], "outcome", last.get(OUTCOME))
                return
            curve = self.curves.pop(trial.trial_id, [])
            if FINAL in last:
                result = result_from_dict(json.loads(last[FINAL]))
            else:
                reached = int(curve[-1].get("epoch", len(curve))) if curve else 0
                result = Result(PRUNED, dict(curve[-1]) if curve else {}, curve, 0.0,
                                f"stopped early by ASHA after epoch {reached}")
            _deliver(self.channel, trial.config["job"], result)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            if "task" in trial.config:
                _end_task(self.channel, trial.config["task"], "failed", _failure_reason(trial))
                return
            curve = self.curves.pop(trial.trial_id, [])
            _deliver(self.channel, trial.config["job"], Result.failure(_failure_reason(trial), 0.0, curve))

    return TrialOutcomes


def trial_name(trial: Any) -> str:
    """A trial's name and folder: its job or task (Tune's default spells the whole config, genome included)."""
    config = trial.config
    return f"job{config['job']}_{trial.trial_id}" if "job" in config else f"task{config['task']}_{trial.trial_id}"


def _deliver(channel: str, job: int, result: Result) -> None:
    found = channel_named(channel)
    if found is not None:  # else the executor closed and dropped its unfinished evaluations
        found.in_tune -= 1
        found.finished.put((job, result))


def _tell_task(channel: str, task: int, kind: str, value: Any) -> None:
    found = channel_named(channel)
    box = found.tasks.get(task) if found is not None else None
    if box is not None:
        box.put((kind, value))


def _end_task(channel: str, task: int, kind: str, value: Any) -> None:
    found = channel_named(channel)
    if found is not None:
        found.in_tune -= 1
        _tell_task(channel, task, kind, value)


def _failure_reason(trial: Any) -> str:
    # Tune writes a failed trial's exception beside the trial on the driver (the error file holds every attempt's).
    from ray.exceptions import RayActorError, WorkerCrashedError

    text, died = "", False
    try:
        if trial.pickled_error_file and os.path.exists(trial.pickled_error_file):
            with open(trial.pickled_error_file, "rb") as file:
                error = pickle.load(file)
            died, text = isinstance(error, (RayActorError, WorkerCrashedError)), str(error)
        elif trial.error_file and os.path.exists(trial.error_file):
            with open(trial.error_file) as file:
                text = file.read()
    except Exception:  # noqa: BLE001 -- the reason is best effort; the failure itself is certain
        text = ""
    detail = next((line.strip() for line in text.splitlines() if "exit detail" in line.lower()), "")
    last = next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "no reason recorded")
    detail = detail or last
    what = "worker process died during the evaluation" if died else "trial failed"
    return f"{what}, {trial.num_failures} attempt(s) (Ray: {detail[:160]})"


@register_executor("ray")
class RayExecutor(Executor):
    """Evaluations as Ray Tune trials: fractional GPUs, ASHA early stopping, retries of dead workers.

    Options: ``address`` (None: start a local Ray; ``auto`` or ``ray://host:port``: join a cluster),
    ``cpus_per_trial``, ``gpus_per_trial`` (fractional packs trials on one GPU), ``max_concurrent`` (alias
    ``workers``; default: as many trials as the cluster's resources hold), ``scheduler`` (``fifo`` or ``asha``),
    ``grace_period`` and ``reduction_factor`` (ASHA's, in epochs), ``max_failures`` (retries of a trial whose worker
    died), ``num_cpus``/``num_gpus`` (resources of a local Ray; default: the machine's).
    """

    contract_variants = ({"num_cpus": 2, "max_concurrent": 2, "max_failures": 0},)

    def __init__(self, evaluator: Evaluator, address: str | None = None, cpus_per_trial: float = 1.0,
                 gpus_per_trial: float = 0.0, max_concurrent: int | None = None, workers: int | None = None,
                 scheduler: str = "fifo", grace_period: int = 1, reduction_factor: int = 4, max_failures: int = 3,
                 num_cpus: int | None = None, num_gpus: int | None = None) -> None:
        super().__init__(evaluator)
        ray, _ = _ray()
        self._stopping = early_stopping(evaluator, scheduler, grace_period, reduction_factor)
        for what, value, least in (("cpus_per_trial", cpus_per_trial, 0.0), ("gpus_per_trial", gpus_per_trial, 0.0),
                                   ("max_failures", max_failures, 0)):
            if value < least:
                raise NasbenchError(f"{what} must be at least {least}, got {value}")
        concurrent = max_concurrent if max_concurrent is not None else workers
        if concurrent is not None and concurrent < 1:
            raise NasbenchError(f"max_concurrent must be at least 1, got {concurrent}")
        for name in TUNE_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self._ray = ray
        self._started_ray = not ray.is_initialized()
        if self._started_ray:
            _start_ray(ray, address, num_cpus, num_gpus)
        resources = ray.cluster_resources()
        cpus, gpus = float(resources.get("CPU", 0.0)), float(resources.get("GPU", 0.0))
        if gpus_per_trial > gpus:
            self._shutdown()
            raise NasbenchError(f"gpus_per_trial {gpus_per_trial:g} is more than the cluster's {gpus:g} GPU(s)")
        if cpus_per_trial > cpus:
            self._shutdown()
            raise NasbenchError(f"cpus_per_trial {cpus_per_trial:g} is more than the cluster's {cpus:g} CPU(s)")
        fits = [math.floor(cpus / cpus_per_trial + 1e-9) if cpus_per_trial else math.inf,
                math.floor(gpus / gpus_per_trial + 1e-9) if gpus_per_trial else math.inf]
        held = min(fits)
        self._capacity = int(concurrent if concurrent is not None else (held if math.isfinite(held) else cpus or 1))
        self._resources = {"cpu": cpus_per_trial, "gpu": gpus_per_trial}
        self._max_failures = max_failures
        self._channel = Channel()
        CHANNELS[self._channel.name] = self._channel
        self._tags: dict[int, Any] = {}
        self._done: dict[int, Result] = {}
        self._tasks = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None  # Tune's experiment, started by the first submission

    def _start(self) -> None:
        """Start the Tune experiment (once the search's objectives are known, which ASHA judges on)."""
        if self._thread is not None:
            return
        _, tune = _ray()
        stopping = self._stopping
        schedule = (tune.schedulers.ASHAScheduler(time_attr="epoch", metric=stopping.target.metric,
                                                  mode=stopping.target.direction[:3],  # Tune's "max"/"min"
                                                  grace_period=stopping.grace_period,
                                                  reduction_factor=stopping.reduction_factor, max_t=10**6)
                    if stopping is not None else None)
        trainable = tune.with_resources(tune.with_parameters(run_trial, evaluator=self.evaluator), self._resources)
        self._folder = tempfile.mkdtemp(prefix="nasbench-ray-")
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(search_alg=_searcher_class()(self._channel.name), scheduler=schedule,
                                        num_samples=-1, max_concurrent_trials=self._capacity, reuse_actors=True,
                                        trial_name_creator=trial_name, trial_dirname_creator=trial_name),
            run_config=tune.RunConfig(storage_path=self._folder, name="nasbench", verbose=0,
                                      failure_config=tune.FailureConfig(max_failures=self._max_failures),
                                      stop=_stopper(self._channel.name),
                                      callbacks=[_callback_class()(self._channel.name)]))
        self._thread = threading.Thread(target=self._fit, args=(tuner,), name="nasbench-tune", daemon=True)
        self._thread.start()

    def _fit(self, tuner: Any) -> None:
        try:
            tuner.fit()
        except BaseException as error:  # noqa: BLE001 -- surfaced to the driver by wait_any and run_task
            self._error = error

    def _check(self, waiting: queue.SimpleQueue) -> None:
        """Raise if the Tune experiment stopped (with an error, or while ``waiting`` still expects something)."""
        if self._error is not None:
            raise NasbenchError(f"Ray Tune stopped: {self._error}") from self._error
        if self._thread is not None and not self._thread.is_alive() and waiting.empty():
            raise NasbenchError("Ray Tune stopped before the work submitted to it finished")

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def isolated(self) -> bool:
        return True

    @property
    def pending(self) -> int:
        return len(self._tags)

    def use_objectives(self, objectives: Sequence[Objective]) -> None:
        """ASHA judges candidates on the first of ``objectives`` their curve reports."""
        if self._stopping is not None:
            self._stopping.use_objectives(objectives)

    def _enqueue(self, job: Job) -> None:
        self._start()
        self._tags[job.id] = job.tag
        self._channel.waiting.put({"job": job.id, "genome": job.arch.to_json(indent=None), "fidelity": job.fidelity,
                                   "seed": job.seed})

    def run_task(self, task: Callable[[Callable[[dict[str, Any]], None]], Any],
                 report: Callable[[dict[str, Any]], None]) -> Any:
        """Run ``task`` as one trial with one evaluation's resources, passing its records to ``report`` here."""
        self._start()
        number, self._tasks = self._tasks, self._tasks + 1
        box: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._channel.tasks[number] = box
        self._channel.waiting.put({"task": number, "payload": _pack(task)})
        try:
            while True:
                self._check(box)
                try:
                    kind, value = box.get(timeout=0.5)
                except queue.Empty:
                    continue
                if kind == "progress":
                    report(value)
                elif kind == "failed":
                    raise NasbenchError(f"the training job failed on Ray: {value}")
                elif value is None:
                    raise NasbenchError("the training job was stopped before it finished")
                else:
                    how, outcome = _unpack(value)
                    if how == "raised":
                        raise outcome
                    return outcome
        finally:
            self._channel.tasks.pop(number, None)

    def wait_any(self, handles: Collection[int] | None = None, timeout: float | None = None) -> Finished | None:
        wanted = [job for job in self._tags if handles is None or job in handles]
        if not wanted:
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ready = next((job for job in wanted if job in self._done), None)
            if ready is not None:
                return self._tags.pop(ready), self._done.pop(ready)
            self._check(self._channel.finished)
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            try:
                job, result = self._channel.finished.get(timeout=0.5 if left is None else min(left, 0.5))
            except queue.Empty:
                continue
            if job in self._tags:
                self._done[job] = result

    def close(self) -> None:
        self._channel.closed.set()
        self._tags.clear()
        self._done.clear()
        if self._thread is not None:
            self._thread.join(timeout=60)
        CHANNELS.pop(self._channel.name, None)
        self._shutdown()

    def _shutdown(self) -> None:
        if self._started_ray and self._ray.is_initialized():
            self._ray.shutdown()


def _start_ray(ray: Any, address: str | None, num_cpus: int | None, num_gpus: int | None) -> None:
    # Workers of a local Ray import what the driver imports (a user's evaluator or space defined beside the
    # script, the tests' helpers), as a pool worker spawned by the local executor does.
    path = os.pathsep.join(entry for entry in sys.path if entry)
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:
        # "local": a new Ray of this process's own, even where `ray start` left a cluster's address behind.
        options |= {"address": "local", "num_cpus": num_cpus, "num_gpus": num_gpus,
                    "runtime_env": {"env_vars": {"PYTHONPATH": path}}}
    else:
        _probe(address)
        options["address"] = address
    try:
        ray.init(**options)
    except Exception as error:  # noqa: BLE001 -- any failure to reach a cluster is the same bad input
        raise NasbenchError(f"cannot connect to Ray at {address!r}: {error_line(error)}") from None


def _probe(address: str) -> None:
    # Ray retries an unreachable cluster for minutes; a refused or silent port is bad input, said at once.
    target = address.removeprefix("ray://")
    if target == "auto":
        target = os.environ.get("RAY_ADDRESS", "")
        current = os.path.join(tempfile.gettempdir(), "ray", "ray_current_cluster")
        if not target and os.path.exists(current):
            with open(current) as file:
                target = file.read().strip()
        if not target:
            raise NasbenchError("cannot connect to Ray at 'auto': no running cluster found (start one with ray start "
                                "--head, or set RAY_ADDRESS)")
    host, _, port = target.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=PROBE_SECONDS):
            pass
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise NasbenchError(f"cannot connect to Ray at {address!r}: {reason}") from None


def _stopper(channel: str) -> Any:
    from ray.tune import Stopper

    class Closed(Stopper):
        """Stops every trial once the executor is closed (unfinished evaluations are dropped)."""

        def __init__(self, channel: str) -> None:
            self.channel = channel

        def closed(self) -> bool:
            found = channel_named(self.channel)
            return found is None or found.closed.is_set()

        def __call__(self, trial_id: str, result: dict) -> bool:
            return self.closed()

        def stop_all(self) -> bool:
            return self.closed()

    return Closed(channel)
