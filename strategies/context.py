"""What a search hands a strategy that trains networks itself (the one-shot strategies), as plain protocols.

Strategies depend on no evaluator or store (the layering contract), so the search's composition layer binds a
``SearchContext`` to every strategy before the first ``ask``: the search's training data (any object with the
attributes of ``TrainingData``, such as the workers' ``Dataset``), a directory for checkpoints, the device, a
``Journal`` that stores a job's per-epoch curve with the study, a factory of progress bars, and a ``TaskRunner`` that
runs a training job where the search's executor runs evaluations (on a Ray trial with the ray backend). Black-box
strategies ignore it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch


class TrainingData(Protocol):
    """Image classification tensors: the training split (which a one-shot strategy halves) and its normalization."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    num_classes: int
    batch_size: int

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Float images with zero mean and unit variance per channel."""

    def augmented(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A batch with the augmentation that suits the data (none for digits)."""


Progress = Callable[[dict[str, Any]], None]  # receives one record of a running task (an epoch's)
Task = Callable[[Progress], Any]  # a picklable training job: runs, reports its records, returns its outcome
TaskRunner = Callable[[Task, Progress], Any]  # runs a task somewhere, passing its records on, and returns its outcome


class Journal(Protocol):
    """Where a training job's progress is stored with the study, one record per epoch."""

    def start(self, job: str, config: Mapping[str, Any]) -> None:
        """Open (or reopen, on resume) the record of ``job``."""

    def epoch(self, job: str, entry: Mapping[str, Any]) -> None:
        """Store one epoch of ``job`` (``entry["epoch"]`` counts from 1)."""

    def finish(self, job: str, summary: Mapping[str, Any]) -> None:
        """Close the record of ``job`` with its summary."""


class ProgressBar(Protocol):
    """A progress bar over a job's epochs."""

    def update(self, completed: int, text: str = "") -> None:
        """Show ``completed`` epochs and a short status text."""

    def close(self) -> None:
        """Remove the bar."""


@dataclass
class SearchContext:
    """The search's data, checkpoint directory (None: no checkpoints), device, journal, progress bars and runner.

    ``loader`` reads the data when a strategy first asks for it (``data``), so that a black-box search loads none;
    ``threads`` is the torch intra-op thread count for a training job (None: torch's default); ``progress(label,
    total)`` opens a bar; ``runner(task, report)`` runs a task where the search evaluates (None: in this process).
    """

    loader: Callable[[], TrainingData] | None = None
    directory: Path | None = None
    device: str = "auto"
    threads: int | None = None
    journal: Journal | None = None
    progress: Callable[[str, int], ProgressBar] | None = None
    runner: TaskRunner | None = None
    _data: TrainingData | None = field(default=None, repr=False)

    @classmethod
    def of(cls, data: TrainingData, **settings: Any) -> SearchContext:
        """A context over data already loaded."""
        return cls(loader=lambda: data, **settings)

    def __getstate__(self) -> dict[str, Any]:
        # A context shipped to another process reads the data there, rather than carrying a copy of it.
        state = dict(self.__dict__)
        if self.loader is not None:
            state["_data"] = None
        return state

    @property
    def data(self) -> TrainingData | None:
        """The search's training data (read on first use; None when the search has none)."""
        if self._data is None and self.loader is not None:
            self._data = self.loader()
        return self._data

    def run(self, task: Task, report: Progress) -> Any:
        """``task``'s outcome, run by the ``runner`` (or here), with each record it makes passed to ``report``."""
        return task(report) if self.runner is None else self.runner(task, report)
