from __future__ import annotations

import os

import pytest
from scripted import ScriptedEvaluator, arch, drain

from workers.base import OK
from workers.executor import InProcessExecutor, LocalExecutor, ProcessPoolExecutor, get_executor


def test_in_process_runs_oldest_first_and_isolates_exceptions():
    executor = LocalExecutor(ScriptedEvaluator())
    assert isinstance(executor.backend, InProcessExecutor) and executor.capacity == 1
    executor.submit(arch("score", 1.0), seed=2, tag="a")
    executor.submit(arch("raise"), tag="b")
    assert executor.pending == 2
    tag, result = executor.wait_any()
    assert tag == "a" and result.status == OK and result.metrics["score"] == 3.0
    assert result.metrics["pid"] == float(os.getpid())
    tag, result = executor.wait_any()
    assert tag == "b" and result.status == "fail" and "evaluator bug" in result.error
    assert executor.wait_any() is None and executor.pending == 0


def test_handles_are_default_tags_and_wait_any_can_be_restricted():
    with LocalExecutor(ScriptedEvaluator()) as executor:
        first = executor.submit(arch("score", 1.0))
        second = executor.submit(arch("score", 2.0))
        assert first != second
        handle, result = executor.wait_any([second])
        assert handle == second and result.metrics["score"] == 2.0
        assert executor.wait_any([second]) is None and executor.pending == 1
        assert executor.wait_any([first])[0] == first


def test_process_pool_parallel_steady_state_crash_and_timeout():
    with get_executor("local", ScriptedEvaluator(), workers=2, timeout=2.0) as executor:
        assert isinstance(executor.backend, ProcessPoolExecutor) and executor.capacity == 2
        assert executor.backend.threads >= 1
        for i in range(4):
            executor.submit(arch("score", float(i)), seed=10, tag=i)
        executor.submit(arch("die"), tag="dead")
        executor.submit(arch("raise"), tag="bug")
        executor.submit(arch("score", 7.0), tag="after")
        results = drain(executor)
        assert sorted(results, key=str) == [0, 1, 2, 3, "after", "bug", "dead"]
        assert [results[i].metrics["score"] for i in range(4)] == [10.0, 11.0, 12.0, 13.0]
        assert results["dead"].status == "fail" and "signal 9" in results["dead"].error
        assert results["bug"].status == "fail" and "evaluator bug" in results["bug"].error
        assert results["after"].ok and results["after"].metrics["pid"] != float(os.getpid())

        # A worker killed above may not have been replaced yet; starting one (importing torch) can take longer than
        # the slow job's timeout on a loaded machine, so warm both before racing them.
        warm = [executor.submit(arch("score", 0.0)) for _ in range(2)]
        assert {executor.wait_any(warm)[0] for _ in warm} == set(warm)

        executor.submit(arch("sleep", 60.0), tag="slow")
        executor.submit(arch("sleep", 0.3), tag="fast")
        assert executor.wait_any()[0] == "fast"
        # The slot freed by the fast job takes the next one while the slow one still runs.
        handle = executor.submit(arch("score", 2.0))
        assert executor.wait_any([handle])[0] == handle
        assert executor.wait_any(timeout=0.01) is None and executor.pending == 1
        tag, result = executor.wait_any()
        assert tag == "slow" and result.status == "fail" and "timed out after 2 s" in result.error
        pids = {r.metrics["pid"] for r in results.values() if r.ok}
        assert len(pids) >= 2  # both workers took jobs (the killed one was replaced)


def test_unknown_executor():
    from nasbench.errors import NasbenchError

    with pytest.raises(NasbenchError, match="unknown executor"):
        get_executor("nope", ScriptedEvaluator())

    class Local(ScriptedEvaluator):
        pass

    with pytest.raises(NasbenchError, match="cannot be sent to worker processes"):
        LocalExecutor(Local(), workers=2)
