"""A table evaluator that SIGKILLs its own process at its k-th evaluation, and searches run in a fresh process.

A search killed mid-evaluation must leave its study resumable; the contract suite runs such searches by the dozen,
so they are forked from a server process that has imported the project once rather than started as new Pythons
(which spent 4 s each importing torch).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import Any

from nasbench import Architecture
from nasbench.app.search import search
from workers.base import Result
from workers.table import TableEvaluator

# Forked from a server that only imported modules: no OpenMP pool exists yet in the parent of any search.
FORKSERVER = multiprocessing.get_context("forkserver")
FORKSERVER.set_forkserver_preload(["kill_switch"])


class KillAt(TableEvaluator):
    """The NAS-Bench-201 table lookup, except that evaluation number ``kill_at`` (1-based) kills the process."""

    def __init__(self, kill_at: int | None = None, delay: float = 0.0) -> None:
        super().__init__()
        self.kill_at, self.delay = kill_at, delay
        self.count = 0

    def evaluate(self, arch: Architecture, fidelity: int | None = None, seed: int = 0) -> Result:
        self.count += 1
        if self.kill_at is not None and self.count == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(self.delay)  # an evaluation that lasts, so that other searchers run beside it
        return super().evaluate(arch, fidelity, seed)


def killable_search(kill_at: int | None, delay: float = 0.0, **options: Any) -> None:
    """``search(**options)`` on the table evaluator that kills its process at evaluation ``kill_at``."""
    search(evaluator=KillAt(kill_at, delay), progress=False, **options)


def start_search(kill_at: int | None, delay: float = 0.0, **options: Any) -> multiprocessing.process.BaseProcess:
    """Start ``killable_search`` in a fresh process."""
    process = FORKSERVER.Process(target=killable_search, args=(kill_at, delay), kwargs=options)
    process.start()
    return process


def exit_code(process: multiprocessing.process.BaseProcess, timeout: float = 300) -> int:
    """Wait for a search started by ``start_search``; its exit code (-9 when it killed itself)."""
    process.join(timeout)
    if process.exitcode is None:
        process.kill()
        process.join()
        raise TimeoutError(f"the search did not end in {timeout} s")
    return process.exitcode


def exit_code_of_search(kill_at: int | None, timeout: float = 300, **options: Any) -> int:
    """Run ``killable_search`` in a fresh process and return its exit code (-9 when it killed itself)."""
    return exit_code(start_search(kill_at, **options), timeout)
