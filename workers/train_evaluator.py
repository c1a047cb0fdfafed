"""The ``train`` evaluator: compile the genome, train it for ``fidelity`` epochs, report its validation accuracy.

The objective ``val_acc`` is the final epoch's validation accuracy in percent (the unit NAS-Bench-201 uses, so scores of
the two evaluators read alike). Every failure of a candidate — a genome that does not fit the dataset, a size over the
limits, an exception while building or training, a NaN loss, CUDA out of memory — is returned as a FAIL Result with its
reason; only a bad evaluator configuration (unknown dataset, missing files, unknown option) raises, at construction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nasbench.architecture import Architecture
from nasbench.compiler import build
from nasbench.devices import Precision, resolve_device
from nasbench.errors import NasbenchError
from nasbench.limits import size_limit_error
from nasbench.lowering import Lowered
from nasbench.threads import num_threads
from workers.base import OK, CellSpace, Evaluator, Result, register_evaluator
from workers.datasets import Dataset, load_dataset
from workers.training import TrainConfig, deterministic, evaluate_model, train_model
from workers.weights import WeightStore

DEFAULT_EPOCHS = 5


METRICS = ("val_acc", "val_loss", "train_acc", "train_loss", "epoch", "best_val_acc", "params", "macs",
           "seconds_per_epoch")
TEST_METRICS = ("test_acc", "test_loss")
# The size of the network trained when cells/width transfer the candidate (the search's params/macs stay the
# candidate's own, at the size it was searched at).
TRANSFER_METRICS = ("trained_params", "trained_macs")


@register_evaluator("train")
class TrainEvaluator(Evaluator):
    """Train each candidate from scratch (seeded) and score it by its final validation accuracy in percent.

    Options: ``dataset`` (a built-in name or an ImageFolder path), ``data_dir``, ``fraction`` (share of the training
    split), ``resolution``, ``epochs`` (used when ``fidelity`` is None), ``max_params`` / ``max_macs`` (analytic limits,
    checked before building), ``threads`` (torch intra-op threads during an evaluation; None keeps torch's), ``device``
    (``auto``/``cpu``/``cuda``...), ``test`` (also report ``test_acc`` where the dataset has a test set), ``cells``
    and ``width`` (train each candidate's cells in a network of that size, as DARTS evaluates its 8-cell, 16-channel
    search cells in 20 cells of 36 channels; the search's space must have a size, see ``SearchSpace.transfer``),
    and every TrainConfig hyperparameter (``lr``, ``momentum``, ``nesterov``, ``weight_decay``,
    ``label_smoothing``, ``batch_size``, ``optimizer``, ...). Training on CPU is deterministic under a seed.
    """

    objectives = "val_acc:max"
    curve_metrics = ("train_loss", "train_acc", "val_loss", "val_acc")
    smoke_options = {"epochs": 1, "fraction": 0.3}
    # A search on a CPU: 3 epochs keep the main job at a few minutes, and one torch thread per evaluation because
    # the small networks gain little from intra-op threads, while OpenMP threads competing with other processes for
    # the cores slow training down by an order of magnitude.
    search_defaults = {"epochs": 3, "threads": 1}

    def __init__(self, dataset: str = "digits", data_dir: str | Path | None = None, fraction: float = 1.0,
                 resolution: int | None = None, epochs: int = DEFAULT_EPOCHS, max_params: int | None = None,
                 max_macs: int | None = None, threads: int | None = None, device: str = "auto", test: bool = False,
                 cells: int | None = None, width: int | None = None, **hyperparameters: Any) -> None:
        for what, value in (("epochs", epochs), ("cells", cells), ("width", width)):
            if value is not None and value < 1:
                raise NasbenchError(f"{what} must be at least 1, got {value}")
        self.config = TrainConfig.from_options(hyperparameters)
        self.dataset_options = {"name": dataset, "data_dir": data_dir, "fraction": fraction, "resolution": resolution}
        self.epochs = int(epochs)
        self.max_params, self.max_macs = max_params, max_macs
        self.threads, self.device, self.test = threads, device, test
        self.cells, self.width = cells, width
        self._space: CellSpace | None = None
        self._dataset: Dataset | None = None
        self.weights: str | None = None  # the folder of the candidates' trained weights (keep_weights)
        self.setup()  # now, so that a missing dataset is a configuration error rather than a search of failed trials
        self.metrics = (METRICS + (TEST_METRICS if test and self.data.test_x is not None else ())
                        + (TRANSFER_METRICS if self.transfers else ()))

    @property
    def transfers(self) -> bool:
        """Whether candidates are trained at another size than the search's (``cells`` or ``width`` set)."""
        return self.cells is not None or self.width is not None

    def use_space(self, space: CellSpace) -> None:
        """Keep the search's space to transfer candidates with; a space without a size is a NasbenchError."""
        if self.transfers:
            space.resized(self.cells, self.width)  # now, so that a space without a size stops the search at once
            self._space = space

    def trained(self, arch: Architecture) -> Architecture:
        """``arch`` as it is trained: transferred to ``cells``/``width`` when they are set, else itself."""
        if not self.transfers:
            return arch
        if self._space is None:
            raise NasbenchError("cells/width train a space's members at another size: give the evaluator the space "
                                "first (use_space)")
        return self._space.transfer(arch, self.cells, self.width)

    def setup(self) -> None:
        """Load the dataset (cached per process; a worker process receives the evaluator without it)."""
        if self._dataset is None:
            self._dataset = load_dataset(**self.dataset_options)

    @property
    def data(self) -> Dataset:
        """The dataset."""
        self.setup()
        assert self._dataset is not None
        return self._dataset

    @property
    def task(self) -> str:
        """The dataset's name."""
        return self.data.name

    @property
    def input_shape(self) -> tuple[int, int, int]:  # type: ignore[override]
        """(C, H, W) of the dataset's images."""
        return self.data.input_shape

    @property
    def num_classes(self) -> int:  # type: ignore[override]
        """Classes of the dataset."""
        return self.data.num_classes

    def keep_weights(self, folder: str | None) -> bool:
        """Save each trained candidate's weights in ``folder``, named by its hash (as the search knows it)."""
        self.weights = folder
        return folder is not None

    def validation_size(self) -> int | None:
        """The images of the dataset's validation split."""
        return int(len(self.data.val_y))

    def __getstate__(self) -> dict[str, Any]:
        # Workers reload the dataset from disk rather than receiving a pickled copy of it.
        state = dict(self.__dict__)
        state["_dataset"] = None
        return state

    def _unfit(self, lowered: Lowered) -> str | None:
        data = self.data
        if tuple(lowered.output_shape) != (data.num_classes,):
            return (f"output shape {tuple(lowered.output_shape)} does not match the {data.num_classes} classes of "
                    f"dataset {data.name!r}")
        return size_limit_error(lowered.params, lowered.macs, self.max_params, self.max_macs)

    def fit(self, arch: Architecture, fidelity: int | None = None, seed: int = 0,
            on_epoch: Callable[[dict[str, float]], None] | None = None,
            checkpoint: str | Path | None = None) -> tuple[nn.Module | None, Result]:
        """Train ``arch`` (at ``cells``/``width`` when set) and return the module (None on failure) with its Result.

        Never raises: a candidate that cannot be transferred, built or trained is a FAIL Result with the reason.
        ``checkpoint`` saves every epoch there and continues a killed run (``train_model``); with ``keep_weights``
        the trained weights are saved under the candidate's hash.
        """
        candidate = arch
        started = time.perf_counter()
        curve: list[dict[str, float]] = []

        def record(entry: dict[str, float]) -> None:
            curve.append(entry)
            if on_epoch is not None:
                on_epoch(entry)

        device = resolve_device(self.device)
        try:
            arch = self.trained(arch)
            lowered = arch.lower(self.data.input_shape)
            reason = self._unfit(lowered)
            if reason is not None:
                return None, Result.failure(reason, time.perf_counter() - started)
            epochs = self.epochs if fidelity is None else int(fidelity)
            with num_threads(self.threads), deterministic(device.type == "cpu"), \
                    torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                torch.manual_seed(seed)  # dropout and any other draw from the global generator
                if device.type == "cuda":
                    torch.backends.cudnn.benchmark = True
                model = build(arch, seed=seed, input_shape=self.data.input_shape)
                # From a checkpoint, record sees only the epochs trained now; the run's curve is all of them.
                curve[:] = train_model(model, self.data, epochs, self.config, seed, device, record, checkpoint)
                metrics = {key: float(value) for key, value in curve[-1].items() if key not in {"lr", "seconds"}}
                metrics |= {"best_val_acc": max(entry["val_acc"] for entry in curve), "params": float(lowered.params),
                            "macs": float(lowered.macs),
                            "seconds_per_epoch": sum(entry["seconds"] for entry in curve) / len(curve)}
                if self.transfers:
                    metrics |= {"trained_params": float(lowered.params), "trained_macs": float(lowered.macs)}
                if self.test and self.data.test_x is not None:
                    metrics["test_loss"], metrics["test_acc"] = self._test(model, device)
                if self.weights is not None:
                    WeightStore(self.weights).save(candidate.hash(), model.state_dict())
        except Exception as error:  # noqa: BLE001 -- any failure of a candidate is its FAIL result
            if device.type == "cuda":
                torch.cuda.empty_cache()
            return None, Result.failure(_describe(error), time.perf_counter() - started, curve)
        return model, Result(OK, metrics, curve, time.perf_counter() - started)

    def _test(self, model: nn.Module, device: torch.device) -> tuple[float, float]:
        data = self.data
        return evaluate_model(model, data.test_x.to(device), data.test_y.to(device), data, self.config.eval_batch_size,
                              Precision(device, self.config.amp), self.config.channels_last and device.type == "cuda")

    def evaluate(self, arch: Architecture, fidelity: int | None = None, seed: int = 0) -> Result:
        """Train ``arch`` for ``fidelity`` epochs (default: ``epochs``) under ``seed``; a Result, never an exception."""
        _, result = self.fit(arch, fidelity, seed)
        return result

    def evaluate_with_curve(self, arch: Architecture, fidelity: int | None = None, seed: int = 0,
                            on_epoch: Callable[[dict[str, float]], None] | None = None) -> Result:
        """``evaluate``, calling ``on_epoch`` with each epoch's entry (val_acc, train_loss, ...) as it ends."""
        _, result = self.fit(arch, fidelity, seed, on_epoch)
        return result


def _describe(error: BaseException) -> str:
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return "CUDA out of memory"
    if isinstance(error, NasbenchError):
        return str(error)
    return f"{type(error).__name__}: {error}"
