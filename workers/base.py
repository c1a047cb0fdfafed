"""The evaluation contract: an ``Evaluator`` turns an Architecture into a ``Result``; the evaluator registry.

An evaluator declares the metrics it reports (``metrics``) and the objectives a search optimizes by default
(``objectives``, e.g. ``"val_acc:max"``); the search loop adds every candidate's analytic ``params`` and ``macs``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from nasbench.architecture import Architecture
from nasbench.objectives import Objective, parse_objectives
from nasbench.registry import Registry

OK = "ok"
FAIL = "fail"
PRUNED = "pruned"  # stopped early by a scheduler (ASHA): ``curve`` holds the epochs it reached


@dataclass
class Result:
    """The outcome of one evaluation.

    ``metrics`` holds every metric the evaluator produced; ``curve`` holds one dict per epoch
    (``{"epoch": 1, "val_acc": .., "val_loss": .., "train_loss": ..}``); ``error`` gives the reason when
    ``status == "fail"``.
    """

    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    curve: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the evaluation finished and its metrics are valid."""
        return self.status == OK

    @classmethod
    def failure(cls, error: str, seconds: float = 0.0, curve: list[dict[str, float]] | None = None) -> Result:
        """A failed evaluation with its reason (and the partial curve, if any epochs completed)."""
        return cls(status=FAIL, metrics={}, curve=list(curve or []), seconds=seconds, error=error)


class CellSpace(Protocol):
    """What an evaluator needs of a search space to score its members at another size (``SearchSpace``'s methods)."""

    name: str

    def resized(self, cells: int | None = None, width: int | None = None) -> Any:
        """The same space with ``cells`` cells of ``width`` channels."""

    def transfer(self, arch: Architecture, cells: int | None = None, width: int | None = None) -> Architecture:
        """``arch``'s cells in the network of ``resized(cells, width)``."""


class Evaluator(ABC):
    """Scores architectures, reporting ``metrics``; a search optimizes ``objectives`` unless told otherwise.

    Implementations never raise from ``evaluate`` for a bad candidate: they return ``Result.failure(reason)``.
    They must be picklable before first use so that a process pool can ship them to its workers once.
    ``scores_space`` names the search space whose architectures it can score (None: any architecture that fits its
    task), and ``smoke_options`` are options for the cheapest meaningful configuration; the evaluator contract suite
    uses both to test every registered evaluator. ``search_defaults`` are options a search gives it unless the user
    sets them; ``task`` names what it scores on (a dataset), as the default study name shows it.
    """

    name: ClassVar[str] = ""
    metrics: tuple[str, ...] = ()
    objectives: ClassVar[str] = ""
    scores_space: ClassVar[str | None] = None
    smoke_options: ClassVar[dict[str, Any]] = {}
    search_defaults: ClassVar[dict[str, Any]] = {}
    # The task scored on, so that a search space builds networks that fit it (a dataset-backed evaluator overrides).
    input_shape: tuple[int, int, int] = (3, 32, 32)
    num_classes: int = 10

    # Whether a search stores each trial's drawings unless told (off where drawing costs more than evaluating).
    drawings: ClassVar[bool] = True

    # The metrics of every entry ``evaluate_with_curve`` reports as an epoch finishes (none: no curve), so that a
    # scheduler can stop a candidate early on one of them.
    curve_metrics: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def evaluate(self, arch: Architecture, fidelity: int | None = None, seed: int = 0) -> Result:
        """Evaluate ``arch`` at ``fidelity`` (e.g. epochs; None = the evaluator's default) under ``seed``."""

    def evaluate_with_curve(self, arch: Architecture, fidelity: int | None = None, seed: int = 0,
                            on_epoch: Callable[[dict[str, float]], None] | None = None) -> Result:
        """``evaluate``, calling ``on_epoch`` with each curve entry as it is made (where ``reports_curve``).

        An evaluator without a curve evaluates and never calls ``on_epoch``.
        """
        return self.evaluate(arch, fidelity, seed)

    def setup(self) -> None:  # noqa: B027 -- an optional hook, a no-op unless an evaluator has something to load
        """Load what evaluations need (data, tables); a worker process calls it once, before its first job."""

    def keep_weights(self, folder: str | None) -> bool:
        """Keep every trained candidate's weights in ``folder`` (``workers.weights.WeightStore``; None: keep none).

        Given before the first evaluation; whether the evaluator will write any (one that trains nothing, a table
        lookup, ignores it: False).
        """
        return False

    def validation_size(self) -> int | None:
        """How many examples the validation metrics are measured on (None: not a dataset's validation split)."""
        return None

    def use_space(self, space: CellSpace) -> None:  # noqa: B027 -- an optional hook, like setup
        """The search's space, given before the first evaluation (the train evaluator's ``cells``/``width`` need it).

        Raises NasbenchError when the evaluator's configuration cannot apply to ``space``.
        """

    @property
    def reports_curve(self) -> bool:
        """Whether ``evaluate_with_curve`` reports each epoch as it finishes."""
        return bool(self.curve_metrics)

    @property
    def task(self) -> str:
        """What the evaluator scores on, for names: its dataset, or the evaluator's own name."""
        return self.name

    def default_objectives(self) -> tuple[Objective, ...]:
        """The objectives a search optimizes when it names none."""
        return parse_objectives(self.objectives)


EVALUATORS: Registry[type[Evaluator]] = Registry("evaluator", builtins=("workers.train_evaluator", "workers.table"))
register_evaluator = EVALUATORS.register


def evaluator_names() -> list[str]:
    """Names of all registered evaluators."""
    return EVALUATORS.names()


def get_evaluator(name: str, **options: Any) -> Evaluator:
    """Construct the evaluator registered as ``name`` with its options (e.g. ``get_evaluator("train", epochs=3)``)."""
    return EVALUATORS.create(name, **options)
