"""Executors run evaluations: ``submit`` candidates, then ``wait_any`` for whichever finishes first.

The interface serves a steady-state (asynchronous) search: keep ``capacity`` evaluations in flight, and each time one
finishes, tell the strategy and submit the next. ``local`` runs in this process (``workers=1``, lazily: an evaluation
runs inside ``wait_any``) or in a pool of spawned worker processes (``workers=N``), each with ``cores // N`` torch
threads so the pool does not oversubscribe the machine. A worker that dies (killed, segfault, out of memory) or runs
past ``timeout`` turns its evaluation into a FAIL Result and is replaced; the search goes on.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from multiprocessing import connection, get_context
from multiprocessing.context import SpawnProcess
from typing import Any

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from nasbench.objectives import Objective
from nasbench.registry import Registry
from workers.base import Evaluator, Result
from workers.schedulers import early_stopping
from workers.successive_halving import SuccessiveHalving

Finished = tuple[Any, Result]  # (tag, result) of a finished evaluation


@dataclass
class Job:
    """One submitted evaluation."""

    id: int
    tag: Any
    arch: Architecture
    fidelity: int | None
    seed: int


def safe_evaluate(evaluator: Evaluator, job: Job,
                  on_epoch: Callable[[dict[str, float]], None] | None = None) -> Result:
    """``evaluator.evaluate`` for ``job`` (its curve to ``on_epoch`` as it goes); an evaluator's bug is a FAIL."""
    started = time.perf_counter()
    try:
        if on_epoch is None:
            return evaluator.evaluate(job.arch, job.fidelity, job.seed)
        return evaluator.evaluate_with_curve(job.arch, job.fidelity, job.seed, on_epoch)
    except Exception as error:  # noqa: BLE001 -- an evaluation never takes the search down
        return Result.failure(f"{type(error).__name__}: {error}", time.perf_counter() - started)


class Executor(ABC):
    """Runs an evaluator's evaluations, possibly many at once.

    ``submit`` returns a handle (the job id); ``wait_any`` blocks until some evaluation finishes and returns its
    ``(tag, Result)`` — the tag given to ``submit``, or the handle when none was given — or None when nothing is
    pending or ``timeout`` (seconds) passes first. ``capacity`` is how many evaluations run at the same time, the number
    to keep in flight.
    """

    # Option sets the executor contract suite runs this executor with (cheap, local).
    contract_variants: tuple[dict[str, Any], ...] = ({},)

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator
        self._next_id = 0

    @property
    def isolated(self) -> bool:
        """Whether evaluations run outside this process, so that a dying worker cannot take the search down."""
        return False

    @property
    @abstractmethod
    def capacity(self) -> int:
        """How many evaluations run concurrently."""

    def use_objectives(self, objectives: Sequence[Objective]) -> None:  # noqa: B027 -- optional, as Evaluator's hooks
        """The search's objectives, given before the first ``submit`` (an early-stopping scheduler judges on them).

        Raises NasbenchError when the executor's configuration cannot apply to them.
        """

    @property
    @abstractmethod
    def pending(self) -> int:
        """Submitted evaluations whose result has not been returned by ``wait_any`` yet."""

    def run_task(self, task: Callable[[Callable[[dict[str, Any]], None]], Any],
                 report: Callable[[dict[str, Any]], None]) -> Any:
        """Run one long job of the search (a one-shot strategy's supernet search) and return its outcome.

        ``task(progress)`` calls ``progress(record)`` as it goes; each record reaches ``report`` in this thread. An
        exception of the task is raised here. By default (the local backend, with a pool or not) it runs in this
        process; the ray executor runs it as one trial, with one evaluation's resources.
        """
        return task(report)

    def submit(self, arch: Architecture, fidelity: int | None = None, seed: int = 0, tag: Any = None) -> int:
        """Queue an evaluation of ``arch``; ``tag`` (default: the returned job id) comes back with its result."""
        job = Job(self._next_id, self._next_id if tag is None else tag, arch, fidelity, seed)
        self._next_id += 1
        self._enqueue(job)
        return job.id

    @abstractmethod
    def _enqueue(self, job: Job) -> None: ...

    @abstractmethod
    def wait_any(self, handles: Collection[int] | None = None, timeout: float | None = None) -> Finished | None:
        """The ``(tag, Result)`` of the next evaluation to finish, among ``handles`` if given.

        None when none of them is pending, or when ``timeout`` seconds pass first.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the executor's resources; unfinished evaluations are dropped."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Sequential evaluation in this process; each evaluation runs inside ``wait_any``, oldest first."""

    def __init__(self, evaluator: Evaluator) -> None:
        super().__init__(evaluator)
        self._queue: deque[Job] = deque()

    @property
    def capacity(self) -> int:
        return 1

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _enqueue(self, job: Job) -> None:
        self._queue.append(job)

    def wait_any(self, handles: Collection[int] | None = None, timeout: float | None = None) -> Finished | None:
        # An evaluation in this process cannot be interrupted, so ``timeout`` does not apply.
        job = next((j for j in self._queue if handles is None or j.id in handles), None)
        if job is None:
            return None
        self._queue.remove(job)
        return job.tag, safe_evaluate(self.evaluator, job)

    def close(self) -> None:
        self._queue.clear()


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _worker_main(conn: connection.Connection, payload: bytes, threads: int) -> None:
    """A pool worker: evaluate the jobs that arrive on ``conn`` until it closes or sends None."""
    import torch

    torch.set_num_threads(threads)
    evaluator: Evaluator = pickle.loads(payload)
    evaluator.setup()  # before the first job, so that loading data counts against neither its time nor its timeout
    while True:
        try:
            job = conn.recv()
        except EOFError:  # the parent went away
            return
        if job is None:
            return
        conn.send(("started", job.id, None))  # the parent times the evaluation from here, not from worker start-up
        conn.send(("done", job.id, safe_evaluate(evaluator, job)))


