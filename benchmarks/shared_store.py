"""Several searchers on one study: exact shared budget, no architecture twice, nothing lost, even with one SIGKILLed.

Part 1, for each store (SQLite, and PostgreSQL when ``--postgres URL`` or ``NASBENCH_BENCH_POSTGRES`` names a
server): 1 process, then ``--processes`` processes started together, then as many with one of them SIGKILLed at a
random moment, each running ``search(strategy=random, space=nb201, evaluator=table, budget=--budget)`` on one new
study. Completed trials are the finished, non-stale ones; lost ones are claims of the ledger not finished, or trials
left RUNNING. Columns: processes, when one was killed, completed, distinct, lost, evaluated twice, wall seconds,
trials per second, and trials per second against 1 process.

Part 2: the NAS-Bench-201 result (CIFAR-10 ``test_acc_200_trainval`` of the best ``valid_acc_12``) of regularized
evolution with a budget of 100, by 1 process and by ``--processes`` processes sharing that budget on one SQLite
study, over ``--runs`` runs (mean, standard deviation, standard error); the shared search passes when its mean is not
below the lone one's by more than the lone one's standard error. The space has one cell per stage (``N=1``) as in
``benchmarks/nb201_search.py``: the table lookups are the same, the lowering cheaper.

Part 3: what asynchrony alone costs, without a store: the same evolution in one process with ``--processes``
evaluations in flight, each announced (``Strategy.evaluating``) and told oldest first, against one at a time, over
``--async-runs`` runs; and with the announcements left out (then the population starts from P + W - 1 random samples
instead of P). Runs are cheap here, so the difference is measured to a few hundredths.

Searchers are forked from a server that imported nasbench once (a fresh Python spends seconds importing torch).

    python benchmarks/shared_store.py [--budget 2000] [--processes 4] [--runs 30] [--async-runs 500]
                                      [--postgres URL] [--part 1|2|3|all]
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

FORKSERVER = multiprocessing.get_context("forkserver")
FORKSERVER.set_forkserver_preload(["nasbench.app.search"])


def searcher(url: str, study: str, strategy: str, budget: int, seed: int, space_options: dict) -> None:
    """One searcher process."""
    from nasbench.app.search import search

    search(strategy=strategy, space="nb201", evaluator="table", budget=budget, seed=seed, storage=url, study=study,
           progress=False, seeds="none", space_options=space_options, heartbeat=1, heartbeat_grace=5)


def run_searchers(url: str, study: str, count: int, strategy: str, budget: int, seed: int,
                  kill_after: float | None = None, space_options: dict | None = None) -> float:
    """``count`` searchers of one study started together (the first SIGKILLed after ``kill_after`` s); wall s."""
    started = time.perf_counter()
    processes = [FORKSERVER.Process(target=searcher, args=(url, study, strategy, budget, seed, space_options or {}))
                 for _ in range(count)]
    for process in processes:
        process.start()
    if kill_after is not None:
        processes[0].join(kill_after)
        processes[0].kill()
    for process in processes:
        process.join()
    codes = [process.exitcode for process in processes]
    expected = [-9] if kill_after is not None else []
    if sorted(code for code in codes if code != 0) != expected:
        raise SystemExit(f"searchers of {study} exited with {codes}")
    return time.perf_counter() - started


def tally(url: str, study: str) -> dict[str, int]:
    """Completed, distinct, lost and twice-evaluated counts of a study (and its ledger)."""
    import optuna

    from results.shared import SharedStudy
    from results.store import evaluated_trials, open_storage

    loaded = optuna.load_study(storage=open_storage(url), study_name=study)
    evaluations = evaluated_trials(loaded)
    hashes = collections.Counter(trial.user_attrs["hash"] for trial in evaluations)
    running = sum(trial.state.name == "RUNNING" for trial in loaded.get_trials(deepcopy=False))
    ledger = SharedStudy(loaded)
    return {"completed": len(evaluations), "distinct": len(hashes), "lost": running + ledger.unfinished(),
            "twice": sum(1 for count in hashes.values() if count > 1), "claimed": ledger.claimed()}


def part_one(stores: dict[str, str], budget: int, processes: int) -> None:
    print(f"Part 1: random search, table evaluator, shared budget {budget}")
    header = (f"{'store':<10} {'procs':>5} {'killed':>7} {'complete':>8} {'distinct':>8} {'lost':>4} {'twice':>5} "
              f"{'wall s':>6} {'per s':>6} {'x 1':>5}")
    print(header)
    print("-" * len(header))
    for store, url in stores.items():
        alone = together = None
        for count, kill in ((1, False), (processes, False), (processes, True)):
            study = f"bench-{uuid.uuid4().hex[:8]}"
            # A random moment while the searchers run (they took ``together`` seconds unkilled).
            kill_after = random.uniform(1.0, 0.7 * together) if kill and together else None
            wall = run_searchers(url, study, count, "random", budget, seed=1, kill_after=kill_after)
            counts = tally(url, study)
            rate = counts["completed"] / wall
            alone = alone or wall
            together = wall if count > 1 and not kill else together
            ratio = rate / (budget / alone)
            killed = f"{kill_after:.1f} s" if kill_after else "-"
            print(f"{store:<10} {count:>5} {killed:>7} {counts['completed']:>8} {counts['distinct']:>8} "
                  f"{counts['lost']:>4} {counts['twice']:>5} {wall:>6.1f} {rate:>6.1f} {ratio:>5.2f}")


def best_test_accuracy(url: str, study: str) -> float:
    """CIFAR-10 test_acc_200_trainval of the study's best valid_acc_12."""
    import optuna

    from results.store import evaluated_trials

    scored = [trial for trial in evaluated_trials(optuna.load_study(storage=url, study_name=study))
              if trial.state.name == "COMPLETE"]
    best = max(scored, key=lambda trial: trial.values[0])
    return float(best.user_attrs["outcome"]["metrics"]["test_acc_200_trainval"])


