"""The training loop: SGD (or AdamW) with a per-step cosine schedule on in-memory tensors, validated every epoch.

Batches are drawn from tensors already on the device (no DataLoader workers), which is what small NAS candidates need:
on CPU it avoids process overhead, on a GPU it keeps the device fed. Mixed precision (bfloat16, or float16 with loss
scaling where bfloat16 is missing) and channels_last are used on CUDA only.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from nasbench.devices import Precision
from nasbench.errors import NasbenchError
from nasbench.files import atomic_save
from nasbench.options import coerce_given, signature_options
from workers.datasets import Dataset, crop_flip


class NonFiniteLossError(NasbenchError):
    """The training loss became NaN or infinite (diverged)."""


@dataclass
class TrainConfig:
    """Hyperparameters of one training run. ``augment=None`` uses the dataset's own default augmentation."""

    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    batch_size: int | None = None  # None: the dataset's default (32 for digits, 128 for the file datasets)
    eval_batch_size: int = 512
    aux_weight: float = 0.4
    grad_clip: float | None = 5.0
    augment: bool | None = None
    amp: bool = True
    channels_last: bool = True

    def __post_init__(self) -> None:
        if self.optimizer not in {"sgd", "adamw"}:
            raise NasbenchError(f"optimizer must be 'sgd' or 'adamw', got {self.optimizer!r}")
        if self.lr <= 0 or (self.batch_size is not None and self.batch_size < 1) or self.eval_batch_size < 1:
            raise NasbenchError("lr must be positive and batch sizes at least 1")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise NasbenchError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")

    @classmethod
    def from_options(cls, options: dict[str, object]) -> TrainConfig:
        """Build from keyword options, naming any unknown one."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise NasbenchError(f"evaluator 'train': unknown option(s) {', '.join(unknown)} (training options: "
                                f"{', '.join(sorted(known))}; and dataset, data_dir, fraction, resolution, epochs, "
                                "max_params, max_macs, threads, device, test)")
        return cls(**coerce_given(signature_options(cls), options, "evaluator 'train'"))


@contextmanager
def deterministic(enabled: bool) -> Iterator[None]:
    """Deterministic kernels for the duration (restoring the caller's setting afterwards)."""
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def _logits_and_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, criterion: nn.Module,
                     aux_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    out = model(x)
    if isinstance(out, tuple):  # auxiliary heads in training mode (DARTS/NASNet weight them by 0.4)
        logits = out[0]
        loss = criterion(logits.float(), y) + aux_weight * sum(criterion(a.float(), y) for a in out[1:])
    else:
        logits = out
        loss = criterion(logits.float(), y)
    return logits, loss


def evaluate_model(model: nn.Module, x: torch.Tensor, y: torch.Tensor, dataset: Dataset, batch_size: int,
                   precision: Precision, channels_last: bool = False) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (percent) of ``model`` on ``x``/``y`` (already on the model's device)."""
    model.eval()
    loss_sum = torch.zeros((), device=x.device, dtype=torch.float64)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    with torch.no_grad():
        for start in range(0, len(y), batch_size):
            xb = dataset.normalize(x[start:start + batch_size])
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yb = y[start:start + batch_size]
            with precision.autocast():
                logits = model(xb)
            loss_sum += F.cross_entropy(logits.float(), yb, reduction="sum").double()
            correct += (logits.argmax(1) == yb).sum()
    return loss_sum.item() / len(y), 100.0 * correct.item() / len(y)


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    # No weight decay on BatchNorm parameters and biases, the usual practice for CNNs.
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    rest = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov)


def train_model(model: nn.Module, dataset: Dataset, epochs: int, config: TrainConfig, seed: int = 0,
                device: torch.device | str = "cpu",
                on_epoch: Callable[[dict[str, float]], None] | None = None,
                checkpoint: str | Path | None = None) -> list[dict[str, float]]:
    """Train ``model`` in place for ``epochs`` and return the per-epoch curve.

    Each entry holds ``epoch``, ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` (accuracies in percent),
    ``lr`` (at the epoch's end) and ``seconds``. Shuffling and augmentation draw from a generator seeded by ``seed``.
    Raises NonFiniteLossError when the training loss diverges; ``on_epoch`` sees each entry as it is produced.
    ``checkpoint``: after every epoch the model, optimizer and generators are saved there, and a run that finds its
    own checkpoint (same epochs, seed, settings and dataset) continues after its last epoch, training as an
    uninterrupted run would; ``on_epoch`` then sees only the epochs trained now.
    """
    if epochs < 1:
        raise NasbenchError(f"epochs must be at least 1, got {epochs}")
    device = torch.device(device)
    precision = Precision(device, config.amp)
    channels_last = config.channels_last and device.type == "cuda"
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    train_x, train_y = dataset.train_x.to(device), dataset.train_y.to(device)
    val_x, val_y = dataset.val_x.to(device), dataset.val_y.to(device)
    augment = dataset.augment if config.augment is None else ("crop_flip" if config.augment else None)
    generator = torch.Generator().manual_seed(seed)
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    optimizer = _optimizer(model, config)
    n = len(train_y)
    batch_size = min(config.batch_size or dataset.batch_size, n)
    steps_per_epoch = n // batch_size  # drop the ragged last batch: a batch of one breaks BatchNorm
    total_steps, step = epochs * steps_per_epoch, 0
    curve: list[dict[str, float]] = []
    key = _fingerprint(model, dataset, epochs, config, seed, device, precision)
    start = 1
    if checkpoint is not None and Path(checkpoint).is_file():
        # On the CPU: generator states must be CPU tensors; the model and optimizer copy theirs to the device.
        saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
        if saved.get("fingerprint") == key:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            if saved["scaler"]:
                precision.scaler.load_state_dict(saved["scaler"])
            generator.set_state(saved["generator"])
            torch.set_rng_state(saved["rng"])
            if device.type == "cuda" and saved.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(saved["cuda_rng"], device)
            curve = list(saved["curve"])
            start = len(curve) + 1
            step = len(curve) * steps_per_epoch
    for epoch in range(start, epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=generator).to(device)
        loss_sum = torch.zeros((), device=device, dtype=torch.float64)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        for i in range(steps_per_epoch):
            lr = 0.5 * config.lr * (1.0 + math.cos(math.pi * step / total_steps))
            for group in optimizer.param_groups:
                group["lr"] = lr
            index = order[i * batch_size:(i + 1) * batch_size]
            xb, yb = dataset.normalize(train_x[index]), train_y[index]
            if augment == "crop_flip":
                xb = crop_flip(xb, generator)
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with precision.autocast():
                logits, loss = _logits_and_loss(model, xb, yb, criterion, config.aux_weight)
            optimizer.zero_grad(set_to_none=True)
            precision.scaler.scale(loss).backward()
            if config.grad_clip:
                precision.scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            precision.scaler.step(optimizer)
            precision.scaler.update()
            loss_sum += loss.detach().double() * len(yb)
            correct += (logits.detach().argmax(1) == yb).sum()
            step += 1
        # One host sync per epoch: a NaN anywhere in the epoch leaves the sum NaN.
        train_loss = loss_sum.item() / (steps_per_epoch * batch_size)
        if not math.isfinite(train_loss):
            raise NonFiniteLossError(f"training loss is {train_loss} in epoch {epoch} (diverged)")
        val_loss, val_acc = evaluate_model(model, val_x, val_y, dataset, config.eval_batch_size, precision,
                                           channels_last)
        if not math.isfinite(val_loss):
            raise NonFiniteLossError(f"validation loss is {val_loss} after epoch {epoch} (diverged)")
        entry = {"epoch": epoch, "train_loss": train_loss,
                 "train_acc": 100.0 * correct.item() / (steps_per_epoch * batch_size),
                 "val_loss": val_loss, "val_acc": val_acc, "lr": lr, "seconds": time.perf_counter() - started}
        curve.append(entry)
        if checkpoint is not None:
            atomic_save({"fingerprint": key, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "scaler": precision.scaler.state_dict(), "generator": generator.get_state(),
                         "rng": torch.get_rng_state(),
                         "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                         "curve": curve}, checkpoint)
        if on_epoch is not None:
            on_epoch(entry)
    return curve


def _fingerprint(model: nn.Module, dataset: Dataset, epochs: int, config: TrainConfig, seed: int,
                 device: torch.device, precision: Precision) -> str:
    # What a checkpoint must match to be continued: the network's layout, the run's settings, the data, and where
    # and at which precision it trains (a float16 run's loss scaler has state, a CPU run's none).
    layout = [(name, tuple(value.shape)) for name, value in model.state_dict().items()]
    key = {"layout": layout, "epochs": epochs, "seed": seed, "config": repr(config), "data": dataset.name,
           "train": int(len(dataset.train_y)), "device": device.type,
           "precision": f"{precision.enabled} {precision.dtype}"}
    return hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()
