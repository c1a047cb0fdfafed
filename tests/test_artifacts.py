"""Every trial's drawings and note as Optuna artifacts; read-only commands never create or change a store."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import optuna
import pytest

import results.artifacts
from nasbench.app.search import search
from nasbench.errors import NasbenchError
from results.store import open_storage


def artifact_names(trial: optuna.trial.FrozenTrial) -> list[str]:
    return sorted(json.loads(value)["filename"] for key, value in trial.system_attrs.items()
                  if key.startswith("artifacts:"))


def note_of(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> str:
    from optuna_dashboard._note import get_note_from_system_attrs

    return get_note_from_system_attrs(study._storage.get_study_system_attrs(study._study_id), trial._trial_id)["body"]


def test_each_trial_carries_drawings_of_its_network_and_cells_and_a_note(tmp_path):
    url = f"sqlite:///{tmp_path / 'drawn.db'}"
    found = search(strategy="random", space="nb201", evaluator="table", budget=3, seed=0, storage=url, study="drawn",
                   progress=False, drawings=True)
    trials = found.study.get_trials()
    assert len(trials) == 3
    for trial in trials:
        assert artifact_names(trial) == ["cell-nb201_cell.svg", "cell-resblock.svg", "network.svg"]
        note = note_of(found.study, trial)
        assert note.startswith(f"## {trial.user_attrs['name']}") and trial.user_attrs["hash"] in note
        assert "| layer | op | output | params | MACs |" in note and "parameters" in note
    store = tmp_path / "drawn.artifacts"
    assert len(list(store.iterdir())) == 9 and all(path.read_bytes().startswith(b"<?xml") for path in store.iterdir())


def test_a_table_search_draws_nothing_unless_told(tmp_path):
    found = search(strategy="random", space="nb201", evaluator="table", budget=2, storage=f"sqlite:///{tmp_path}/t.db",
                   progress=False)
    assert all(artifact_names(trial) == [] for trial in found.study.get_trials())
    assert not (tmp_path / "t.artifacts").exists()


def test_a_drawing_that_fails_is_a_warning_and_the_search_goes_on(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("no ink")

    monkeypatch.setattr(results.artifacts, "draw", broken)
    found = search(strategy="random", space="nb201", evaluator="table", budget=2, storage=f"sqlite:///{tmp_path}/w.db",
                   progress=True, drawings=True)
    assert [trial.state.name for trial in found.study.get_trials()] == ["COMPLETE", "COMPLETE"]
    out = capsys.readouterr().out
    assert "warning: trial 0: its drawings or note were not stored (no ink)" in out


def test_drawings_of_an_in_memory_study_are_an_error():
    with pytest.raises(NasbenchError, match="in-memory study has no folder"):
        search(strategy="random", space="nb201", evaluator="table", budget=1, storage="memory", progress=False,
               drawings=True)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("command", [["results", "show"], ["results", "top"], ["dashboard"]])
def test_reading_a_missing_store_is_an_error_that_creates_nothing(cli, tmp_path, command):
    code, _, err = cli(*command, "--storage", f"sqlite:///{tmp_path / 'missing.db'}")
    assert code == 2 and err.strip() == f"error: no store at {tmp_path / 'missing.db'}: the SQLite file does not exist"
    assert list(tmp_path.iterdir()) == []


def test_reading_a_database_that_is_not_a_study_changes_nothing(cli, tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("create table notes (body text)")
    before = digest(other)
    code, _, err = cli("results", "show", "--storage", f"sqlite:///{other}")
    assert code == 2 and "without an Optuna study" in err and len(err.strip().splitlines()) == 1
    assert digest(other) == before


def test_reading_a_study_leaves_its_file_as_it_was(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    search(strategy="random", space="nb201", evaluator="table", budget=2, storage=url, progress=False)
    before = digest(tmp_path / "kept.db")
    for command in (["results", "show"], ["results", "top"], ["results", "pareto"]):
        assert cli(*command, "--storage", url)[0] == 0
    code, _, err = cli("results", "show", "--storage", url, "--study", "x")
    assert code == 2 and "no study 'x'" in err
    code, _, err = cli("results", "export", "--format", "xls", "--storage", url)
    assert code == 2 and "xls" in err and len(err.strip().splitlines()) == 1
    assert digest(tmp_path / "kept.db") == before
    with pytest.raises(NasbenchError, match="in-memory storage holds no study"):
        open_storage("memory", read_only=True)
