"""Overhead of the search loop and its store: table evaluations through ``nasbench.app.search`` (SQLite) against a
plain Optuna ask/tell loop that writes the same attributes, intermediate values and objectives to SQLite.

Both sides run in this process, one after the other, each on a fresh SQLite file, ``--repeats`` times interleaved. The
plain loop replays the trials the search stored (their user attributes, curves and values), so both write the same
data; the search additionally proposes (``--strategy``), hashes, deduplicates, looks each candidate up in the table and
checkpoints the strategy's state with the study (every 25 evaluations). Two plain loops: one ``set_user_attr`` per
attribute (what a plain Optuna user writes), and all attributes in one call (the fastest plain loop, which errs
against nasbench). ``random`` is the default strategy because it really makes ``--evaluations`` distinct proposals;
regularized evolution on NAS-Bench-201 converges (100 duplicate proposals in a row) after about 290 evaluations.
Then it times a fresh process resuming the study for one more evaluation: from its checkpoint, and by replaying every
trial through the strategy (as a study written before checkpoints resumes). Last, the cost of each trial's drawings
and note (``--drawings``, off by default for the table evaluator): ``--drawn`` evaluations with and without them.

    python benchmarks/store_overhead.py [--evaluations 1000] [--strategy random] [--repeats 3] [--drawn 100]
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

RESUME = """
import sys
from nasbench.app import search
search(strategy=sys.argv[3], space="nb201", evaluator="table", budget=int(sys.argv[2]), seed=0, storage=sys.argv[1],
       study="overhead", seeds="none", progress=False)
"""


def run_search(url: str, evaluations: int, strategy: str,
               drawings: bool | None = None) -> tuple[float, list[optuna.trial.FrozenTrial]]:
    started = time.perf_counter()
    results = search(strategy=strategy, space="nb201", evaluator="table", budget=evaluations, seed=0, storage=url,
                     study="overhead", seeds="none", progress=False, drawings=drawings)
    elapsed = time.perf_counter() - started
    return elapsed, results.study.get_trials()


def run_plain(url: str, trials: list[optuna.trial.FrozenTrial], one_write: bool) -> float:
    started = time.perf_counter()
    study = optuna.create_study(storage=url, study_name="plain", direction="maximize")
    for stored in trials:
        trial = study.ask(stored.distributions)
        if one_write:
            trial.set_user_attr("record", stored.user_attrs)
        else:
            for key, value in stored.user_attrs.items():
                trial.set_user_attr(key, value)
        for step, value in stored.intermediate_values.items():
            trial.report(value, step)
        study.tell(trial, stored.value, state=stored.state)
    return time.perf_counter() - started


def time_resume(url: str, evaluations: int, strategy: str, checkpoint: bool) -> float:
    """Wall seconds of a fresh process (start-up included) that resumes the study for one more evaluation.

    One more, so that the strategy must be restored exactly (from the checkpoint, or by re-asking every stored
    proposal) before it proposes: a study whose budget is spent only tells the strategy what is stored.
    """
    if not checkpoint:
        study = optuna.load_study(storage=url, study_name="overhead")
        study._storage.set_study_system_attr(study._study_id, CHECKPOINT_KEY, None)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", RESUME, url, str(evaluations + 1), strategy], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=1000)
    parser.add_argument("--strategy", default="random")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--drawn", type=int, default=100)
    args = parser.parse_args()
    # Warm both paths (imports, the table, SQLAlchemy) outside the timing.
    with tempfile.TemporaryDirectory() as folder:
        _, trials = run_search(f"sqlite:///{Path(folder) / 'warm.db'}", 20, args.strategy)
        run_plain(f"sqlite:///{Path(folder) / 'warm-plain.db'}", trials, one_write=False)
    searched, per_attribute, one_write, resumes, replays = [], [], [], [], []
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'search.db'}"
            seconds, trials = run_search(url, args.evaluations, args.strategy)
            searched.append(seconds)
            per_attribute.append(run_plain(f"sqlite:///{Path(folder) / 'plain.db'}", trials, one_write=False))
            one_write.append(run_plain(f"sqlite:///{Path(folder) / 'plain1.db'}", trials, one_write=True))
            resumes.append(time_resume(url, args.evaluations, args.strategy, checkpoint=True))
            replays.append(time_resume(url, args.evaluations, args.strategy, checkpoint=False))
        print(f"repeat {repeat + 1}: {len(trials)} trials; search {searched[-1]:.1f} s, plain ask/tell "
              f"{per_attribute[-1]:.1f} s (one write per attribute), {one_write[-1]:.1f} s (one write)")
    best = min(searched)
    print(f"{len(trials)} table evaluations ({args.strategy}, SQLite), best of {args.repeats}: search {best:.1f} s; "
          f"ratio {best / min(per_attribute):.2f} against the plain loop with one write per attribute, "
          f"{best / min(one_write):.2f} against one write per trial (target <= 1.5)")
    print(f"resuming the study for one more evaluation in a fresh process: {min(resumes):.1f} s from its checkpoint, "
          f"{min(replays):.1f} s by replaying every trial (a study written before checkpoints)")
    with tempfile.TemporaryDirectory() as folder:
        plain, _ = run_search(f"sqlite:///{Path(folder) / 'plain.db'}", args.drawn, args.strategy, drawings=False)
        drawn, _ = run_search(f"sqlite:///{Path(folder) / 'drawn.db'}", args.drawn, args.strategy, drawings=True)
    print(f"{args.drawn} evaluations with each trial's drawings and note: {1000 * drawn / args.drawn:.0f} ms per "
          f"trial against {1000 * plain / args.drawn:.0f} ms without ({1000 * (drawn - plain) / args.drawn:.0f} ms "
          f"for the pictures, {drawn / plain:.1f}x; off by default for the table evaluator)")


if __name__ == "__main__":
    main()
