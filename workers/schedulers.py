"""``--scheduler``: every candidate trains to the end (``fifo``) or is stopped early on its curve (``asha``).

Both backends mean the same thing by ``asha`` (asynchronous successive halving, Li et al. 2020): rungs at
``grace_period`` epochs times powers of ``reduction_factor``, where a candidate goes on only if it is in the top
``1/reduction_factor`` of the candidates that reached the rung, judged on the search's first objective that the
evaluator reports every epoch. This module checks the settings once, for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from nasbench.errors import NasbenchError
from nasbench.objectives import Objective, format_objectives
from workers.base import Evaluator

SCHEDULERS = ("fifo", "asha")


@dataclass
class EarlyStopping:
    """ASHA's settings and the objective it judges candidates on (the evaluator's default until the search's)."""

    grace_period: int
    reduction_factor: int
    curve_metrics: tuple[str, ...]
    judged: Objective | None = field(default=None, init=False)

    @property
    def target(self) -> Objective:
        """The objective judged (the search's, given by ``use_objectives``, or the evaluator's default)."""
        if self.judged is None:
            raise NasbenchError(f"--scheduler asha stops candidates on a metric of their per-epoch curve "
                                f"({', '.join(self.curve_metrics)}): give it the search's objectives")
        return self.judged

    def use_objectives(self, objectives: Sequence[Objective]) -> None:
        """Judge on the first of the search's ``objectives`` that the curve reports; none is a one-line error."""
        found = next((objective for objective in objectives if objective.metric in self.curve_metrics), None)
        if found is None:
            raise NasbenchError(f"--scheduler asha stops candidates on a metric of their per-epoch curve "
                                f"({', '.join(self.curve_metrics)}), and the objectives "
                                f"{format_objectives(objectives)} have none of them")
        self.judged = found


def early_stopping(evaluator: Evaluator, scheduler: str, grace_period: int = 1,
                   reduction_factor: int = 4) -> EarlyStopping | None:
    """The checked ASHA settings for ``evaluator`` (None for ``fifo``); bad settings are one-line errors."""
    if scheduler not in SCHEDULERS:
        raise NasbenchError(f"scheduler must be one of {', '.join(SCHEDULERS)}, got {scheduler!r}")
    if scheduler == "fifo":
        return None
    if not evaluator.reports_curve:
        raise NasbenchError(f"--scheduler asha stops candidates on their per-epoch curve, and evaluator "
                            f"{evaluator.name!r} reports none")
    for what, value, least in (("grace_period", grace_period, 1), ("reduction_factor", reduction_factor, 2)):
        if value < least:
            raise NasbenchError(f"{what} must be at least {least}, got {value}")
    stopping = EarlyStopping(int(grace_period), int(reduction_factor), tuple(evaluator.curve_metrics))
    # The evaluator's default objective until the search gives its own, which may be another one of the curve's.
    stopping.judged = next((objective for objective in evaluator.default_objectives()
                            if objective.metric in stopping.curve_metrics), None)
    return stopping
