"""Many searchers on one study (SQLite and PostgreSQL): one budget, no architecture twice, stale work redone."""

from __future__ import annotations

import collections
import threading
import time
import uuid

import optuna
import pytest
import sqlalchemy as sa
from kill_switch import exit_code, start_search

from nasbench.app.search import search
from nasbench.errors import NasbenchError
from nasbench.objectives import parse_objectives
from results.ledger import CLAIMED, FULL, TAKEN
from results.shared import SharedStudy
from results.store import CHECKPOINT_KEY, TrialWriter, evaluated_trials, is_stale, open_storage


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request, tmp_path) -> str:
    """A storage URL: a new SQLite file, or the tests' PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("postgres_url")


def study_name() -> str:
    return f"shared-{uuid.uuid4().hex[:8]}"


def tally(url: str, name: str) -> tuple[list[optuna.trial.FrozenTrial], collections.Counter]:
    """The study's evaluations and how many times each architecture was evaluated."""
    study = optuna.load_study(storage=url, study_name=name)
    evaluations = evaluated_trials(study)
    return evaluations, collections.Counter(trial.user_attrs["hash"] for trial in evaluations)


def run_together(count: int, url: str, name: str, budget: int, kill_first_at: int | None = None,
                 strategy: str = "random", delay: float = 0.02) -> list[int]:
    """``count`` searches of one study started at once; their exit codes."""
    processes = [start_search(kill_first_at if index == 0 else None, delay, strategy=strategy, space="nb201",
                              budget=budget, storage=url, study=name, seed=3, heartbeat=1, heartbeat_grace=3)
                 for index in range(count)]
    return [exit_code(process, timeout=240) for process in processes]


@pytest.mark.parametrize("count", [2, 4])
def test_searchers_share_one_budget_and_never_evaluate_an_architecture_twice(store, count):
    name = study_name()
    assert run_together(count, store, name, budget=36) == [0] * count
    evaluations, hashes = tally(store, name)
    study = optuna.load_study(storage=store, study_name=name)
    assert len(evaluations) == 36 and len(hashes) == 36  # exactly the budget, each architecture once
    assert all(trial.state.is_finished() for trial in study.get_trials())  # no trial lost as RUNNING
    assert len({trial.user_attrs["searcher"] for trial in evaluations}) >= 2  # the work was shared


def test_each_strategy_is_told_the_other_searchers_evaluations(store):
    name = study_name()
    assert run_together(2, store, name, budget=40, strategy="evolution") == [0, 0]
    study = optuna.load_study(storage=store, study_name=name)
    by_searcher = collections.defaultdict(set)
    for trial in evaluated_trials(study):
        by_searcher[trial.user_attrs["searcher"]].add(trial._trial_id)
    attrs = study._storage.get_study_system_attrs(study._study_id)
    for key in (CHECKPOINT_KEY, f"{CHECKPOINT_KEY}:1"):
        checkpoint = attrs[key]
        told = {trial_id for first, last in checkpoint["told"] for trial_id in range(first, last + 1)}
        others = set().union(*(ids for searcher, ids in by_searcher.items() if searcher != checkpoint["searcher"]))
        assert others and len(told & others) >= len(others) // 2, (key, len(told & others), len(others))


def test_a_sigkilled_searchers_running_trial_is_evaluated_again_by_a_survivor(store):
    name = study_name()
    codes = run_together(3, store, name, budget=40, kill_first_at=4, delay=0.1)
    assert codes[0] == -9 and codes[1:] == [0, 0]
    evaluations, hashes = tally(store, name)
    assert len(evaluations) == 40 and len(hashes) == 40
    trials = optuna.load_study(storage=store, study_name=name).get_trials()
    stale = [trial for trial in trials if is_stale(trial)]
    assert len(stale) == 1 and stale[0].state.name == "FAIL"  # the killed evaluation, and only it
    redone = [trial for trial in evaluations if trial.user_attrs["hash"] == stale[0].user_attrs["hash"]]
    assert redone and redone[0].user_attrs["searcher"] != stale[0].user_attrs["searcher"]
    killed = stale[0].user_attrs["searcher"]
    assert sum(trial.user_attrs["searcher"] == killed for trial in evaluations) == 3  # its finished work is kept


def test_a_silent_searcher_on_another_host_goes_stale_after_the_grace_period(store):
    """Heartbeats: a trial whose searcher stopped beating (a machine that died) is stale only after the grace."""
    study = optuna.create_study(storage=open_storage(store), study_name=study_name(), direction="maximize")
    dead = SharedStudy(study, heartbeat=1, grace=3)
    dead.join()
    assert dead.claim("h1", budget=5) == CLAIMED
    trial_id = TrialWriter(study, parse_objectives("acc:max")).start({"hash": "h1", "genome": "{}",
                                                                     "searcher": dead.token}).trial_id
    assert dead.started("h1", trial_id)
    dead._stop.set()  # the machine stops: no more beats, and no goodbye
    dead._thread.join()
    engine = sa.create_engine(store)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE nasbench_searchers SET host = 'elsewhere' WHERE token = :token"),
                           {"token": dead.token})
    engine.dispose()
    survivor = SharedStudy(study, heartbeat=1, grace=3)
    assert survivor.join() == 1
    try:
        assert survivor.stale_trials() == []  # silent for less than the grace period: still alive
        deadline = time.time() + 15
        stale = []
        while not stale and time.time() < deadline:
            time.sleep(0.5)
            stale = survivor.stale_trials()
        assert [trial._trial_id for trial in stale] == [trial_id]
        assert [trial._trial_id for trial in survivor.take_over(stale)] == [trial_id]
        assert survivor.take_over(stale) == []  # taken once
        assert survivor.holds("h1") and not dead.holds("h1")
    finally:
        survivor.leave()


