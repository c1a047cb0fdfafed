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

import optuna
import torch
from optuna.trial import FrozenTrial
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import nn

import search_spaces
from nasbench.app.load import load
from nasbench.app.search import make_evaluator
from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from nasbench.objectives import ANALYTIC_METRICS
from nasbench.summary import human
from results.store import (
    DEFAULT_STORAGE,
    RETRAIN,
    TrialWriter,
    beside_store,
    genome_json,
    load_study,
    study_objectives,
    trial_with_genome,
)
from search_spaces.base import SearchSpace
from workers.base import Result
from workers.train_evaluator import DEFAULT_EPOCHS, TrainEvaluator

WIDTH = 80  # columns of every printed line
RETRAIN_SUFFIX = ".retrain"  # the folder of the training runs' checkpoints, beside the store


@dataclass
class Training:
    """One training run: the architecture as trained (at its transferred size), the trained module, its Result.

    ``model`` is None when the training failed (``result.error`` says why).
    """

    arch: Architecture
    model: nn.Module | None
    result: Result


def train(arch: str | Path | Architecture, dataset: str | None = None, epochs: int = DEFAULT_EPOCHS, seed: int = 0,
          space: str | SearchSpace | None = None, cells: int | None = None, width: int | None = None,
          evaluator_options: Mapping[str, Any] | None = None, save: str | Path | None = None,
          progress: bool = True, storage: str | None = None, study: str | None = None,
          checkpoint: bool = True) -> Training:
    """Train ``arch`` on ``dataset`` for ``epochs`` epochs under ``seed`` and return the run.

    ``arch`` is a trial number of the study in ``storage`` (``study``: which one), a zoo name, a genome file or text
    (``nasbench.app.load``), an Architecture, or, with ``space``, the name of one of that space's seeds
    (``darts_v2``), which are looked up first. A trial is trained on its study's dataset unless ``dataset`` says
    otherwise (default: digits), and its space is the study's. ``space`` is the cell space ``arch`` belongs to
    (default: the one its ``meta["space"]`` names), built for the dataset; ``cells`` and ``width`` transfer the cells
    to a network of that size (the space's size options, e.g. darts ``layers`` and ``C``; None keeps the space's
    default). ``evaluator_options`` are the ``train`` evaluator's options (``lr``, ``batch_size``, ``device``, ...).
    ``save`` writes the trained ``state_dict`` (on the CPU) there; ``progress`` prints the architecture, a bar over
    the epochs and the final accuracies. ``checkpoint`` saves every epoch beside the store
    (``<store>.retrain/``), so that the same command run again after a kill continues from the last epoch. A run
    of a study's trial, or with ``study`` given, is recorded in that study as a trial of origin ``retrain`` (which
    a resumed search does not count). Bad input raises NasbenchError before any training; a failed training
    returns a Result with its reason.
    """
    if epochs < 1:
        raise NasbenchError(f"epochs must be at least 1, got {epochs}")
    url = storage or DEFAULT_STORAGE
    the_study, trial = _trial(arch, url, study)
    if the_study is not None and trial is not None:
        dataset = dataset or _study_dataset(the_study)
        space = space or the_study.user_attrs.get("space")
    elif study is not None:
        the_study = load_study(url, study, read_only=False)
    dataset = dataset or "digits"
    size_options = {key: value for key, value in (("cells", cells), ("width", width)) if value is not None}
    # One run, not a search: torch's own thread count rather than a search's one thread per evaluation.
    # The test split's accuracy too, where the dataset has one.
    judge = make_evaluator("train", dataset, None, {"threads": None, "test": True, **dict(evaluator_options or {}),
                                                    **size_options})
    if not isinstance(judge, TrainEvaluator):
        raise NasbenchError(f"the 'train' evaluator is a {type(judge).__name__}, which has no fit()")
    shape, classes = tuple(judge.input_shape), int(judge.num_classes)
    the_space = None if space is None else search_spaces.get(space, input_shape=shape, num_classes=classes)
    source = Architecture.from_json(genome_json(trial) or "") if trial is not None else resolve(arch, the_space)
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
    objectives = study_objectives(the_study) if the_study is not None else ()
    unscored = [o.metric for o in objectives if o.metric not in (*judge.metrics, *ANALYTIC_METRICS)]
    folder = beside_store(url, RETRAIN_SUFFIX) if checkpoint else None
    saved_at = (folder / f"{source.hash()[:16]}-{judge.task}-{epochs}ep-seed{seed}"
                f"{'-' + '-'.join(f'{k}{v}' for k, v in size_options.items()) if size_options else ''}.pt"
                if folder is not None else None)
    if progress:
        print(_line(architecture.name + (f" (trial {trial.number} of {the_study.study_name})" if trial else "")))
        print(f"params {lowered.params:,}  MACs {human(lowered.macs)}  input {'x'.join(map(str, shape))}"
              + (f"  ({size})" if size else ""))
        print(_line(f"training on {judge.task} for {epochs} epoch{'s' if epochs > 1 else ''}, seed {seed}"))
    with EpochBar(epochs, enabled=progress) as bar:
        if saved_at is not None and saved_at.is_file():
            bar.note(_line(f"continuing from {saved_at}"))
        model, result = judge.fit(source, epochs, seed, on_epoch=bar.update if progress else None,
                                  checkpoint=saved_at)
        if result.curve:
            bar.update(result.curve[-1])  # a run continued from its checkpoint reports only its new epochs
    if result.ok and model is not None and save is not None:
        path = Path(save)
        path.parent.mkdir(parents=True, exist_ok=True)
        # CPU tensors, so that the file loads on a machine without the GPU it was trained on.
        torch.save({key: value.detach().cpu() for key, value in model.state_dict().items()}, path)
    recorded = None
    if the_study is not None and result.ok and not unscored:
        recorded = record_retrain(the_study, source, lowered, result, epochs, seed, judge.task,
                                  trial.number if trial is not None else None)
    if progress and result.ok:
        metrics = result.metrics
        test_text = (f"  test_acc {metrics['test_acc']:.2f}" if "test_acc" in metrics
                     else f"  (no test split in {judge.task})")
        print(f"val_acc {metrics['val_acc']:.2f} (best {metrics['best_val_acc']:.2f}){test_text}  "
              f"in {result.seconds:.1f} s")
        if save is not None:
            print(_line(f"saved the state_dict to {save}"))
        if recorded is not None:
            print(_line(f"recorded as trial {recorded} of {the_study.study_name} (origin retrain)"))
        elif the_study is not None:
            print(_line(f"not recorded in {the_study.study_name}: its objective(s) {', '.join(unscored)} are not "
                        "training metrics"))
    return Training(architecture, model, result)


