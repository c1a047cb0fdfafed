"""The ``table`` evaluator: look an architecture up in a tabular benchmark instead of training it.

The NAS-Bench-201 CIFAR-10 table ships in the package (``workers/data/nb201``, with its README and licences). Any CSV
with the same columns works (``table=PATH``). The key is the benchmark's architecture string, which the ``nb201``
search space stores in ``arch.meta["nb201"]``. The search sees ``valid_acc_12`` (percent) as the objective, as in the
NAS-Bench-201 protocol; every other column is reported as a metric. The table holds no training times, so ``seconds``
is the lookup time and no simulated time is reported.
"""

from __future__ import annotations

import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from nasbench.architecture import Architecture
from nasbench.errors import NasbenchError
from workers.base import OK, Evaluator, Result, register_evaluator

META_KEY = "nb201"
KEY_COLUMN = "arch"
METRIC_COLUMNS = ("valid_acc_12", "test_acc_12", "train_acc_200", "valid_acc_200", "test_acc_200",
                  "test_acc_200_trainval")
NB201_CIFAR10 = "nb201_cifar10.csv.gz"


def default_table_path() -> Path:
    """The NAS-Bench-201 CIFAR-10 table shipped inside the package."""
    return Path(str(resources.files("workers").joinpath("data", "nb201", NB201_CIFAR10)))


@lru_cache(maxsize=4)
def load_table(path: str) -> dict[str, dict[str, float]]:
    """Architecture string -> metrics (``index`` and every metric column as floats), read once per process."""
    import pandas as pd

    if not Path(path).is_file():
        raise NasbenchError(f"table not found: {path}")
    try:
        frame = pd.read_csv(path)
    except (ValueError, OSError) as error:
        raise NasbenchError(f"table {path}: cannot read it as CSV: {error}") from None
    missing = [c for c in (KEY_COLUMN, *METRIC_COLUMNS) if c not in frame.columns]
    if missing:
        raise NasbenchError(f"table {path}: missing column(s) {', '.join(missing)} "
                            f"(expected {KEY_COLUMN}, {', '.join(METRIC_COLUMNS)}, optionally index)")
    if frame[KEY_COLUMN].duplicated().any():
        raise NasbenchError(f"table {path}: duplicate architecture strings in column {KEY_COLUMN!r}")
    columns = [c for c in ("index", *METRIC_COLUMNS) if c in frame.columns]
    values = frame[columns].astype(float).to_numpy().tolist()
    return {key.strip(): dict(zip(columns, row)) for key, row in zip(frame[KEY_COLUMN].astype(str), values)}


@register_evaluator("table")
class TableEvaluator(Evaluator):
    """Score architectures of the ``nb201`` space by a NAS-Bench-201 table lookup (objective ``valid_acc_12``).

    ``table`` is a CSV path (default: the shipped CIFAR-10 table). ``fidelity`` is ignored: the table holds fixed
    12- and 200-epoch results; the curve lists the validation accuracy at both.
    """

    metrics = ("index", *METRIC_COLUMNS)
    objectives = "valid_acc_12:max"
    scores_space = "nb201"
    input_shape = (3, 32, 32)  # CIFAR-10, the task of the shipped table
    num_classes = 10
    drawings = False  # a lookup takes under a millisecond, drawing a cell about 230 ms: --drawings turns them on

    def __init__(self, table: str | Path | None = None) -> None:
        self.table = str(Path(table).expanduser()) if table is not None else str(default_table_path())
        self.setup()  # fail at construction on a missing or malformed table

    def setup(self) -> None:
        """Read the table (once per process)."""
        load_table(self.table)

    def evaluate(self, arch: Architecture, fidelity: int | None = None, seed: int = 0) -> Result:
        """Look ``arch`` up; a FAIL Result names the reason when it is not in the table."""
        started = time.perf_counter()
        key = arch.meta.get(META_KEY)
        if not isinstance(key, str):
            return Result.failure(f"architecture {arch.name!r} has no NAS-Bench-201 string in meta[{META_KEY!r}] "
                                  "(the table evaluator scores architectures of the nb201 space)",
                                  time.perf_counter() - started)
        row = load_table(self.table).get(key.strip())
        if row is None:
            return Result.failure(f"architecture {key!r} is not in the table {self.table}",
                                  time.perf_counter() - started)
        curve: list[dict[str, Any]] = [{"epoch": 12, "val_acc": row["valid_acc_12"]},
                                       {"epoch": 200, "val_acc": row["valid_acc_200"]}]
        return Result(OK, dict(row), curve, time.perf_counter() - started)
