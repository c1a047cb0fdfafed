"""Every trial's pictures and note, as Optuna artifacts and a dashboard note, written while it is evaluated.

For each trial the search draws its network (cell instances as single boxes) and each of its cell templates as SVG
(``nasbench.draw``), uploads them to the search's artifact store (``optuna.artifacts.FileSystemArtifactStore``, in a
folder beside the study) and writes a short Markdown note (name, origin, size, the top of the per-layer summary),
which optuna-dashboard shows on the trial's page. The work runs on one background thread, so the loop does not wait
for matplotlib while a candidate trains; the loop waits for a trial's artifacts only when it stores the trial's
result, so that they are there before the trial finishes. A drawing or upload that fails is a warning on the
console and the trial goes on without it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact
from optuna.storages import BaseStorage

from nasbench.architecture import Architecture
from nasbench.draw import draw
from nasbench.errors import error_line
from nasbench.summary import human, summary_rows
from results.records import origin

ARTIFACTS_SUFFIX = ".artifacts"
NOTE_LAYERS = 12  # rows of the per-layer summary in a trial's note
NETWORK_FILE = "network.svg"


def artifact_store(directory: str | Path) -> FileSystemArtifactStore:
    """The artifact store of a search (its folder created if missing)."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(directory))


def mutation_text(attrs: Mapping[str, Any]) -> str:
    """`` by <the last mutation>`` (and how many there were) for a mutated candidate, else nothing."""
    if not attrs.get("mutation"):
        return ""
    count = attrs.get("mutations")
    more = f", the last of {count} mutations" if isinstance(count, int) and count > 1 else ""
    return f" by {attrs['mutation']}{more}"


def trial_note(arch: Architecture, attrs: Mapping[str, Any]) -> str:
    """A trial's Markdown note: name, hash, origin, size and the first rows of the per-layer summary."""
    lines = [f"## {arch.name}", "",
             f"- **origin**: {origin(attrs)}{mutation_text(attrs)}",
             f"- **hash**: `{attrs.get('hash', arch.hash())}`"]
    params, macs = attrs.get("params"), attrs.get("macs")
    if params is not None and macs is not None:
        lines.append(f"- **size**: {human(params)} parameters, {human(macs)} MACs, input "
                     f"{'x'.join(map(str, arch.input_shape))}")
    rows = [row for row in summary_rows(arch) if row.depth == 0]
    lines += ["", "| layer | op | output | params | MACs |", "| --- | --- | --- | ---: | ---: |"]
    for row in rows[:NOTE_LAYERS]:
        label = f"[{row.label}]" if row.kind == "cell" else row.label
        shape = "x".join(map(str, row.output_shape))
        lines.append(f"| {row.name} | {label.replace('|', '/')} | {shape} | {human(row.params)} | "
                     f"{human(row.macs)} |")
    if len(rows) > NOTE_LAYERS:
        lines.append(f"| ... {len(rows) - NOTE_LAYERS} more | | | | |")
    return "\n".join(lines) + "\n"


def drawings(arch: Architecture, folder: Path) -> list[Path]:
    """SVG files of the network and of each cell template, in ``folder``."""
    files = [draw(arch, folder / NETWORK_FILE)]
    files += [draw(arch, folder / f"cell-{name}.svg", cell=name) for name in arch.cells]
    return files


def save_trial_note(storage: BaseStorage, study_id: int, trial_id: int, body: str) -> None:
    """Write ``body`` as the trial's optuna-dashboard note (nothing without the dashboard extra installed)."""
    try:
        from optuna_dashboard._note import save_note_with_version
    except ImportError:
        return
    # The first note of a new trial: version 1 (optuna_dashboard.save_note would read every study attribute to
    # find the next version, which grows with the study).
    save_note_with_version(storage, study_id, trial_id, 1, body)


class TrialArtifacts:
    """Writes the drawings and note of each trial on a background thread; ``wait`` before the trial finishes.

    ``warn(message)`` reports a trial whose artifacts failed (the search goes on).
    """

    def __init__(self, study: optuna.Study, directory: str | Path, warn: Callable[[str], None]) -> None:
        self.storage: BaseStorage = study._storage  # Optuna exposes no public getter for a study's storage
        self.study_id = study._study_id
        self.store = artifact_store(directory)
        self.warn = warn
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nasbench-artifacts")
        self._pending: dict[int, Future[None]] = {}

    def attach(self, trial_id: int, arch: Architecture, attrs: Mapping[str, Any]) -> None:
        """Start drawing and uploading the artifacts of trial ``trial_id`` (its candidate ``arch``)."""
        # A copy: the loop hands the candidate on while it is drawn.
        self._pending[trial_id] = self._pool.submit(self._write, trial_id, arch.copy(), dict(attrs))

    def _write(self, trial_id: int, arch: Architecture, attrs: dict[str, Any]) -> None:
        trial = self.storage.get_trial(trial_id)
        with tempfile.TemporaryDirectory(prefix="nasbench-draw-") as folder:
            for path in drawings(arch, Path(folder)):
                upload_artifact(artifact_store=self.store, file_path=str(path), study_or_trial=trial,
                                storage=self.storage)
        save_trial_note(self.storage, self.study_id, trial_id, trial_note(arch, attrs))

    def wait(self, trial_id: int) -> None:
        """Block until trial ``trial_id``'s artifacts are written; a failure is a warning."""
        future = self._pending.pop(trial_id, None)
        if future is None:
            return
        try:
            future.result()
        except Exception as error:  # noqa: BLE001 -- a picture never fails a search
            number = self.storage.get_trial(trial_id).number
            self.warn(f"warning: trial {number}: its drawings or note were not stored ({error_line(error)})")

    def close(self) -> None:
        """Finish what is pending and stop the thread."""
        for trial_id in list(self._pending):
            self.wait(trial_id)
        self._pool.shutdown(wait=True)
