"""One-shot strategies: train the space's supernet as one job, then hand its derived architectures to evaluation.

A ``OneShotStrategy`` speaks the same ask/tell as the black-box strategies. Its first ``ask`` runs a supernet search
on the search's training data (``SearchContext.data``, bound by the search): the training split is halved into weight
data and architecture data (DARTS's 50/50 split, fixed whatever the seed), the supernet is built for the data's
images and derives members of the search's space, whatever task that space scores on (digits for the supernet, the
NAS-Bench-201 CIFAR-10 table for the evaluation, say). Every epoch is stored in the job's journal (the supernet's
training and validation accuracy, the entropy of the architecture distribution, the genotype derived at that epoch
and its skip connections) and checkpointed in the context's directory (supernet, optimizers, architecture state,
generators), so that a job killed midway continues from its last epoch and trains exactly as an uninterrupted one.

At the end a job derives its architectures (the final genotype; with ``derive=epochs`` also the genotype of every
earlier epoch, latest first), which ``ask`` hands out one by one, skipping any already evaluated or proposed; then the
next of ``searches`` jobs (another search seed) runs. With nothing new left, ``ask`` raises ``StrategyExhausted``
and the search stops early. Seeds and every evaluation are told as usual; they do not steer a supernet.

Subclasses give the training of one epoch (``train_epoch``), the weights a forward pass of a derived architecture
uses (``derived_weights``), the entropy of their architecture distribution and their derivation; the darts family
lives in ``strategies.darts``, ENAS in ``strategies.enas``. The randomness of a job is one torch generator and one
numpy generator, both seeded from the strategy's seed and the job's index and both checkpointed.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - torch's own alias

from nasbench.architecture import Architecture
from nasbench.devices import Precision, resolve_device
from nasbench.errors import NasbenchError, error_line
from nasbench.files import atomic_save
from nasbench.objectives import Objective
from nasbench.options import Option
from nasbench.threads import num_threads
from search_spaces.base import SearchSpace
from search_spaces.supernet import Supernet
from strategies.base import DEFAULT_OBJECTIVES, Candidate, Observation, Strategy, StrategyExhausted
from strategies.context import Progress, SearchContext, TrainingData

SPLIT_SEED = 0  # the weight/architecture split is the same for every search seed, as DARTS's is
EVAL_BATCH = 256
DERIVE = ("final", "epochs")
CHECKPOINT_VERSION = 1


@dataclass
class Batches:
    """The weight data and architecture data of a job, on the job's device, drawn in minibatches."""

    data: TrainingData
    weight_x: torch.Tensor
    weight_y: torch.Tensor
    arch_x: torch.Tensor
    arch_y: torch.Tensor
    batch_size: int
    generator: torch.Generator
    device: torch.device
    channels_last: bool = False

    @property
    def steps(self) -> int:
        """Minibatches per epoch (the ragged last one dropped: a batch of one breaks BatchNorm)."""
        return max(1, len(self.weight_y) // self.batch_size)

    def epoch(self) -> Iterator[tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]]:
        """One epoch of (weight batch, architecture batch) pairs, both reshuffled (DARTS's two queues)."""
        weight_order = torch.randperm(len(self.weight_y), generator=self.generator)
        arch_order = torch.randperm(len(self.arch_y), generator=self.generator)
        size = min(self.batch_size, len(self.weight_y), len(self.arch_y))
        for step in range(self.steps):
            w = weight_order[step * size:(step + 1) * size]
            a = arch_order[(step * size) % len(arch_order):][:size]
            if len(a) < size:
                a = arch_order[:size]
            yield ((self.prepare(self.weight_x[w], True), self.weight_y[w].to(self.device)),
                   (self.prepare(self.arch_x[a], True), self.arch_y[a].to(self.device)))

    def arch_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One random minibatch of architecture data (ENAS's reward batch)."""
        index = torch.randperm(len(self.arch_y), generator=self.generator)[:self.batch_size]
        return self.prepare(self.arch_x[index], True), self.arch_y[index].to(self.device)

    def prepare(self, x: torch.Tensor, augment: bool) -> torch.Tensor:
        """Normalized (and, for training, augmented) images on the device."""
        x = self.data.normalize(x.to(self.device))
        if augment:
            x = self.data.augmented(x, self.generator)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def arch_eval(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The whole architecture data in evaluation batches, in order and not augmented."""
        for start in range(0, len(self.arch_y), EVAL_BATCH):
            yield (self.prepare(self.arch_x[start:start + EVAL_BATCH], False),
                   self.arch_y[start:start + EVAL_BATCH].to(self.device))


@dataclass
class Job:
    """One supernet search in progress: its supernet, the strategy's training state, data and curve."""

    index: int
    name: str
    supernet: Supernet
    batches: Batches
    precision: Precision
    state: dict[str, Any]
    rng: np.random.Generator
    curve: list[dict[str, Any]] = field(default_factory=list)
    epoch: int = 0  # the epoch being trained, counted from 0

    def path(self, choices: Mapping[str, Any]) -> tuple[list[torch.Tensor], Any]:
        """The supernet's one-hot path of ``choices`` (``Supernet.path``), on the job's device."""
        weights, active = self.supernet.path(choices)
        return [w.to(self.batches.device) for w in weights], active


@dataclass
class SupernetSearch:
    """One supernet search of a one-shot strategy as a picklable task (``SearchContext.run`` may run it elsewhere)."""

    strategy: OneShotStrategy
    index: int

    def __call__(self, report: Progress) -> list[dict[str, Any]]:
        """Train the search, ``report`` each epoch's record, and return the derived architectures."""
        return self.strategy.train_job(self.index, report)


def job_name(strategy: str, index: int) -> str:
    """The name of a strategy's supernet search ``index`` (its journal trial and checkpoint file)."""
    return f"{strategy}-search{index}"


def job_seed(seed: int, index: int) -> int:
    """The seed of job ``index`` of a strategy seeded ``seed`` (distinct for every pair)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def split_halves(n: int, fraction: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """DARTS's split of ``fraction`` of the training images: a fixed random half for the weights, the rest for alpha."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    used = order[:max(4, round(fraction * n))]
    return used[:len(used) // 2], used[len(used) // 2:]


def categorical_entropy(weights: Sequence[torch.Tensor]) -> float:
    """Mean entropy (nats) of the rows of softmax weights: log(ops) when uniform, 0 when every row is one-hot."""
    rows = torch.cat([w.detach().reshape(-1, w.shape[-1]) for w in weights if w.dim() == 2])
    return float(-(rows * rows.clamp_min(1e-12).log()).sum(-1).mean())


def skip_connections(choices: Mapping[str, Any]) -> int:
    """How many of a cell space's choices are skip connections (the count that grows when DARTS collapses)."""
    return sum(1 for value in choices.values() if value == "skip_connect")


def genotype_text(arch: Architecture, choices: Mapping[str, Any]) -> str:
    """The benchmark string where the space has one (NAS-Bench-201), else the flat choices as compact JSON."""
    text = arch.meta.get("nb201")
    return text if isinstance(text, str) else json.dumps(dict(choices), separators=(",", ":"))


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError(f"must be positive, got {value:g}")
    return value


def _share(value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError(f"must be in (0, 1], got {value:g}")
    return value


COMMON_OPTIONS = (
    Option("C", int, None, "Supernet width (initial channels); none: the space's search default (NB201/DARTS 16, "
                           "8 here to run in minutes on digits)", minimum=1, optional=True),
    Option("layers", int, None, "Supernet depth: cells per stage (nb201, paper 5) or cells (darts, paper 8); none: "
                                "the default of the space", minimum=1, optional=True),
    Option("epochs", int, 20, "Supernet training epochs (papers: 50)", minimum=1),
    Option("batch_size", int, 64, "Minibatch of weight data and of architecture data (DARTS: 64)", minimum=2),
    Option("fraction", float, 1.0, "Share of the training split the supernet search uses (PC-DARTS searches "
                                   "ImageNet on a sample of it)", check=_share),
    Option("searches", int, 1, "Supernet searches, each with its own seed; their derived architectures are "
                               "evaluated in turn", minimum=1),
    Option("derive", str, "final", "final: the genotype at the end of each search; epochs: also the genotype of "
                                   "every earlier epoch, latest first", choices=DERIVE),
)


class OneShotStrategy(Strategy):
    """Base class of the strategies that train a supernet as one job and derive architectures from it."""

    multi_objective = False
    options: ClassVar[tuple[Option, ...]] = COMMON_OPTIONS
    smoke_options: ClassVar[dict[str, Any]] = {"C": 4, "layers": 1, "epochs": 1, "batch_size": 16, "searches": 8,
                                               "fraction": 0.05}
    # Supernet size of each space where the options leave it unset: small enough for minutes on 2 CPU cores.
    default_size: ClassVar[dict[str, tuple[int, int]]] = {"nb201": (8, 1), "darts": (8, 5), "enas-macro": (8, 12)}

    def __init__(self, space: SearchSpace, objectives: Sequence[Objective] = DEFAULT_OBJECTIVES, seed: int = 0,
                 budget: int | None = None, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(space, objectives, seed, budget, options)
        if type(space).supernet is SearchSpace.supernet:
            raise NasbenchError(f"strategy {self.name!r} trains a supernet; space {space.name!r} has none "
                                "(nb201, darts and enas-macro have)")
        self.queue: list[dict[str, Any]] = []  # derived choices still to propose, with where they come from
        self.seen: set[str] = set()  # hashes told or proposed
        self.jobs_done = 0
        self.derived = 0

    # -- what a subclass gives -------------------------------------------------------------------------------------

    def relaxation(self) -> dict[str, Any]:
        """The supernet's relaxation options (``search_spaces.supernet``)."""
        return {}

    def setup(self, supernet: Supernet, rng: np.random.Generator) -> dict[str, Any]:
        """The job's training state (optimizers, controller): objects with ``state_dict``/``load_state_dict``."""
        raise NotImplementedError

    def train_epoch(self, job: Job, epoch: int) -> dict[str, float]:
        """Train one epoch (counted from 0); returns at least ``train_loss`` and ``train_acc``."""
        raise NotImplementedError

    def derived_weights(self, job: Job) -> tuple[list[torch.Tensor] | None, Any]:
        """The (weights, active) of a forward pass that validates the supernet (None, None: its relaxation)."""
        return None, None

    def entropy(self, job: Job) -> float:
        """The entropy of the architecture distribution (nats per decision)."""
        return categorical_entropy(job.supernet.mixture())

    def current_choices(self, job: Job) -> dict[str, Any]:
        """The flat choices the job derives now."""
        return job.supernet.choices()

    def final_choices(self, job: Job) -> list[dict[str, Any]]:
        """What a finished job hands to evaluation, best first (default: its final genotype)."""
        return [self.current_choices(job)]

    # -- the ask/tell contract -------------------------------------------------------------------------------------

    def bind(self, context: SearchContext) -> None:
        """Receive the search's data; a supernet that does not fit the data is a one-line error now."""
        super().bind(context)
        if context.data is None:
            return
        data = context.data
        try:
            probe = self.build_supernet(data)
            self.check_supernet(probe)
            channels, height, width = data.input_shape
            with torch.no_grad():
                probe.eval()(torch.zeros(2, channels, height, width))
        except NasbenchError:
            raise
        except Exception as error:  # noqa: BLE001 -- any failure to run the supernet on the data is a misfit
            raise NasbenchError(f"strategy {self.name!r}: the {self.space.name} supernet does not fit dataset "
                                f"{data.name!r} ({'x'.join(map(str, data.input_shape))}): "
                                f"{error_line(error)}") from None

    def ask(self) -> Candidate:
        """The next derived architecture not evaluated yet; runs the next supernet search when none is left."""
        while True:
            while self.queue:
                entry = self.queue.pop(0)
                arch = self.space.decode(entry["choices"])
                arch_hash = arch.hash()
                if arch_hash in self.seen:
                    continue
                self.seen.add(arch_hash)
                return Candidate(arch, {"origin": "derived", "derived": entry["derived"]})
            if self.jobs_done >= self.config["searches"]:
                raise StrategyExhausted(f"{self.name}: nothing new to derive ({self.derived} architectures derived by "
                                        f"{self.jobs_done} supernet search(es), all evaluated)")
            found = self.run_job(self.jobs_done)
            self.jobs_done += 1
            self.derived += len(found)
            self.queue.extend(found)

    def tell(self, candidate: Candidate, observation: Observation) -> None:
        """Remember the evaluated architecture, so that it is not proposed again."""
        self.seen.add(candidate.info.get("hash") or candidate.arch.hash())

    def state_dict(self) -> dict[str, Any]:
        """The derived architectures still to propose, the hashes seen and the jobs done (supernets are on disk)."""
        return {**super().state_dict(), "queue": self.queue, "seen": sorted(self.seen), "jobs_done": self.jobs_done,
                "derived": self.derived}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore ``state_dict``."""
        super().load_state_dict(state)
        self.queue = [dict(entry) for entry in state["queue"]]
        self.seen = set(state["seen"])
        self.jobs_done = int(state["jobs_done"])
        self.derived = int(state["derived"])

    # -- the supernet job ------------------------------------------------------------------------------------------

    def size(self) -> tuple[int, int]:
        """(C, layers) of the supernet."""
        width, depth = self.default_size.get(self.space.name, (8, 1))
        return self.config["C"] or width, self.config["layers"] or depth

    def check_supernet(self, supernet: Supernet) -> None:
        """A one-line NasbenchError if the strategy cannot search this supernet (none by default)."""

    def build_supernet(self, data: TrainingData) -> Supernet:
        """The space's supernet for the data's images and classes, with this strategy's relaxation."""
        width, depth = self.size()
        supernet = self.space.supernet(width, depth, in_channels=data.input_shape[0], num_classes=data.num_classes,
                                       **self.relaxation())
        if not isinstance(supernet, Supernet):
            raise NasbenchError(f"space {self.space.name!r}: its supernet is not a search_spaces.supernet.Supernet")
        return supernet

    def fingerprint(self, index: int, data: TrainingData) -> str:
        """What a checkpoint must match to be continued: strategy, options, seed, job, space and data."""
        key = {"strategy": self.name, "config": self.config, "seed": self.seed, "job": index, "space": self.space.name,
               "variables": len(self.fixed_variables()), "data": [data.name, list(data.input_shape),
                                                                  int(len(data.train_y))]}
        return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()

    def run_job(self, index: int) -> list[dict[str, Any]]:
        """Run supernet search ``index`` where the search runs its work (``SearchContext.run``); what it derives.

        Its epochs reach the journal and the progress bar here, whichever process trains it.
        """
        context = self.context
        if context.data is None:
            raise NasbenchError(f"strategy {self.name!r} trains a supernet on the search's data: run it through "
                                "nasbench search / nasbench.search(), or bind a SearchContext with data")
        name = job_name(self.name, index)
        epochs = self.config["epochs"]
        if context.journal is not None:
            context.journal.start(name, {"strategy": self.name, "seed": self.seed, "search": index, **self.config})
        bar = context.progress(f"{name} epochs", epochs) if context.progress is not None else None

        def report(entry: dict[str, Any]) -> None:
            if context.journal is not None:
                context.journal.epoch(name, entry)
            if bar is not None:
                bar.update(int(entry["epoch"]), f"val_acc {entry['val_acc']:.1f} skips {entry['skips']}")

        found = context.run(SupernetSearch(self.detached(), index), report)
        if context.journal is not None:
            context.journal.finish(name, {"derived": [entry["derived"] for entry in found]})
        if bar is not None:
            bar.close()
        return found

    def detached(self) -> OneShotStrategy:
        """A copy that trains jobs without the search's journal or bars (they stay with the search), to ship away.

        Its checkpoint directory is absolute, so that a worker in another folder (a Ray trial's) finds it.
        """
        context = self.context
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.context = SearchContext(loader=context.loader, device=context.device, threads=context.threads,
                                     directory=context.directory.resolve() if context.directory is not None else None,
                                     _data=context.data)
        return copy

    def train_job(self, index: int, report: Progress) -> list[dict[str, Any]]:
        """Train supernet search ``index`` (continuing its checkpoint), ``report`` each epoch; its derivations."""
        context = self.context
        data = context.data
        assert data is not None  # run_job checked it
        name = job_name(self.name, index)
        device = resolve_device(context.device)
        with num_threads(context.threads), torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            job = self.start_job(index, name, data, device)
            path = context.directory / f"{name}.pt" if context.directory is not None else None
            fingerprint = self.fingerprint(index, data)
            start = self.restore(job, path, fingerprint)
            for epoch in range(start, self.config["epochs"]):
                job.supernet.train()
                job.epoch = epoch
                started = time.perf_counter()
                entry: dict[str, Any] = {"epoch": epoch + 1, **self.train_epoch(job, epoch)}
                entry["seconds"] = time.perf_counter() - started
                entry.update(self.measure(job))
                job.curve.append(entry)
                report(entry)
                if path is not None:
                    self.save(job, path, fingerprint, epoch + 1)
            return self.derivations(job)

    def start_job(self, index: int, name: str, data: TrainingData, device: torch.device) -> Job:
        """A fresh job: its supernet initialised from the job's seed, its data split, its generators."""
        seed = job_seed(self.seed, index)
        torch.manual_seed(seed)  # the supernet's initialisation
        supernet = self.build_supernet(data).to(device)
        precision = Precision(device, True)
        channels_last = device.type == "cuda"
        if channels_last:
            supernet.to(memory_format=torch.channels_last)
        weight, arch = split_halves(len(data.train_y), self.config["fraction"])
        batches = Batches(data, data.train_x[weight], data.train_y[weight], data.train_x[arch], data.train_y[arch],
                          self.config["batch_size"], torch.Generator().manual_seed(seed), device, channels_last)
        rng = np.random.default_rng(seed)
        return Job(index, name, supernet, batches, precision, self.setup(supernet, rng), rng)

    def restore(self, job: Job, path: Path | None, fingerprint: str) -> int:
        """Continue from ``path`` if it holds this job's checkpoint; the epoch to start from."""
        if path is None or not path.is_file():
            return 0
        # On the CPU: generator states must be CPU tensors; the supernet and optimizers copy theirs to the device.
        saved = torch.load(path, map_location="cpu", weights_only=False)
        if saved.get("version") != CHECKPOINT_VERSION or saved.get("fingerprint") != fingerprint:
            return 0  # another configuration's job: start afresh (it is overwritten at the first epoch)
        job.supernet.load_state_dict(saved["supernet"])
        for key, value in saved["state"].items():
            job.state[key].load_state_dict(value)
        job.batches.generator.set_state(saved["generator"])
        job.rng.bit_generator.state = saved["rng"]
        job.curve = list(saved["curve"])
        return int(saved["epoch"])

    def save(self, job: Job, path: Path, fingerprint: str, epoch: int) -> None:
        """Checkpoint the job after ``epoch`` epochs."""
        atomic_save({"version": CHECKPOINT_VERSION, "fingerprint": fingerprint, "epoch": epoch,
                     "supernet": job.supernet.state_dict(),
                     "state": {key: value.state_dict() for key, value in job.state.items()},
                     "generator": job.batches.generator.get_state(), "rng": job.rng.bit_generator.state,
                     "curve": job.curve}, path)

    def measure(self, job: Job) -> dict[str, Any]:
        """Validation accuracy on the architecture data, the entropy and the genotype derived now."""
        supernet = job.supernet
        supernet.eval()
        weights, active = self.derived_weights(job)
        correct, total = 0, 0
        with torch.no_grad():
            for x, y in job.batches.arch_eval():
                with job.precision.autocast():
                    logits = supernet(x, weights, active)
                correct += int((logits.argmax(1) == y).sum())
                total += len(y)
        choices = self.current_choices(job)
        arch = self.space.decode(choices)
        return {"val_acc": 100.0 * correct / max(1, total), "entropy": self.entropy(job),
                "genotype": genotype_text(arch, choices), "skips": skip_connections(choices), "choices": choices}

    def derivations(self, job: Job) -> list[dict[str, Any]]:
        """The job's derived architectures in the order they are proposed."""
        last = self.config["epochs"]
        found = [{"choices": choices, "derived": f"search{job.index} ep{last}"} for choices in self.final_choices(job)]
        if self.config["derive"] == "epochs":
            found += [{"choices": entry["choices"], "derived": f"search{job.index} ep{entry['epoch']}"}
                      for entry in reversed(job.curve[:-1])]
        return found


def cross_entropy_step(supernet: Supernet, x: torch.Tensor, y: torch.Tensor, precision: Precision,
                       weights: Sequence[torch.Tensor] | None = None, active: Any = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, logits) of one forward pass under mixed precision where it is on."""
    with precision.autocast():
        logits = supernet(x, weights, active)
    return F.cross_entropy(logits.float(), y), logits


def clip_and_step(parameters: list[nn.Parameter], optimizer: torch.optim.Optimizer, precision: Precision,
                  loss: torch.Tensor, clip: float | None) -> None:
    """Backward (scaled under float16), clip the gradient norm of ``parameters``, step."""
    precision.scaler.scale(loss).backward()
    if clip:
        precision.scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(parameters, clip)
    precision.scaler.step(optimizer)
    precision.scaler.update()


def cosine_lr(base: float, minimum: float, epoch: int, epochs: int) -> float:
    """DARTS's per-epoch cosine schedule from ``base`` down to ``minimum``."""
    return minimum + 0.5 * (base - minimum) * (1.0 + math.cos(math.pi * epoch / epochs))
