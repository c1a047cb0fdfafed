"""``--scheduler asha`` on the local backend: asynchronous successive halving through Optuna's pruner.

The ray backend stops candidates early with Tune's ASHA; the local one gives the same rule through
``optuna.pruners.SuccessiveHalvingPruner`` (ASHA, Li et al. 2020, with ``min_resource`` = the grace period in
epochs and the same reduction factor). ``SuccessiveHalving`` wraps the search's evaluator: every evaluation reports
its per-epoch score to a private Optuna study in a journal file, which every worker process of a pool shares, and
stops as soon as the pruner says the candidate is not in the top ``1/reduction_factor`` of its rung. The search's
own study is not touched: the stopped candidate comes back as a PRUNED Result with its curve, as from the ray backend.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from nasbench.architecture import Architecture
from workers.base import PRUNED, Evaluator, Result
from workers.schedulers import EarlyStopping

RUNGS_STUDY = "successive-halving"


class _Stopped(BaseException):
    """Ends an evaluation that the pruner stopped.

    A BaseException, so that an evaluator's own failure handling, which turns every Exception into a FAIL, lets it
    through.
    """


class SuccessiveHalving(Evaluator):
    """``evaluator`` with candidates stopped early by asynchronous successive halving on its per-epoch curve.

    ``stopping`` (checked by ``workers.schedulers.early_stopping``) gives the rungs and the objective judged.
    """

    def __init__(self, evaluator: Evaluator, journal: str, stopping: EarlyStopping) -> None:
        self.inner = evaluator
        self.journal = journal
        self.stopping = stopping
        self.name, self.metrics, self.objectives = evaluator.name, evaluator.metrics, evaluator.objectives
        self.curve_metrics = evaluator.curve_metrics
        self.input_shape, self.num_classes = evaluator.input_shape, evaluator.num_classes
        self._study: optuna.Study | None = None

    @property
    def task(self) -> str:
        """The wrapped evaluator's task."""
        return self.inner.task

    def setup(self) -> None:
        """Set up the wrapped evaluator and open the shared rung study."""
        self.inner.setup()
        self.study()

    def use_space(self, space: Any) -> None:
        """Given to the wrapped evaluator."""
        self.inner.use_space(space)

    def study(self) -> optuna.Study:
        """The private study of every evaluation's curve, shared by the processes of a pool through its journal."""
        if self._study is None:
            storage = JournalStorage(JournalFileBackend(self.journal))
            pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=self.stopping.grace_period,
                                                            reduction_factor=self.stopping.reduction_factor,
                                                            min_early_stopping_rate=0)
            self._study = optuna.create_study(storage=storage, study_name=RUNGS_STUDY, pruner=pruner,
                                              direction=self.stopping.target.direction, load_if_exists=True)
        return self._study

    def __getstate__(self) -> dict[str, Any]:
        # Pool workers reopen the journal themselves.
        state = dict(self.__dict__)
        state["_study"] = None
        return state

    def evaluate(self, arch: Architecture, fidelity: int | None = None, seed: int = 0) -> Result:
        """Evaluate ``arch``, stopped early (PRUNED, with its curve) when it falls behind its rung."""
        return self.evaluate_with_curve(arch, fidelity, seed)

    def evaluate_with_curve(self, arch: Architecture, fidelity: int | None = None, seed: int = 0,
                            on_epoch: Callable[[dict[str, float]], None] | None = None) -> Result:
        """``evaluate``, passing each epoch on to ``on_epoch`` before the pruner judges it."""
        started = time.perf_counter()
        trial = self.study().ask()
        metric = self.stopping.target.metric
        curve: list[dict[str, float]] = []

        def judge(entry: dict[str, float]) -> None:
            curve.append(dict(entry))
            if on_epoch is not None:
                on_epoch(entry)
            value = entry.get(metric)
            if value is None or not math.isfinite(value):
                return
            trial.report(float(value), int(entry.get("epoch", len(curve))))
            if trial.should_prune():
                raise _Stopped

        try:
            result = self.inner.evaluate_with_curve(arch, fidelity, seed, judge)
        except _Stopped:
            self.study().tell(trial, state=optuna.trial.TrialState.PRUNED)
            reached = int(curve[-1].get("epoch", len(curve)))
            return Result(PRUNED, dict(curve[-1]), curve, time.perf_counter() - started,
                          f"stopped early by successive halving after epoch {reached}")
        value = result.metrics.get(metric) if result.ok else None
        if value is not None and math.isfinite(value):
            self.study().tell(trial, float(value))
        else:
            self.study().tell(trial, state=optuna.trial.TrialState.FAIL)
        return result
