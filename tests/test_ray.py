"""``--backend ray``: every evaluation a Ray Tune trial, on a real local Ray (``ray.init(num_cpus=2)``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from ports import free_port
from ray_toys import EPOCHS, CurveTable, LoggedTable, NoCurve
from scripted import CountingTask

import search_spaces
from nasbench.app.search import search
from nasbench.errors import NasbenchError
from results.journal import jobs_study_name
from results.store import evaluated_trials
from workers.executor import get_executor

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray
TESTS = Path(__file__).parent
LOCAL = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module's searches (an executor leaves a Ray it did not start running)."""
    os.environ.update(LOCAL)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}})
    yield
    ray.shutdown()


def hashes(study: optuna.Study) -> list[str]:
    return [trial.user_attrs["hash"] for trial in evaluated_trials(study)]


def test_a_ray_search_evaluates_what_the_local_backend_does(local_ray, tmp_path):
    runs = {}
    for backend in ("local", "ray"):
        results = search(strategy="evolution", space="nb201", evaluator=LoggedTable(str(tmp_path / backend)),
                         budget=14, seed=5, storage="memory", progress=False, backend=backend,
                         executor_options={"max_concurrent": 1} if backend == "ray" else None,
                         strategy_options={"population": 6, "tournament": 3})
        runs[backend] = results.study
    assert hashes(runs["ray"]) == hashes(runs["local"]) and len(set(hashes(runs["ray"]))) == 14
    values = [[trial.values for trial in evaluated_trials(study)] for study in runs.values()]
    assert values[0] == values[1]
    assert ray.is_initialized()  # the module's Ray: the executor did not start it, so it did not stop it


def test_a_killed_worker_is_retried_and_the_search_loses_nothing(local_ray, tmp_path):
    log, died = tmp_path / "log", tmp_path / "died"
    results = search(strategy="random", space="nb201", evaluator=LoggedTable(str(log), str(died)), budget=6, seed=1,
                     storage="memory", progress=False, backend="ray",
                     executor_options={"max_concurrent": 2, "max_failures": 2})
    trials = results.study.get_trials()
    assert died.exists() and len(trials) == 6 and all(t.state.name == "COMPLETE" for t in trials)
    evaluations = log.read_text().split()
    assert len(evaluations) == 7 and len(set(evaluations)) == 6  # the killed evaluation ran twice, nothing else


def test_a_worker_that_always_dies_fails_after_its_retries(local_ray, tmp_path):
    class AlwaysDies(LoggedTable):
        def evaluate(self, arch, fidelity=None, seed=0):
            os.kill(os.getpid(), signal.SIGKILL)

    with get_executor("ray", AlwaysDies(str(tmp_path / "log")), max_concurrent=1, max_failures=1) as executor:
        executor.submit(search_spaces.get("nb201").seeds()[0], tag="dead")
        tag, result = executor.wait_any(timeout=120)
    assert tag == "dead" and result.status == "fail"
    assert "worker process died" in result.error and "2 attempt(s)" in result.error


@pytest.mark.parametrize("backend", ["ray", "local"])
def test_asha_stops_the_worst_candidates_and_stores_them_pruned(local_ray, backend):
    options = {"scheduler": "asha", "grace_period": 1, "reduction_factor": 2,
               **({"max_concurrent": 2} if backend == "ray" else {})}
    results = search(strategy="random", space="nb201", evaluator=CurveTable(), budget=12, seed=2, storage="memory",
                     progress=False, backend=backend, executor_options=options)
    trials = evaluated_trials(results.study)
    pruned = [trial for trial in trials if trial.state.name == "PRUNED"]
    complete = [trial for trial in trials if trial.state.name == "COMPLETE"]
    assert len(trials) == 12 and pruned and complete
    for trial in pruned:
        reached = trial.user_attrs["outcome"]["pruned_at"]
        assert 1 <= reached < EPOCHS and sorted(trial.intermediate_values) == list(range(1, reached + 1))
    # The stopped candidates are the weak ones: none beats the best that ran to the end.
    best = max(trial.values[0] for trial in complete)
    assert all(max(trial.intermediate_values.values()) < best for trial in pruned)


