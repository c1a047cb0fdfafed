"""The executor contract, run over every registered executor in each of its ``contract_variants``.

A newly registered executor is tested here without editing this file.
"""

from __future__ import annotations

import pytest
from scripted import CountingTask, ScriptedEvaluator, arch, drain

from workers.executor import EXECUTORS

CASES = [pytest.param(name, variant, id=f"{name}-{'-'.join(f'{k}{v}' for k, v in variant.items()) or 'default'}")
         for name, executor in EXECUTORS.items() for variant in executor.contract_variants]


def make(name: str, variant: dict):
    return EXECUTORS.create(name, ScriptedEvaluator(), **variant)


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_results_come_back_with_their_tags(name, variant):
    with make(name, variant) as executor:
        for i in range(5):
            executor.submit(arch("score", float(i)), seed=1, tag=("job", i))
        results = drain(executor)
    assert sorted(results) == [("job", i) for i in range(5)]
    assert all(results[("job", i)].ok and results[("job", i)].metrics["score"] == i + 1 for i in range(5))


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_a_raising_evaluation_is_a_fail_result(name, variant):
    with make(name, variant) as executor:
        executor.submit(arch("raise"), tag="bug")
        executor.submit(arch("score", 2.0), tag="fine")
        results = drain(executor)
    assert results["bug"].status == "fail" and "evaluator bug" in results["bug"].error
    assert results["fine"].ok


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_a_dead_worker_is_a_fail_result_and_is_replaced(name, variant):
    with make(name, variant) as executor:
        if not executor.isolated:
            pytest.skip("evaluations run in this process: a dying evaluation would end the test run")
        executor.submit(arch("die"), tag="dead")
        results = drain(executor)
        for i in range(executor.capacity + 1):
            executor.submit(arch("score", float(i)), tag=i)
        after = drain(executor)
    assert results["dead"].status == "fail" and "died" in results["dead"].error
    assert all(after[i].ok for i in range(executor.capacity + 1))


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_close_drops_what_is_pending(name, variant):
    executor = make(name, variant)
    for _ in range(executor.capacity + 2):
        executor.submit(arch("sleep", 0.2))
    executor.close()
    assert executor.pending == 0 and executor.wait_any(timeout=0.1) is None


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_capacity_evaluations_run_at_once(name, variant):
    with make(name, variant) as executor:
        assert executor.capacity >= 1
        jobs = 2 * executor.capacity
        for i in range(jobs):
            executor.submit(arch("sleep", 0.6), tag=i)
        results = drain(executor)
    spans = sorted((r.metrics["started"], r.metrics["ended"]) for r in results.values())
    overlap = max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)
    assert overlap == executor.capacity


@pytest.mark.parametrize(("name", "variant"), CASES)
def test_a_task_runs_beside_evaluations_and_reports_in_order(name, variant):
    records: list[dict] = []
    with make(name, variant) as executor:
        executor.submit(arch("score", 1.0), tag="before")
        pid = executor.run_task(CountingTask(3), records.append)
        with pytest.raises(ValueError, match="no luck"):
            executor.run_task(CountingTask(1, error=ValueError("no luck")), lambda record: None)
        executor.submit(arch("score", 2.0), tag="after")
        results = drain(executor)
    assert isinstance(pid, int) and records == [{"epoch": step, "pid": pid} for step in (1, 2, 3)]
    assert results["before"].ok and results["after"].ok