def part_two(runs: int, processes: int) -> None:
    print(f"\nPart 2: regularized evolution, NAS-Bench-201 CIFAR-10, budget 100, {runs} runs (SQLite)")
    rows = {}
    for count in (1, processes):
        results, walls = [], []
        for run in range(runs):
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite:///{Path(folder) / 'evolution.db'}"
                walls.append(run_searchers(url, "evolution", count, "evolution", 100, seed=run,
                                           space_options={"N": 1}))
                results.append(best_test_accuracy(url, "evolution"))
        mean, std = statistics.mean(results), statistics.stdev(results)
        rows[count] = (mean, std, std / runs ** 0.5)
        print(f"{count} searcher{'s' if count > 1 else ' '}: test accuracy {mean:.2f} ± {std:.2f} "
              f"(standard error {rows[count][2]:.2f}), {statistics.mean(walls):.1f} s per run")
    lone, shared = rows[1], rows[processes]
    verdict = "pass" if shared[0] >= lone[0] - lone[2] else "FAIL"
    print(f"shared - lone = {shared[0] - lone[0]:+.2f} (allowed: -{lone[2]:.2f}): {verdict}")


def in_flight_search(seed: int, workers: int, announce: bool, budget: int = 100) -> tuple[float, int]:
    """Evolution with ``workers`` evaluations in flight, told oldest first: (test accuracy of the best, samples)."""
    import search_spaces
    from nasbench.objectives import parse_objectives, values_of
    from strategies import get as get_strategy
    from strategies.base import Observation
    from workers.table import TableEvaluator

    table, objectives = TableEvaluator(), parse_objectives("valid_acc_12:max")
    strategy = get_strategy("evolution", search_spaces.get("nb201", N=1), objectives, seed=seed, budget=budget)
    known: dict[str, Observation] = {}
    in_flight: list = []
    best, samples = (-1.0, 0.0), 0
    while len(known) < budget:
        while len(in_flight) < workers and len(known) + len(in_flight) < budget:
            candidate = strategy.ask()
            candidate.info["hash"] = arch_hash = candidate.arch.hash()
            if arch_hash in known:
                strategy.tell(candidate, known[arch_hash])  # a duplicate, as the search loop tells it
            elif all(other.info["hash"] != arch_hash for other in in_flight):
                if announce:
                    strategy.evaluating(candidate)
                samples += candidate.info["origin"] == "sample"
                in_flight.append(candidate)
        candidate = in_flight.pop(0)
        metrics = table.evaluate(candidate.arch).metrics
        known[candidate.info["hash"]] = observation = Observation(True, values_of(objectives, metrics), metrics)
        strategy.tell(candidate, observation)
        if observation.values[0] > best[0]:  # the first of equals, as part 2's best
            best = (observation.values[0], metrics["test_acc_200_trainval"])
    return best[1], samples


def part_three(runs: int, workers: int) -> None:
    print(f"\nPart 3: one process, {workers} evaluations in flight, {runs} runs, no store")
    lone = None
    for count, announce in ((1, True), (workers, True), (workers, False)):
        results = [in_flight_search(seed, count, announce) for seed in range(runs)]
        accuracies = [accuracy for accuracy, _ in results]
        mean, std = statistics.mean(accuracies), statistics.stdev(accuracies)
        lone = mean if lone is None else lone
        label = f"{count} in flight" + ("" if announce or count == 1 else ", unannounced")
        samples = statistics.mean(samples for _, samples in results)
        print(f"{label:<24} {mean:.3f} ± {std:.3f} SE {std / runs ** 0.5:.3f}  {samples:4.1f} samples  "
              f"{mean - lone:+.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--postgres", default=os.environ.get("NASBENCH_BENCH_POSTGRES"))
    parser.add_argument("--async-runs", type=int, default=500)
    parser.add_argument("--part", choices=("1", "2", "3", "all"), default="all")
    args = parser.parse_args()
    if args.part in ("1", "all"):
        with tempfile.TemporaryDirectory() as folder:
            stores = {"sqlite": f"sqlite:///{Path(folder) / 'shared.db'}"}
            if args.postgres:
                stores["postgresql"] = args.postgres
            else:
                print("(no PostgreSQL: give --postgres URL or set NASBENCH_BENCH_POSTGRES)")
            part_one(stores, args.budget, args.processes)
    if args.part in ("2", "all"):
        part_two(args.runs, args.processes)
    if args.part in ("3", "all"):
        part_three(args.async_runs, args.processes)


if __name__ == "__main__":
    main()
