"""Overhead of the search loop and its store: 1,000 table evaluations through ``nasbench.app.search`` (SQLite) against a
plain Optuna ask/tell loop that writes the same attributes, intermediate values and objectives to SQLite.

Both sides run in this process, one after the other, each on a fresh SQLite file, ``--repeats`` times interleaved. The
plain loop replays the trials the search stored (their user attributes, curves and values), so both write the same
data; the search additionally proposes (``--strategy``), hashes, deduplicates, looks each candidate up in the table and
checkpoints the strategy's state with the study (every 25 evaluations). The plain loop writes all attributes in one
call, the fastest plain loop, so the ratio errs against nasbench. It then reports how long resuming the finished
1,000-trial study takes, from its checkpoint and by replaying every trial through the strategy (as a study written
before checkpoints resumes).

    python benchmarks/store_overhead.py [--evaluations 1000] [--strategy evolution] [--repeats 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

from nasbench.app import search
from results.store import CHECKPOINT_KEY

optuna.logging.set_verbosity(optuna.logging.WARNING)


def run_search(url: str, evaluations: int, strategy: str) -> tuple[float, list[optuna.trial.FrozenTrial]]:
    started = time.perf_counter()
    results = search(strategy=strategy, space="nb201", evaluator="table", budget=evaluations, seed=0, storage=url,
                     study="overhead", seeds="none", progress=False)
    elapsed = time.perf_counter() - started
    return elapsed, results.study.get_trials()


def run_plain(url: str, trials: list[optuna.trial.FrozenTrial]) -> float:
    started = time.perf_counter()
    study = optuna.create_study(storage=url, study_name="plain", direction="maximize")
    for stored in trials:
        trial = study.ask(stored.distributions)
        # All attributes in one write: the fastest plain loop, so the ratio errs against nasbench.
        trial.set_user_attr("record", stored.user_attrs)
        for step, value in stored.intermediate_values.items():
            trial.report(value, step)
        study.tell(trial, stored.value, state=stored.state)
    return time.perf_counter() - started


RESUME = """
import sys
from nasbench.app import search
search(strategy=sys.argv[3], space="nb201", evaluator="table", budget=int(sys.argv[2]), seed=0, storage=sys.argv[1],
       study="overhead", seeds="none", progress=False)
"""


def time_resume(url: str, evaluations: int, strategy: str, checkpoint: bool) -> float:
    """Wall seconds of a fresh process that resumes the finished study (start-up included), from its checkpoint or
    by replaying every trial through the strategy without one."""
    if not checkpoint:
        study = optuna.load_study(storage=url, study_name="overhead")
        study._storage.set_study_system_attr(study._study_id, CHECKPOINT_KEY, None)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", RESUME, url, str(evaluations), strategy], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=1000)
    parser.add_argument("--strategy", default="evolution")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    # Warm both paths (imports, the table, SQLAlchemy) outside the timing.
    with tempfile.TemporaryDirectory() as folder:
        _, trials = run_search(f"sqlite:///{Path(folder) / 'warm.db'}", 20, args.strategy)
        run_plain(f"sqlite:///{Path(folder) / 'warm-plain.db'}", trials)
    searched, plain, resumes, replays = [], [], [], []
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            seconds, trials = run_search(f"sqlite:///{Path(folder) / 'search.db'}", args.evaluations, args.strategy)
            searched.append(seconds)
            plain.append(run_plain(f"sqlite:///{Path(folder) / 'plain.db'}", trials))
            url = f"sqlite:///{Path(folder) / 'search.db'}"
            resumes.append(time_resume(url, args.evaluations, args.strategy, checkpoint=True))
            replays.append(time_resume(url, args.evaluations, args.strategy, checkpoint=False))
        print(f"repeat {repeat + 1}: nasbench.app.search {searched[-1]:.1f} s, plain ask/tell {plain[-1]:.1f} s, "
              f"ratio {searched[-1] / plain[-1]:.2f}")
    print(f"{args.evaluations} table evaluations ({args.strategy}) with SQLite: "
          f"nasbench.app.search {min(searched):.1f} s, "
          f"plain Optuna ask/tell {min(plain):.1f} s (best of {args.repeats}); "
          f"ratio {min(searched) / min(plain):.2f} (target <= 1.5)")
    print(f"resuming the finished {args.evaluations}-trial study: {min(resumes):.1f} s from its checkpoint, "
          f"{min(replays):.1f} s by replaying every trial (a study written before checkpoints)")


if __name__ == "__main__":
    main()
