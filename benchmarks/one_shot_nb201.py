"""One-shot strategies on NAS-Bench-201: search on digits, look every derived cell up in the shipped CIFAR-10 table.

For each strategy configuration and search seed: the derived cell, its skip connections, its table accuracy (test
accuracy after 200 epochs, and valid_acc_12), seconds per supernet epoch; for DARTS also the skip connections of the
genotype at every epoch (read back from the search's jobs study), to show whether it drifts to skips as published
(54.30 % on CIFAR-10). Usage: python benchmarks/one_shot_nb201.py [--seeds 5] [--epochs 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import optuna

import search_spaces
from nasbench.app.search import search
from nasbench.architecture import Architecture
from results.journal import jobs_study_name
from workers.table import TableEvaluator

CONFIGS = {
    "darts o1": ("darts", {"order": 1}),
    "darts o2": ("darts", {"order": 2}),
    "darts- (aux skip)": ("darts", {"auxiliary_skip": True}),
    "gdas": ("gdas", {}),
    "pc-darts": ("pc-darts", {}),
    "enas": ("enas", {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    args = parser.parse_args()
    space = search_spaces.get("nb201")
    table = TableEvaluator()
    rows = []
    for label in args.configs.split(","):
        strategy, options = CONFIGS[label]
        tests, skips = [], []
        for seed in range(args.seeds):
            storage = optuna.storages.InMemoryStorage()
            started = time.perf_counter()
            results = search(strategy=strategy, space="nb201", dataset="digits", evaluator=table, budget=1, seed=seed,
                             storage=storage, seeds="none", progress=False,
                             strategy_options={**options, "epochs": args.epochs})
            seconds = time.perf_counter() - started
            trial = results.study.get_trials()[0]
            cell = space.to_string(Architecture.from_json(trial.user_attrs["genome"]))
            metrics = trial.user_attrs["outcome"]["metrics"]
            job = optuna.load_study(study_name=jobs_study_name(results.study.study_name), storage=storage)
            epochs = job.get_trials()[0].user_attrs["epochs"]
            curve = "".join(str(entry["skips"]) for entry in epochs)
            skip = cell.count("skip_connect")  # of the evaluated cell (ENAS's is a ranked sample, not its greedy one)
            tests.append(metrics["test_acc_200"])
            skips.append(skip)
            per_epoch = seconds / args.epochs
            print(f"{label:18} seed {seed}  {cell}  skips {skip}  test {metrics['test_acc_200']:.2f}  "
                  f"valid12 {metrics['valid_acc_12']:.2f}  {per_epoch:.2f} s/epoch  skips by epoch {curve}",
                  flush=True)
        rows.append((label, statistics.mean(tests), statistics.pstdev(tests), statistics.mean(skips)))
    print()
    print(f"{'strategy':18} {'test_acc_200 mean':>18} {'sd':>6} {'skips':>6}")
    for label, mean, sd, skip in rows:
        print(f"{label:18} {mean:18.2f} {sd:6.2f} {skip:6.1f}")


if __name__ == "__main__":
    main()
