"""Evaluators for the ray backend's tests: a table lookup that logs or dies once, and one with a per-epoch curve."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from nasbench.architecture import Architecture
from workers.base import OK, Evaluator, Result
from workers.table import TableEvaluator

EPOCHS = 6


class LoggedTable(TableEvaluator):
    """The NAS-Bench-201 lookup, appending each evaluated hash to ``log``; the first evaluation in a run whose
    ``die_once`` file does not exist yet creates it and SIGKILLs its worker mid-evaluation."""

    def __init__(self, log: str, die_once: str | None = None, delay: float = 0.0) -> None:
        super().__init__()
        self.log, self.die_once, self.delay = log, die_once, delay

    def evaluate(self, arch: Architecture, fidelity: int | None = None, seed: int = 0) -> Result:
        with open(self.log, "a") as file:
            file.write(arch.hash() + "\n")
        time.sleep(self.delay)
        if self.die_once is not None and not os.path.exists(self.die_once):
            Path(self.die_once).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().evaluate(arch, fidelity, seed)


class CurveTable(TableEvaluator):
    """A training run faked from the table: epoch e of ``EPOCHS`` scores ``valid_acc_12 * e / EPOCHS``."""

    curve_metrics = ("val_acc",)
    metrics = (*TableEvaluator.metrics, "val_acc", "epoch")
    objectives = "val_acc:max"

    def __init__(self, delay: float = 0.05) -> None:
        super().__init__()
        self.delay = delay

    def evaluate(self, arch: Architecture, fidelity: int | None = None, seed: int = 0) -> Result:
        return self.evaluate_with_curve(arch, fidelity, seed)

    def evaluate_with_curve(self, arch: Architecture, fidelity: int | None = None, seed: int = 0,
                            on_epoch: Callable[[dict[str, float]], None] | None = None) -> Result:
        looked_up = super().evaluate(arch, fidelity, seed)
        if not looked_up.ok:
            return looked_up
        final = looked_up.metrics["valid_acc_12"]
        curve = []
        for epoch in range(1, EPOCHS + 1):
            time.sleep(self.delay)
            entry = {"epoch": float(epoch), "val_acc": final * epoch / EPOCHS}
            curve.append(entry)
            if on_epoch is not None:
                on_epoch(entry)
        return Result(OK, {**looked_up.metrics, **curve[-1]}, curve, self.delay * EPOCHS)


class NoCurve(Evaluator):
    """An evaluator without a curve, for the bad-input case of ``--scheduler asha``."""

    name = "no-curve"
    metrics = ("score",)
    objectives = "score:max"

    def evaluate(self, arch: Architecture, fidelity: int | None = None, seed: int = 0) -> Result:
        return Result(OK, {"score": 1.0}, [], 0.0)

