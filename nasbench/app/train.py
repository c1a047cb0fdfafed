"""``train(...)``, the Python twin of ``nasbench train``: one architecture trained once, optionally at another size.

NASNet and DARTS search their cells in a small network and evaluate them in a larger one (DARTS: 8 cells of 16
channels in the search, 20 cells of 36 channels on CIFAR-10). ``cells`` and ``width`` do the same here: they are the
``train`` evaluator's options of those names, which transfer through the architecture's cell space
(``SearchSpace.transfer``). Training is the evaluator's ``fit``, so that a run here trains exactly as an evaluation
in a search with those options does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

import search_spaces
from nasbench.app.load import load
from nasbench.app.search import make_evaluator
from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from nasbench.summary import human
from search_spaces.base import SearchSpace
from workers.base import Result
from workers.train_evaluator import DEFAULT_EPOCHS, TrainEvaluator

WIDTH = 80  # columns of every printed line


@dataclass
class Training:
    """One training run: the architecture as trained (at its transferred size), the trained module, its Result.

    ``model`` is None when the training failed (``result.error`` says why).
    """

    arch: Architecture
    model: nn.Module | None
    result: Result


def train(arch: str | Path | Architecture, dataset: str = "digits", epochs: int = DEFAULT_EPOCHS, seed: int = 0,
          space: str | SearchSpace | None = None, cells: int | None = None, width: int | None = None,
          evaluator_options: Mapping[str, Any] | None = None, save: str | Path | None = None,
          progress: bool = True) -> Training:
    """Train ``arch`` on ``dataset`` for ``epochs`` epochs under ``seed`` and return the run.

    ``arch`` is a zoo name, a genome file or text (``nasbench.app.load``), an Architecture, or, with ``space``, the
    name of one of that space's seeds (``darts_v2``), which are looked up first. ``space`` is the cell space ``arch``
    belongs to (default: the one its ``meta["space"]`` names), built for the dataset; ``cells`` and ``width``
    transfer the cells to a network of that size (the space's size options, e.g. darts ``layers`` and ``C``; None
    keeps the space's default). ``evaluator_options`` are the ``train`` evaluator's options (``lr``,
    ``batch_size``, ``device``, ...). ``save`` writes the trained ``state_dict`` (on the CPU) there; ``progress``
    prints the architecture, one line per epoch and the final accuracy. Bad input raises NasbenchError before any
    training; a failed training returns a Result with its reason.
    """
    if epochs < 1:
        raise NasbenchError(f"epochs must be at least 1, got {epochs}")
    size_options = {key: value for key, value in (("cells", cells), ("width", width)) if value is not None}
    # One run, not a search: torch's own thread count rather than a search's one thread per evaluation.
    judge = make_evaluator("train", dataset, None, {"threads": None, **dict(evaluator_options or {}), **size_options})
    if not isinstance(judge, TrainEvaluator):
        raise NasbenchError(f"the 'train' evaluator is a {type(judge).__name__}, which has no fit()")
    shape, classes = tuple(judge.input_shape), int(judge.num_classes)
    the_space = None if space is None else search_spaces.get(space, input_shape=shape, num_classes=classes)
    source = resolve(arch, the_space)
    size = ""
    if judge.transfers:
        if the_space is None:
            name = source.meta.get("space")
            if name is None:
                raise NasbenchError(f"cells/width need the cell space of {source.name} (--space nb201, darts, "
                                    "nasnet, ...): its genome names none")
            the_space = search_spaces.get(name, input_shape=shape, num_classes=classes)
        judge.use_space(the_space)
        resized = the_space.resized(cells, width)
        size = f"{resized.name}: " + " ".join(f"{option}={getattr(resized, option)}"
                                              for option in resized.size_options or ())
    # What fit trains (it transfers ``source`` itself, as in a search); here first, so that bad input raises.
    architecture = judge.trained(source)
    architecture.validate()
    lowered = architecture.lower(shape)
    if progress:
        print(_line(architecture.name))
        print(f"params {lowered.params:,}  MACs {human(lowered.macs)}  input {'x'.join(map(str, shape))}"
              + (f"  ({size})" if size else ""))
        print(_line(f"training on {judge.task} for {epochs} epoch{'s' if epochs > 1 else ''}, seed {seed}"))

    def report(entry: dict[str, float]) -> None:
        print(f"epoch {int(entry['epoch']):>3}/{epochs}  train_loss {entry['train_loss']:.4f}  "
              f"val_acc {entry['val_acc']:6.2f}  ({entry['seconds']:.1f} s)")

    model, result = judge.fit(source, epochs, seed, on_epoch=report if progress else None)
    if result.ok and model is not None and save is not None:
        path = Path(save)
        path.parent.mkdir(parents=True, exist_ok=True)
        # CPU tensors, so that the file loads on a machine without the GPU it was trained on.
        torch.save({key: value.detach().cpu() for key, value in model.state_dict().items()}, path)
    if progress and result.ok:
        print(f"val_acc {result.metrics['val_acc']:.2f} (best {result.metrics['best_val_acc']:.2f}) "
              f"in {result.seconds:.1f} s")
        if save is not None:
            print(_line(f"saved the state_dict to {save}"))
    return Training(architecture, model, result)


def resolve(source: str | Path | Architecture, space: SearchSpace | None = None) -> Architecture:
    """The architecture ``source`` names: with ``space``, one of its seeds of that name first, else ``load``."""
    if space is not None and isinstance(source, str):
        for seed in space.seeds():
            if seed.name == source:
                return seed
    try:
        return load(source)
    except NasbenchError as error:
        if space is None or not isinstance(source, str):
            raise
        seeds = ", ".join(seed.name for seed in space.seeds()) or "none"
        raise NasbenchError(f"{error}; nor a seed of space {space.name!r} ({seeds})") from None


def _line(text: str) -> str:
    # A long name (an nb201 cell string) is cut to the width rather than wrapped.
    return text if len(text) <= WIDTH else text[:WIDTH - 3] + "..."
