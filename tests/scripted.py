"""A scripted evaluator for executor tests: each architecture's ``meta`` says what its evaluation does."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from genomes import leaf

from nasbench import Architecture
from workers.base import OK, Evaluator, Result

GENOME = leaf((1, 4, 4), classes=2)


def arch(action: str, value: float = 0.0) -> Architecture:
    """A one-layer architecture whose evaluation scores ``value``, sleeps ``value`` s, raises or kills its process."""
    a = Architecture.from_yaml(GENOME)
    a.meta.update(action=action, value=value)
    return a


class ScriptedEvaluator(Evaluator):
    """Does what the architecture's meta says: score it, sleep, raise, or kill its own process."""

    metrics = ("score", "pid", "started", "ended")
    objectives = "score:max"

    def evaluate(self, arch: Architecture, fidelity: int | None = None, seed: int = 0) -> Result:
        action, value = arch.meta["action"], arch.meta["value"]
        started = time.time()
        if action == "sleep":
            time.sleep(value)
        elif action == "raise":
            raise RuntimeError("evaluator bug")
        elif action == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        return Result(OK, {"score": value + seed, "pid": float(os.getpid()), "started": started,
                           "ended": time.time()}, [], 0.0)


def drain(executor) -> dict:
    """Every pending result by tag."""
    results = {}
    while executor.pending:
        tag, result = executor.wait_any()
        results[tag] = result
    return results


class CountingTask:
    """A training job's stand-in: reports ``steps`` records with its process id and returns that id; with
    ``die_once``, the first run SIGKILLs its own worker after the first record; with ``error``, it raises it."""

    def __init__(self, steps: int, die_once: str | None = None, error: Exception | None = None) -> None:
        self.steps, self.die_once, self.error = steps, die_once, error

    def __call__(self, report: Callable[[dict], None]) -> int:
        for step in range(1, self.steps + 1):
            report({"epoch": step, "pid": os.getpid()})
            if self.die_once is not None and not os.path.exists(self.die_once):
                Path(self.die_once).touch()
                os.kill(os.getpid(), signal.SIGKILL)
        if self.error is not None:
            raise self.error
        return os.getpid()
