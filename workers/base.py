"""The evaluation contract: an ``Evaluator`` turns an Architecture into a ``Result``; a registry by name."""

from __future__ import annotations

import importlib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError

OK = "ok"
FAIL = "fail"


@dataclass
class Result:
    """The outcome of one evaluation.

    ``metrics`` holds every metric the evaluator produced (the objective is ``metrics[evaluator.objective]``);
    ``curve`` holds one dict per epoch (``{"epoch": 1, "val_acc": .., "val_loss": .., "train_loss": ..}``);
    ``error`` gives the reason when ``status == "fail"``.
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

    def value(self, objective: str, direction: str = "maximize") -> float:
        """The objective as a number to compare; a failure or a missing/non-finite value is the worst possible."""
        worst = -math.inf if direction == "maximize" else math.inf
        if not self.ok:
            return worst
        value = self.metrics.get(objective)
        if value is None or not math.isfinite(value):
            return worst
        return float(value)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (JSON-serializable), e.g. to store in a results database."""
        return {"status": self.status, "metrics": dict(self.metrics), "curve": [dict(c) for c in self.curve],
                "seconds": self.seconds, "error": self.error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Inverse of ``to_dict``."""
        return cls(status=data["status"], metrics=dict(data.get("metrics") or {}),
                   curve=[dict(c) for c in data.get("curve") or []], seconds=float(data.get("seconds", 0.0)),
                   error=data.get("error"))


class Evaluator(ABC):
    """Scores architectures. ``objective`` names the metric a search optimizes, in ``direction``.

    Implementations never raise from ``evaluate`` for a bad candidate: they return ``Result.failure(reason)``.
    They must be picklable before first use so that a process pool can ship them to its workers once.
    """

    name: str = ""
    objective: str = ""
    direction: str = "maximize"
    # The task scored on, so that a search space builds networks that fit it (a dataset-backed evaluator overrides).
    input_shape: tuple[int, int, int] = (3, 32, 32)
    num_classes: int = 10

    @abstractmethod
    def evaluate(self, arch: Architecture, fidelity: int | None = None, seed: int = 0) -> Result:
        """Evaluate ``arch`` at ``fidelity`` (e.g. epochs; None = the evaluator's default) under ``seed``."""

    def setup(self) -> None:  # noqa: B027 -- an optional hook, a no-op unless an evaluator has something to load
        """Load what evaluations need (data, tables); a worker process calls it once, before its first job."""


EvaluatorFactory = Callable[..., Evaluator]

_REGISTRY: dict[str, EvaluatorFactory] = {}
# Built-in evaluators register themselves when their module is imported; importing lazily keeps `import workers` light.
_BUILTIN_MODULES = {"train": "workers.train_evaluator", "table": "workers.table"}


def register_evaluator(name: str) -> Callable[[EvaluatorFactory], EvaluatorFactory]:
    """Class decorator registering an Evaluator factory under ``name`` (``get_evaluator(name, **options)``)."""

    def decorate(factory: EvaluatorFactory) -> EvaluatorFactory:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise NasbenchError(f"evaluator {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return decorate


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES.values():
        importlib.import_module(module)


def evaluator_names() -> list[str]:
    """Names of all registered evaluators."""
    _load_builtins()
    return sorted(_REGISTRY)


def get_evaluator(name: str, **options: Any) -> Evaluator:
    """Construct the evaluator registered as ``name`` with its options (e.g. ``get_evaluator("train", epochs=3)``)."""
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    if name not in _REGISTRY:
        raise NasbenchError(f"unknown evaluator {name!r} (known: {', '.join(evaluator_names())})")
    try:
        return _REGISTRY[name](**options)
    except TypeError as exc:
        raise NasbenchError(f"evaluator {name!r}: bad options {sorted(options)}: {exc}") from exc
