"""A table evaluator that SIGKILLs its own process at its k-th evaluation: a search killed mid-evaluation."""

from __future__ import annotations

import os
import signal

from nasbench import Architecture
from workers.base import Result
from workers.table import TableEvaluator


class KillAt(TableEvaluator):
    """The NAS-Bench-201 table lookup, except that evaluation number ``kill_at`` (1-based) kills the process."""

    def __init__(self, kill_at: int | None = None) -> None:
        super().__init__()
        self.kill_at = kill_at
        self.count = 0

    def evaluate(self, arch: Architecture, fidelity: int | None = None, seed: int = 0) -> Result:
        self.count += 1
        if self.kill_at is not None and self.count == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().evaluate(arch, fidelity, seed)
