"""``nasbench train TRIAL``: a found architecture trained at full fidelity, checkpointed, recorded as a retrain."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest

from nasbench.app.search import search
from nasbench.app.train import train
from results.store import evaluated_trials

# Trains trial 1 of the study for 4 epochs; with a count, SIGKILLs itself once that many epochs are checkpointed.
KILL_SCRIPT = """
import os, signal, sys
import workers.training as training
from nasbench.app.train import train
saved = training.atomic_save
count = [0]
def save_then_die(payload, path):
    saved(payload, path)
    count[0] += 1
    if len(sys.argv) > 2 and count[0] == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
training.atomic_save = save_then_die
train("1", epochs=4, storage=sys.argv[1], progress=True)
"""


@pytest.fixture
def study_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'found.db'}"
    search(budget=3, epochs=1, seeds="lenet5,alexnet", storage=url, study="found", progress=False, drawings=False)
    return url


def curve_of(url: str, number: int) -> list[tuple[float, float]]:
    trial = optuna.load_study(storage=url, study_name="found").trials[number]
    return [(entry["val_acc"], entry["train_loss"]) for entry in trial.user_attrs["outcome"]["curve"]]


def test_a_trial_retrained_is_recorded_once_and_not_counted_by_the_search(study_url, capsys):
    run = train("1", epochs=2, storage=study_url, progress=True)
    out = capsys.readouterr().out
    assert run.result.ok and "recorded as trial 3 of found (origin retrain)" in out
    assert "val_acc" in out and "(no test split in digits)" in out
    study = optuna.load_study(storage=study_url, study_name="found")
    retrain = study.trials[3]
    assert retrain.user_attrs["origin"] == "retrain" and retrain.user_attrs["retrain_of"] == 1
    assert retrain.user_attrs["hash"] == study.trials[1].user_attrs["hash"] and retrain.state.name == "COMPLETE"
    assert sorted(retrain.intermediate_values) == [1, 2]
    assert len(evaluated_trials(study)) == 3  # the search's own evaluations
    train("1", epochs=2, storage=study_url, progress=True)  # the same run again: continued from its checkpoint
    out = capsys.readouterr().out
    assert "continuing from" in out and "recorded as trial 3" in out and len(study.get_trials()) == 4


def test_a_killed_retrain_continues_from_its_last_epoch_and_trains_as_an_uninterrupted_one(study_url, tmp_path):
    killed = subprocess.run([sys.executable, "-c", KILL_SCRIPT, study_url, "2"], capture_output=True, text=True,
                            timeout=300)
    assert killed.returncode == -9
    resumed = subprocess.run([sys.executable, "-c", KILL_SCRIPT, study_url], capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0 and "continuing from" in resumed.stdout, resumed.stderr
    straight_url = f"sqlite:///{tmp_path / 'straight' / 'found.db'}"
    search(budget=3, epochs=1, seeds="lenet5,alexnet", storage=straight_url, study="found", progress=False,
           drawings=False)
    assert subprocess.run([sys.executable, "-c", KILL_SCRIPT, straight_url], timeout=300).returncode == 0
    assert curve_of(study_url, 3) == curve_of(straight_url, 3) and len(curve_of(study_url, 3)) == 4


def test_a_trial_that_does_not_exist_is_a_one_line_error(study_url, cli):
    code, _, err = cli("train", "7", "--storage", study_url)
    assert code == 2 and "has no trial 7" in err and len(err.strip().splitlines()) == 1
