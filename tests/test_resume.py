from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from search_toys import ToyEvaluator, ToySpace

from nasbench.app.search import search
from nasbench.errors import NasbenchError

TESTS = Path(__file__).parent
BUDGET = 24
SCRIPT = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
from search_toys import ToyEvaluator, ToySpace
from nasbench.app.search import search
search(strategy="evolution", space=ToySpace(), evaluator=ToyEvaluator(delay=float(sys.argv[2])), budget={BUDGET},
       storage=sys.argv[1], study="resume", seed=1, progress=False,
       strategy_options=dict(population=6, tournament=3))
"""


def trials(url: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(storage=url, study_name="resume").get_trials()


def launch(url: str, delay: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, url, str(delay)])


def test_resume_after_sigkill_completes_the_budget_without_duplicates(tmp_path):
    url = f"sqlite:///{tmp_path / 'resume.db'}"
    process = launch(url, 0.3)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        time.sleep(0.1)
        if not (tmp_path / "resume.db").exists():
            continue
        try:
            states = [t.state.name for t in trials(url)]
        except Exception:  # noqa: BLE001 - the study or its tables may not exist yet
            continue
        # kill in the middle of an evaluation once some trials are stored
        if len(states) - states.count("RUNNING") >= 5 and "RUNNING" in states:
            break
    assert process.poll() is None, "the search ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = trials(url)
    assert 5 <= len(killed) < BUDGET
    assert any(t.state.name == "RUNNING" for t in killed)

    rerun = launch(url, 0.0)
    assert rerun.wait(timeout=120) == 0
    final = trials(url)
    counted = [t for t in final if not t.user_attrs.get("outcome", {}).get("stale")]
    stale = [t for t in final if t.user_attrs.get("outcome", {}).get("stale")]
    assert len(counted) == BUDGET
    assert all(t.state.name in ("COMPLETE", "FAIL") for t in final)
    hashes = [t.user_attrs["hash"] for t in counted]
    assert len(set(hashes)) == len(hashes)
    assert stale and all(t.state.name == "FAIL" and "interrupted" in t.user_attrs["outcome"]["error"] for t in stale)
    # the interrupted candidate was evaluated again, and the stored trials before the kill were kept as they were
    assert {t.user_attrs["hash"] for t in stale} <= set(hashes)
    assert [t.user_attrs["hash"] for t in killed if t.state.is_finished()] == hashes[:len(killed) - len(stale)]


def test_rerun_with_a_larger_budget_continues_and_replays_into_the_strategy(tmp_path):
    url = f"sqlite:///{tmp_path / 'grow.db'}"
    evaluator = ToyEvaluator()
    first = search(strategy="evolution", space=ToySpace(), evaluator=evaluator, budget=12, storage=url, study="g",
                   progress=False, strategy_options={"population": 5, "tournament": 2})
    assert len(first.study.get_trials()) == 12
    again = search(strategy="evolution", space=ToySpace(), evaluator=evaluator, budget=12, storage=url, study="g",
                   progress=False, strategy_options={"population": 5, "tournament": 2})
    assert len(again.study.get_trials()) == 12 and len(evaluator.calls) == 12  # nothing to do: budget reached
    grown = search(strategy="evolution", space=ToySpace(), evaluator=evaluator, budget=30, storage=url, study="g",
                   progress=False, strategy_options={"population": 5, "tournament": 2})
    all_trials = grown.study.get_trials()
    assert len(all_trials) == 30 and len(evaluator.calls) == 30
    hashes = [t.user_attrs["hash"] for t in all_trials]
    assert len(set(hashes)) == 30
    # replayed population: the resumed run's first children descend from trials of the first run
    first_hashes = set(hashes[:12])
    assert all_trials[12].user_attrs["parent"] in first_hashes


def test_a_study_without_a_checkpoint_resumes_by_replay_without_retraining(tmp_path):
    """Studies written before checkpoints: the strategy is re-run over the stored evaluations, none is retrained."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    options = {"space": ToySpace(), "storage": url, "study": "old", "progress": False,
               "strategy_options": {"population": 5, "tournament": 2}}
    search(strategy="evolution", evaluator=ToyEvaluator(), budget=15, seed=2, **options)
    study = optuna.load_study(storage=url, study_name="old")
    storage, study_id = study._storage, study._study_id
    storage.set_study_system_attr(study_id, "nasbench:checkpoint", None)
    storage.set_study_user_attr(study_id, "strategy_config", None)

    uninterrupted = search(strategy="evolution", evaluator=ToyEvaluator(), budget=30, seed=2,
                           **{**options, "storage": "memory"})
    evaluator = ToyEvaluator()
    resumed = search(strategy="evolution", evaluator=evaluator, budget=30, seed=2, **options)
    assert len(evaluator.calls) == 15  # only the new evaluations ran
    expected = [t.user_attrs["hash"] for t in uninterrupted.study.get_trials()]
    assert [t.user_attrs["hash"] for t in resumed.study.get_trials()] == expected  # the replay matched exactly

    # Written with other options than now (nothing stored says so): the replay diverges, is told as stored, goes on.
    storage.set_study_system_attr(study_id, "nasbench:checkpoint", None)
    other = ToyEvaluator()
    diverged = search(strategy="evolution", evaluator=other, budget=40, seed=2,
                      **{**options, "strategy_options": {"population": 3, "tournament": 3}})
    hashes = [t.user_attrs["hash"] for t in diverged.study.get_trials()]
    assert len(other.calls) == 10 and len(set(hashes)) == 40 and hashes[:30] == expected


def test_resume_with_other_strategy_options_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'opts.db'}"
    options = {"space": ToySpace(), "evaluator": ToyEvaluator(), "budget": 8, "storage": url, "study": "o",
               "progress": False}
    search(strategy="evolution", strategy_options={"population": 4}, **options)
    search(strategy="evolution", **options)  # the stored configuration is reused
    with pytest.raises(NasbenchError, match="was searched with evolution options population=4"):
        search(strategy="evolution", strategy_options={"population": 6}, **options)
    with pytest.raises(NasbenchError, match="was searched by strategy 'evolution', not 'random'"):
        search(strategy="random", **options)
    with pytest.raises(NasbenchError, match="was searched with seed 0, not 1"):
        search(strategy="evolution", seed=1, **options)