@pytest.mark.parametrize("backend", ["ray", "local"])
def test_asha_judges_on_the_searchs_objective(local_ray, backend):
    options = {"scheduler": "asha", "grace_period": 1, "reduction_factor": 2,
               **({"max_concurrent": 2} if backend == "ray" else {})}
    results = search(strategy="random", space="nb201", evaluator=CurveTable(), budget=10, seed=2, storage="memory",
                     progress=False, backend=backend, executor_options=options, objectives="params:min,val_acc:min")
    trials = evaluated_trials(results.study)
    pruned = [trial for trial in trials if trial.state.name == "PRUNED"]
    complete = [trial for trial in trials if trial.state.name == "COMPLETE"]
    assert pruned and complete
    # Judged on val_acc to be minimized (params is not on the curve): none stopped is below the lowest that ran to
    # the end. Every curve is its final value times epoch / EPOCHS, so its first epoch tells its final value.
    lowest = min(trial.values[1] for trial in complete)
    assert all(trial.intermediate_values[1] * EPOCHS > lowest for trial in pruned)


@pytest.mark.parametrize("backend", ["ray", "local"])
def test_asha_with_no_objective_on_the_curve_is_an_error(local_ray, backend):
    with pytest.raises(NasbenchError, match="objectives params:min have none of them"):
        search(strategy="random", space="nb201", evaluator=CurveTable(), budget=2, storage="memory", progress=False,
               backend=backend, executor_options={"scheduler": "asha"}, objectives="params:min")


