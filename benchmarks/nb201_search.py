"""NAS-Bench-201 CIFAR-10 search protocol for every registered single-objective strategy, beside plain Optuna TPE.

Each run: ``nasbench.app.search`` with the ``nb201`` space and the ``table`` evaluator (the shipped CIFAR-10 table), 100
evaluations scored by ``valid_acc_12``; the run's result is the ``test_acc_200_trainval`` of its best-scored trial.
Printed: mean ± std over the runs and the wall seconds per evaluation of the whole search (proposing, hashing,
deduplicating, the table lookup: an upper bound on the time a strategy spends deciding), next to the published figures
(REFERENCE.md: RS 93.70 ± 0.36, REA 93.92 ± 0.30, REINFORCE 93.85 ± 0.37 over 500 runs; optimum 94.37).

``plain-tpe`` is what a user would run instead: Optuna's ``TPESampler`` over the six edges, 100 trials, no
deduplication and nothing of nasbench.

Fast path, same code: the study lives in memory (``storage="memory"``), runs are spread over processes, and the space
is built with one cell per stage (``N=1``): the table is keyed by the cell string, so the lookups are the benchmark's,
while the canonical hash (deduplication) of a 1-cell-per-stage network distinguishes cells exactly as the 5-cell one
does, at a fifth of the lowering cost. The protocol has no seed networks (``--seeds none``, the default here).

    python benchmarks/nb201_search.py [--runs 30] [--budget 100] [--processes 2] [--strategies all|random,evolution]
                                      [--option population=10 ...]

A row ``name[key=value,...]`` runs a strategy with options of its own (``rl[controller=logits]``: NAS-Bench-201's
REINFORCE); ``all`` adds that row to every registered single-objective strategy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from multiprocessing import get_context

PUBLISHED = {"random": "93.70 ± 0.36", "evolution": "93.92 ± 0.30 (REA)",
             "rl[controller=logits]": "93.85 ± 0.37 (REINFORCE)"}
VARIANTS = ["rl[controller=logits]"]  # rows of a registered strategy with options of their own
PLAIN_TPE = "plain-tpe"


def parse_row(row: str) -> tuple[str, dict[str, str]]:
    """A table row's strategy and its own options: ``rl[controller=logits]`` is rl with controller=logits."""
    from nasbench.options import parse_assignments

    name, _, variant = row.partition("[")
    return name, parse_assignments(variant.rstrip("]").split(",")) if variant else {}


def one_run(task: tuple[str, int, int, str, dict]) -> tuple[str, int, float, float, int, float]:
    """(row, seed, best valid_acc_12, its test_acc_200_trainval, trials, seconds) of one search."""
    row, seed, budget, seeds, options = task
    strategy = parse_row(row)[0]
    started = time.perf_counter()
    if strategy == PLAIN_TPE:
        valid, test = plain_tpe(seed, budget)
        return row, seed, valid, test, budget, time.perf_counter() - started
    from nasbench.app import search

    results = search(strategy=strategy, space="nb201", evaluator="table", budget=budget, seed=seed, storage="memory",
                     progress=False, seeds=seeds, space_options={"N": 1}, strategy_options=options)
    best = results.best_trial
    metrics = best.user_attrs["outcome"]["metrics"]
    return (row, seed, best.values[0], metrics["test_acc_200_trainval"], len(results.study.get_trials()),
            time.perf_counter() - started)


def plain_tpe(seed: int, budget: int) -> tuple[float, float]:
    """Optuna's TPE straight on the benchmark's six edges: (best valid_acc_12, its test_acc_200_trainval)."""
    import optuna

    from search_spaces import nb201
    from workers.table import default_table_path, load_table

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = load_table(str(default_table_path()))

    def objective(trial: optuna.Trial) -> float:
        ops = {edge: trial.suggest_categorical(nb201.variable_name(*edge), nb201.OPS) for edge in nb201.EDGES}
        row = table[nb201.format_string(ops)]
        trial.set_user_attr("test", row["test_acc_200_trainval"])
        return row["valid_acc_12"]

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=budget)
    return study.best_value, study.best_trial.user_attrs["test"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--strategies", default="all", help="comma-separated, 'all' (every single-objective one)")
    parser.add_argument("--seeds", default="none", help="seed networks: none (the protocol) or all")
    parser.add_argument("--option", action="append", default=[],
                        help="KEY=VALUE, a strategy option (given to the strategies that declare it)")
    args = parser.parse_args()

    from nasbench.options import parse_assignments
    from strategies import STRATEGIES

    names = ([name for name, strategy in STRATEGIES.items() if strategy.min_objectives == 1] + VARIANTS + [PLAIN_TPE]
             if args.strategies == "all" else args.strategies.split(","))
    given = parse_assignments(args.option)
    tasks = []
    for row in names:
        strategy, variant = parse_row(row)
        declared = {option.name for option in STRATEGIES.get(strategy).options} if strategy != PLAIN_TPE else set()
        options = {**{key: value for key, value in given.items() if key in declared}, **variant}
        tasks += [(row, seed, args.budget, args.seeds, options) for seed in range(args.runs)]
    started = time.perf_counter()
    with get_context("spawn").Pool(args.processes) as pool:
        outcomes = pool.map(one_run, tasks, chunksize=1)
    elapsed = time.perf_counter() - started

    print(f"NAS-Bench-201 CIFAR-10, {args.budget} evaluations per run, {args.runs} runs per strategy, "
          f"seeds={args.seeds}, {elapsed:.0f} s on {args.processes} processes")
    width = max(len("strategy"), *(len(name) for name in names))
    print(f"{'strategy':<{width}} {'test (200ep)':>15} {'valid_acc_12':>13} {'trials':>6} {'s/eval':>6}"
          f"  published")
    for name in names:
        rows = [row for row in outcomes if row[0] == name]
        tests, valids = [row[3] for row in rows], [row[2] for row in rows]
        per_evaluation = sum(row[5] for row in rows) / sum(row[4] for row in rows)
        trials = statistics.mean(row[4] for row in rows)
        print(f"{name:<{width}} {statistics.mean(tests):>8.2f} ± {statistics.stdev(tests):.2f} "
              f"{statistics.mean(valids):>6.2f} ± {statistics.stdev(valids):.2f} {trials:>6.1f} "
              f"{per_evaluation:>6.3f}  {PUBLISHED.get(name, '-')}")


if __name__ == "__main__":
    main()
