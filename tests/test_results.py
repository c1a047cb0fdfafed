from __future__ import annotations

import math
import threading

import optuna
import pandas as pd
import pytest
from search_toys import ToyEvaluator, ToySpace

from nasbench.app.search import search
from nasbench.errors import NasbenchError
from nasbench.objectives import parse_objectives
from results.records import RECORD_KEYS, dataframe, export, records, top
from results.store import TrialWriter, clean, load_study, open_storage, open_study, storage_url


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'nested' / 'r.db'}"
    search(strategy="random", space=ToySpace(), evaluator=ToyEvaluator(), budget=24, storage=url, study="r",
           progress=False)
    return load_study(url, "r")


def test_sqlite_directory_is_created_and_url_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    open_storage("sqlite:///results/deep/x.db")
    assert (tmp_path / "results" / "deep").is_dir()
    assert storage_url("sqlite:///results/x.db") == f"sqlite:///{tmp_path / 'results' / 'x.db'}"
    assert storage_url("memory") is None


@pytest.mark.parametrize("url", ["nowhere", "foo://bar", "postgresql+nodriver://u@h/db"])
def test_bad_storage_url_is_a_one_line_error(url):
    with pytest.raises(NasbenchError) as caught:
        open_storage(url)
    assert "\n" not in str(caught.value)


def test_records_have_the_documented_keys_and_failures_their_reason(study):
    rows = records(study)
    assert len(rows) == 24 and all(tuple(row) == RECORD_KEYS for row in rows)
    assert [row["seed_name"] for row in rows[:2]] == ["small", "middle"]
    failed = [t for t in study.get_trials() if t.state.name == "FAIL"]
    assert failed and all("refuses" in t.user_attrs["outcome"]["error"] for t in failed)
    for row in rows:
        if row["state"] == "COMPLETE":
            assert row["objective"] == row["metrics"]["score"] and row["metrics"]["double"] == 2 * row["objective"]
        else:
            assert row["objective"] is None


def test_top_is_best_first(study):
    best = top(study, 5)
    values = [row["objective"] for row in best]
    assert values == sorted(values, reverse=True) and values[0] == study.best_value
    with pytest.raises(NasbenchError):
        top(study, 0)


def test_dataframe_and_exports(study, tmp_path):
    frame = dataframe(study)
    assert len(frame) == 24 and {"metric_score", "param_w0", "error", "seconds", "name"} <= set(frame.columns)
    csv = export(study, "csv", tmp_path / "out" / "r.csv")
    assert pd.read_csv(csv)["hash"].tolist() == frame["hash"].tolist()
    parquet = export(study, "parquet", tmp_path / "r.parquet")
    assert pd.read_parquet(parquet)["objective"].count() == frame["objective"].count()
    with pytest.raises(NasbenchError, match="format"):
        export(study, "xlsx", tmp_path / "r.xlsx")


def test_load_study_needs_a_name_when_there_are_several(tmp_path):
    url = f"sqlite:///{tmp_path / 'two.db'}"
    storage = open_storage(url)
    open_study(storage, "a", parse_objectives("acc:max"))
    open_study(storage, "b", parse_objectives("acc:max"))
    with pytest.raises(NasbenchError, match="choose a study"):
        load_study(url)
    assert load_study(url, "b").study_name == "b"
    open_study(storage, "c", parse_objectives("loss:min"))
    with pytest.raises(NasbenchError, match="exists and optimizes loss:min; this search would optimize loss:max"):
        open_study(storage, "c", parse_objectives("loss:max"))
    with pytest.raises(NasbenchError, match="optimizes loss:min; this search would optimize loss:min,params:min"):
        open_study(storage, "c", parse_objectives("loss:min,params:min"))
    assert load_study(url, "c").metric_names == ["loss"]


def test_a_study_another_searcher_is_creating_is_opened_once_its_names_are_stored(tmp_path, monkeypatch):
    """Optuna stores a new study's metric names after creating it: a searcher opening it in between waits for them."""
    storage = open_storage(f"sqlite:///{tmp_path / 'new.db'}")
    creating = optuna.create_study(storage=storage, study_name="s", direction="maximize")  # names not stored yet
    naming = threading.Timer(0.5, creating.set_metric_names, (["loss"],))
    naming.start()
    with pytest.raises(NasbenchError, match="exists and optimizes loss:max; this search would optimize acc:max"):
        open_study(storage, "s", parse_objectives("acc:max"))
    naming.join()
    assert open_study(storage, "s", parse_objectives("loss:max")).metric_names == ["loss"]
    monkeypatch.setattr("results.store.CREATION_SECONDS", 0.2)
    optuna.create_study(storage=storage, study_name="unnamed", direction="minimize")  # by Optuna alone
    with pytest.raises(NasbenchError, match="optimizes acc:min; this search would optimize acc:max"):
        open_study(storage, "unnamed", parse_objectives("acc:max"))
    assert open_study(storage, "unnamed", parse_objectives("acc:min")).metric_names == ["acc"]


def test_writer_stores_nan_as_fail_and_clean_json():
    study = optuna.create_study(direction="maximize")
    writer = TrialWriter(study, parse_objectives("acc:max"))
    handle = writer.start({"hash": "h", "x": float("inf")})
    writer.finish(handle, True, {"acc": float("nan")}, [{"epoch": 1, "acc": float("nan")}], 1.0, None)
    trial = study.get_trials()[0]
    assert trial.state.name == "FAIL" and "acc missing or not finite" in trial.user_attrs["outcome"]["error"]
    assert trial.user_attrs["x"] is None and trial.intermediate_values == {}
    assert clean({"a": [1.0, math.nan]}) == {"a": [1.0, None]}


def test_results_tables_fit_80_columns_and_wide_shows_everything(cli, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'narrow.db'}"
    search(strategy="random", space="nb201", evaluator="table", budget=6, seed=1, storage=url, progress=False,
           objectives="valid_acc_12:max,params:min")
    monkeypatch.setenv("COLUMNS", "80")
    for command in (["results", "show"], ["results", "top", "-k", "3"], ["results", "pareto"]):
        code, out, _ = cli(*command, "--storage", url)
        assert code == 0 and max(len(line) for line in out.splitlines()) <= 80, out
        assert "…" not in out.replace("seed nb201_resnet", "")  # nothing but a long origin may be cut
        assert "complete" in out and "valid_acc_12" in out and "K" in out  # humanized sizes: 559K
    code, out, _ = cli("results", "show", "--storage", url, "--wide")
    assert code == 0 and "nb201|" in out and "hash" in out and "…" not in out