class _Worker:
    """One spawned worker process and the job it is running."""

    def __init__(self, context: Any, payload: bytes, threads: int) -> None:
        self.conn, child = context.Pipe()
        self.process: SpawnProcess = context.Process(target=_worker_main, args=(child, payload, threads), daemon=True)
        self.process.start()
        child.close()
        self.job: Job | None = None
        self.sent = 0.0
        self.started: float | None = None  # when the worker began the job (it may still be importing torch)

    def run(self, job: Job) -> None:
        self.job, self.sent, self.started = job, time.monotonic(), None
        self.conn.send(job)

    def stop(self, grace: float = 2.0) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):  # the pipe is already broken: the process is gone or going
            pass
        self.process.join(grace)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


class ProcessPoolExecutor(Executor):
    """A pool of ``workers`` spawned processes, each running one evaluation at a time.

    The evaluator is pickled once and sent to each worker at start. ``threads`` per worker defaults to
    ``max(1, cores // workers)``. ``timeout`` (seconds, optional) bounds one evaluation: past it the worker is killed
    and the evaluation fails. Workers start on first use and are replaced when they die.
    """

    def __init__(self, evaluator: Evaluator, workers: int = 2, threads: int | None = None,
                 timeout: float | None = None) -> None:
        super().__init__(evaluator)
        if workers < 1:
            raise NasbenchError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.threads = threads or max(1, available_cores() // workers)
        self.timeout = timeout
        self._context = get_context("spawn")  # fork would copy torch's thread pools and locks into the child
        try:
            pickle.dumps(evaluator)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            raise NasbenchError(f"evaluator {evaluator.name!r} cannot be sent to worker processes (it must be "
                                f"picklable, defined at module level): {error}") from None
        self._payload: bytes | None = None  # pickled when the first worker starts, with the search's settings
        self._slots: list[_Worker | None] = [None] * workers
        self._queue: deque[Job] = deque()
        self._finished: deque[tuple[Job, Result]] = deque()

    @property
    def capacity(self) -> int:
        return self.workers

    @property
    def isolated(self) -> bool:
        return True

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._running()) + len(self._finished)

    def _enqueue(self, job: Job) -> None:
        self._queue.append(job)
        self._dispatch()

    def _dispatch(self) -> None:
        for index in range(len(self._slots)):
            while self._queue and (self._slots[index] is None or self._slots[index].job is None):
                if self._payload is None:
                    self._payload = pickle.dumps(self.evaluator)
                worker = self._slots[index] or _Worker(self._context, self._payload, self.threads)
                self._slots[index] = worker
                job = self._queue.popleft()
                try:
                    worker.run(job)
                except (OSError, ValueError):  # it died while idle: replace it and give the job to the new one
                    self._queue.appendleft(job)
                    worker.kill()
                    self._slots[index] = None

    def _fail(self, index: int, reason: str) -> None:
        worker = self._slots[index]
        assert worker is not None and worker.job is not None
        elapsed = time.monotonic() - (worker.started or worker.sent)
        self._finished.append((worker.job, Result.failure(reason, elapsed)))
        worker.kill()
        self._slots[index] = None

    def _collect(self, timeout: float | None) -> None:
        busy = {i: w for i, w in enumerate(self._slots) if w is not None and w.job is not None}
        if not busy:
            return
        if self.timeout is not None:
            deadlines = [w.started + self.timeout - time.monotonic() for w in busy.values() if w.started is not None]
            if deadlines:
                left = max(0.0, min(deadlines))
                timeout = left if timeout is None else min(timeout, left)
        waitables = [w.conn for w in busy.values()] + [w.process.sentinel for w in busy.values()]
        ready = set(connection.wait(waitables, timeout))
        for index, worker in busy.items():
            if worker.conn in ready or worker.conn.poll():
                self._receive(index, worker)
            elif worker.process.sentinel in ready:
                self._fail(index, _death_reason(worker))
            elif (self.timeout is not None and worker.started is not None
                  and time.monotonic() - worker.started > self.timeout):
                self._fail(index, f"timed out after {self.timeout:g} s (worker killed)")

    def _receive(self, index: int, worker: _Worker) -> None:
        try:
            kind, job_id, result = worker.conn.recv()
        except (EOFError, OSError):
            self._fail(index, _death_reason(worker))
            return
        assert worker.job is not None and job_id == worker.job.id
        if kind == "started":
            worker.started = time.monotonic()
        else:
            self._finished.append((worker.job, result))
            worker.job = None

    def _running(self) -> list[Job]:
        return [w.job for w in self._slots if w is not None and w.job is not None]

    def _take(self, handles: Collection[int] | None) -> Finished | None:
        for entry in self._finished:
            if handles is None or entry[0].id in handles:
                self._finished.remove(entry)
                return entry[0].tag, entry[1]
        return None

    def wait_any(self, handles: Collection[int] | None = None, timeout: float | None = None) -> Finished | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (found := self._take(handles)) is None:
            waiting = [job for job in [*self._queue, *self._running()] if handles is None or job.id in handles]
            if not waiting:
                return None
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._collect(left)
            self._dispatch()
            if deadline is not None and time.monotonic() >= deadline:
                return self._take(handles)
        return found

    def close(self) -> None:
        for index, worker in enumerate(self._slots):
            if worker is not None:
                if worker.job is None:
                    worker.stop()
                else:
                    worker.kill()  # an evaluation in progress is abandoned
                self._slots[index] = None
        self._queue.clear()
        self._finished.clear()