def _trial(source: str | Path | Architecture, url: str, study: str | None
           ) -> tuple[optuna.Study | None, FrozenTrial | None]:
    """The study and trial a number names (None, None for anything else)."""
    if not (isinstance(source, str) and source.isdigit()):
        return None, None
    found = load_study(url, study)  # read-only: a missing store is an error, not a new file
    trial = trial_with_genome(found, int(source))
    return load_study(url, found.study_name, read_only=False), trial


def _study_dataset(study: optuna.Study) -> str | None:
    # The dataset a search trained on: its evaluator's (train) or the supernet's; a table search's is the table's.
    attrs = study.user_attrs
    return attrs.get("search_dataset") or (attrs.get("dataset") if attrs.get("evaluator") == "train" else None)


def record_retrain(study: optuna.Study, arch: Architecture, lowered: Any, result: Result, epochs: int, seed: int,
                   dataset: str, of: int | None) -> int:
    """Store a finished training run in ``study`` as a COMPLETE trial of origin ``retrain``; its number.

    The same run (architecture, epochs, seed and dataset) recorded before, by a command run again, is not recorded
    twice: its trial's number is returned.
    """
    for earlier in study.get_trials(deepcopy=False):
        given = earlier.user_attrs
        if (given.get("origin") == RETRAIN and given.get("hash") == arch.hash() and given.get("fidelity") == epochs
                and given.get("seed_of_training") == seed and given.get("dataset") == dataset):
            return earlier.number
    writer = TrialWriter(study, study_objectives(study))
    attrs = {"genome": arch.to_json(indent=None), "hash": arch.hash(), "name": arch.name, "origin": RETRAIN,
             "params": lowered.params, "macs": lowered.macs, "fidelity": epochs, "seed_of_training": seed,
             "dataset": dataset, **({"retrain_of": of} if of is not None else {})}
    handle = writer.start(attrs)
    metrics = {**result.metrics, "params": float(lowered.params), "macs": float(lowered.macs)}
    writer.finish(handle, True, metrics, result.curve, result.seconds, None)
    return study._storage.get_trial(handle.trial_id).number


class EpochBar:
    """A bar over a training run's epochs showing the last validation accuracy (a no-op when disabled)."""

    def __init__(self, epochs: int, enabled: bool = True) -> None:
        self.progress = Progress(TextColumn("[bold]epochs"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 disable=not enabled)
        self.task = self.progress.add_task("epochs", total=epochs, status="")

    def __enter__(self) -> EpochBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, entry: dict[str, float]) -> None:
        """Show epoch ``entry["epoch"]`` done with its validation accuracy and loss."""
        self.progress.update(self.task, completed=int(entry["epoch"]),
                             status=f"val_acc {entry['val_acc']:6.2f}  train_loss {entry['train_loss']:.4f}")

    def note(self, text: str) -> None:
        """Print ``text`` above the bar."""
        self.progress.console.print(text, markup=False, highlight=False)


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