def test_a_search_joins_a_running_head_by_address(tmp_path):
    port = free_port()
    env = {**os.environ, **LOCAL, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    ray_cli = str(Path(sys.executable).with_name("ray"))
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false", "--node-ip-address=127.0.0.1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        script = (f"import sys; sys.path.insert(0, {str(TESTS)!r})\n"
                  "from ray_toys import LoggedTable\nfrom nasbench.app.search import search\n"
                  f"r = search(strategy='random', space='nb201', evaluator=LoggedTable({str(tmp_path / 'log')!r}), "
                  f"budget=3, storage='memory', progress=False, backend='ray', "
                  f"executor_options={{'address': '127.0.0.1:{port}'}})\n"
                  "print(len(r.study.get_trials()))\n")
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split()[-1] == "3" and len(Path(tmp_path / "log").read_text().split()) == 3
        assert head.poll() is None  # the search left the cluster it joined running
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()


DRIVER = """
import sys
sys.path.insert(0, {tests!r})
from ray_toys import LoggedTable
from nasbench.app.search import search
search(strategy="evolution", space="nb201", evaluator=LoggedTable(sys.argv[2], delay=0.4), budget={budget}, seed=3,
       storage=sys.argv[1], study="ray", progress=False, backend="ray",
       executor_options={{"max_concurrent": 2, "num_cpus": 2}}, strategy_options={{"population": 5, "tournament": 2}})
"""


def test_a_killed_driver_resumes_with_no_architecture_trained_twice(tmp_path):
    budget = 14
    url, log = f"sqlite:///{tmp_path / 'ray.db'}", tmp_path / "log"
    script = DRIVER.format(tests=str(TESTS), budget=budget)
    env = {**os.environ, **LOCAL}
    driver = subprocess.Popen([sys.executable, "-c", script, url, str(log)], env=env, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline and driver.poll() is None:
        time.sleep(0.2)
        if log.exists() and len(log.read_text().split()) >= 6:
            break
    assert driver.poll() is None, "the search ended before it could be killed"
    # The driver and the local Ray it started (its session's process group) die at once, as with a lost machine.
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    before = len(log.read_text().split())
    rerun = subprocess.Popen([sys.executable, "-c", script, url, str(log)], env=env, start_new_session=True)
    try:
        assert rerun.wait(timeout=300) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(rerun.pid, signal.SIGKILL)  # what Ray left behind of the session, if anything
    study = optuna.load_study(storage=url, study_name="ray")
    done = hashes(study)
    assert len(done) == budget and len(set(done)) == budget
    trained = log.read_text().split()
    assert len(trained) > before
    # Beyond the budget, only the evaluations in flight at the kill (at most max_concurrent, each a stale trial) were
    # trained, and only such an interrupted one can have been trained again.
    stale = {t.user_attrs["hash"] for t in study.get_trials() if t.user_attrs.get("outcome", {}).get("stale")}
    again = {arch for arch in trained if trained.count(arch) > 1}
    assert len(trained) - budget <= len(stale) <= 2 and again <= stale and set(done) <= set(trained)


@pytest.mark.parametrize(("options", "words"), [
    ({"gpus_per_trial": 1}, "gpus_per_trial 1 is more than the cluster's 0 GPU(s)"),
    ({"cpus_per_trial": 3}, "cpus_per_trial 3 is more than the cluster's 2 CPU(s)"),
    ({"scheduler": "asha"}, "evaluator 'no-curve' reports none"),
    ({"scheduler": "hyperband"}, "scheduler must be one of fifo, asha"),
    ({"max_concurrent": 0}, "max_concurrent must be at least 1"),
])
def test_bad_ray_options_are_errors_before_anything_runs(local_ray, options, words):
    with pytest.raises(NasbenchError) as error:
        get_executor("ray", NoCurve(), **options)
    assert words in str(error.value) and "\n" not in str(error.value)


def test_a_task_runs_as_a_trial_and_its_records_reach_the_driver_as_it_goes(local_ray):
    records: list[dict] = []
    with get_executor("ray", NoCurve(), max_concurrent=1) as executor:
        pid = executor.run_task(CountingTask(3), records.append)
    assert pid != os.getpid()
    assert records == [{"epoch": step, "pid": pid} for step in (1, 2, 3)]


def test_a_task_that_raises_raises_on_the_driver(local_ray):
    with get_executor("ray", NoCurve(), max_concurrent=1) as executor, pytest.raises(ValueError, match="no luck"):
        executor.run_task(CountingTask(1, error=ValueError("no luck")), lambda record: None)


def test_a_task_whose_worker_dies_is_retried(local_ray, tmp_path):
    records: list[dict] = []
    died = tmp_path / "died"
    with get_executor("ray", NoCurve(), max_concurrent=1, max_failures=1) as executor:
        pid = executor.run_task(CountingTask(2, str(died)), records.append)
    assert died.exists() and records[-1] == {"epoch": 2, "pid": pid}
    assert [record["epoch"] for record in records] == [1, 1, 2]  # the first attempt's record, then the retry's


def test_a_one_shot_search_on_ray_trains_its_supernet_in_a_trial_as_it_would_locally(local_ray, tmp_path):
    runs = {}
    options = {"C": 4, "layers": 1, "epochs": 2, "batch_size": 16, "fraction": 0.1, "searches": 2}
    for backend in ("local", "ray"):
        url = f"sqlite:///{tmp_path / backend}.db"
        results = search(strategy="gdas", space="nb201", evaluator="table", dataset="digits", budget=4, seed=3,
                         storage=url, study="oneshot", progress=False, backend=backend, seeds="none",
                         strategy_options=options, executor_options={"max_concurrent": 1} if backend == "ray" else None)
        jobs = optuna.load_study(storage=url, study_name=jobs_study_name("oneshot")).get_trials()
        runs[backend] = ([t.user_attrs["hash"] for t in evaluated_trials(results.study)],
                         [[(e["epoch"], e["genotype"], e["val_acc"]) for e in t.user_attrs["epochs"]] for t in jobs])
        assert [t.state.name for t in jobs] == ["COMPLETE", "COMPLETE"]
        assert {p.name for p in (tmp_path / f"{backend}.jobs" / "oneshot").iterdir()} == {"gdas-search0.pt",
                                                                                           "gdas-search1.pt"}
    assert runs["ray"] == runs["local"] and [len(epochs) for epochs in runs["ray"][1]] == [2, 2]