def _death_reason(worker: _Worker) -> str:
    worker.process.join(1.0)
    code = worker.process.exitcode
    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    return f"worker process died during the evaluation ({how})"


EXECUTORS: Registry[type[Executor]] = Registry("executor", builtins=("workers.executor", "workers.ray_executor"))
register_executor = EXECUTORS.register


@register_executor("local")
class LocalExecutor(Executor):
    """The local executor: in-process sequential evaluation for ``workers=1``, a spawned process pool for more.

    ``threads`` (torch threads per pool worker) and ``timeout`` (seconds per evaluation) apply to the pool.
    ``scheduler="asha"`` stops candidates early on their curve by successive halving (``grace_period`` epochs,
    ``reduction_factor``), as the ray backend's ASHA does.
    """

    contract_variants = ({"workers": 1}, {"workers": 2, "threads": 1})

    def __init__(self, evaluator: Evaluator, workers: int = 1, threads: int | None = None,
                 timeout: float | None = None, scheduler: str = "fifo", grace_period: int = 1,
                 reduction_factor: int = 4) -> None:
        self._stopping = early_stopping(evaluator, scheduler, grace_period, reduction_factor)
        self._rungs: tempfile.TemporaryDirectory[str] | None = None
        if self._stopping is not None:
            self._rungs = tempfile.TemporaryDirectory(prefix="nasbench-asha-")
            evaluator = SuccessiveHalving(evaluator, os.path.join(self._rungs.name, "rungs.journal"), self._stopping)
        super().__init__(evaluator)
        self.backend: Executor = (InProcessExecutor(evaluator) if workers <= 1
                                  else ProcessPoolExecutor(evaluator, workers, threads, timeout))

    @property
    def capacity(self) -> int:
        return self.backend.capacity

    @property
    def isolated(self) -> bool:
        return self.backend.isolated

    def use_objectives(self, objectives: Sequence[Objective]) -> None:
        """Successive halving judges candidates on the first of ``objectives`` their curve reports."""
        if self._stopping is not None:
            self._stopping.use_objectives(objectives)

    @property
    def pending(self) -> int:
        return self.backend.pending

    def _enqueue(self, job: Job) -> None:
        self.backend._enqueue(job)

    def wait_any(self, handles: Collection[int] | None = None, timeout: float | None = None) -> Finished | None:
        return self.backend.wait_any(handles, timeout)

    def close(self) -> None:
        self.backend.close()
        if self._rungs is not None:
            self._rungs.cleanup()


def get_executor(name: str, evaluator: Evaluator, **options: Any) -> Executor:
    """The executor registered as ``name`` (e.g. ``local``) for ``evaluator``, with its options."""
    return EXECUTORS.create(name, evaluator, **options)