def test_claims_racing_on_one_budget_take_it_exactly_once(store):
    """Threads claiming overlapping hashes at once: the budget's claims exactly, each hash by one of them."""
    study = optuna.create_study(storage=open_storage(store), study_name=study_name(), direction="maximize")
    searchers = [SharedStudy(study) for _ in range(4)]
    searchers[0].ledger.ensure_budget(study._study_id, {})
    outcomes: dict[str, list[tuple[str, str]]] = {s.token: [] for s in searchers}

    def claim_all(searcher: SharedStudy) -> None:
        for index in range(30):
            arch_hash = f"h{(index * 7 + len(outcomes[searcher.token])) % 45}"
            outcomes[searcher.token].append((arch_hash, searcher.claim(arch_hash, budget=25)))

    threads = [threading.Thread(target=claim_all, args=(searcher,)) for searcher in searchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [arch_hash for results in outcomes.values() for arch_hash, outcome in results if outcome == CLAIMED]
    assert len(claimed) == 25 and len(set(claimed)) == 25
    assert all(outcome in (CLAIMED, TAKEN, FULL) for results in outcomes.values() for _, outcome in results)
    assert searchers[0].claimed() == 25  # the counter
    assert sorted(claim.hash for claim in searchers[0].ledger.claims(study._study_id)) == sorted(claimed)


def test_a_study_of_an_older_version_is_resumed_by_several_searchers(tmp_path):
    """A study without the ledger (a version-1 checkpoint, an interrupted trial without a searcher) goes on shared."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    name = "old"
    search(strategy="evolution", space="nb201", evaluator="table", budget=12, seed=3, storage=url, study=name,
           progress=False, strategy_options=dict(population=8, tournament=3))
    study = optuna.load_study(storage=url, study_name=name)
    checkpoint = study._storage.get_study_system_attrs(study._study_id)[CHECKPOINT_KEY]
    last = evaluated_trials(study)[-1]
    engine = sa.create_engine(url)
    with engine.begin() as connection:  # what an older version left: no ledger, its last evaluation interrupted
        for table in ("nasbench_budget", "nasbench_claims", "nasbench_searchers"):
            connection.execute(sa.text(f"DELETE FROM {table}"))
        connection.execute(sa.text("UPDATE trials SET state = 'RUNNING' WHERE trial_id = :id"), {"id": last._trial_id})
        connection.execute(sa.text("DELETE FROM trial_values WHERE trial_id = :id"), {"id": last._trial_id})
        connection.execute(sa.text("DELETE FROM trial_user_attributes WHERE trial_id = :id AND key IN "
                                   "('searcher', 'outcome')"), {"id": last._trial_id})
    engine.dispose()
    study._storage.set_study_system_attr(study._study_id, CHECKPOINT_KEY, {
        "version": 1, "evaluated": 11, "asks": checkpoint["asks"], "duplicates": checkpoint["duplicates"],
        "strategy": checkpoint["strategy"]})
    processes = [start_search(None, 0.02, strategy="evolution", space="nb201", budget=30, storage=url, study=name,
                              seed=3, heartbeat=1, heartbeat_grace=3,
                              strategy_options=dict(population=8, tournament=3)) for _ in range(2)]
    assert [exit_code(process, timeout=240) for process in processes] == [0, 0]
    evaluations, hashes = tally(url, name)
    assert len(evaluations) == 30 and max(hashes.values()) == 1
    trials = optuna.load_study(storage=url, study_name=name).get_trials()
    assert all(trial.state.is_finished() for trial in trials)
    assert is_stale(trials[last.number]) and hashes[last.user_attrs["hash"]] == 1  # the interrupted one, again


def test_a_grace_period_not_longer_than_the_heartbeat_is_refused(cli):
    code, _, err = cli("search", "--space", "nb201", "--evaluator", "table", "--storage", "memory",
                       "--heartbeat", "10", "--heartbeat-grace", "5")
    assert code == 2 and err.strip().splitlines() == [
        "error: heartbeat_grace (5 s) must be longer than heartbeat (10 s): a live search would look stale between "
        "two beats"]
    with pytest.raises(NasbenchError, match="heartbeat must be at least 1"):
        search(space="nb201", evaluator="table", storage="memory", heartbeat=0, progress=False)


def test_a_claim_left_on_a_trial_marked_stale_is_taken_over_later(store):
    """A searcher that marked a trial stale and died before taking its claim over leaves it to the next one."""
    study = optuna.create_study(storage=open_storage(store), study_name=study_name(), direction="maximize")
    owner, survivor = SharedStudy(study), SharedStudy(study)
    owner.join()
    survivor.join()
    try:
        assert owner.claim("h1", budget=5) == CLAIMED
        trial_id = TrialWriter(study, parse_objectives("acc:max")).start({"hash": "h1", "genome": "{}",
                                                                         "searcher": owner.token}).trial_id
        assert owner.started("h1", trial_id)
        assert survivor.mark_stale(trial_id) and not survivor.mark_stale(trial_id)  # FAIL once
        assert survivor.unfinished() == 1
        assert [trial._trial_id for trial in survivor.take_over([])] == [trial_id]
        assert survivor.holds("h1") and not owner.holds("h1")
    finally:
        owner.leave()
        survivor.leave()
