"""COMBO's time to decide: seconds per proposal against the number of observations, on NAS-Bench-201 and DARTS.

For each count n, a ``combo`` strategy with its default options is told n random members (NAS-Bench-201: their
``valid_acc_12`` from the shipped table; DARTS: a synthetic score, as only the time matters), then asked for
``--asks`` proposals, each result told before the next one. Printed per n: the first proposal (it runs the 99
burn-in sweeps), the median of the others (the steady state: 10 slice-sampling sweeps, then the acquisition), and
how that median splits into posterior sampling and acquisition (the sweeps timed alone on the same data).

    python benchmarks/combo_decision_time.py [--counts 10,25,50,100,150,200,300] [--asks 3] [--spaces nb201,darts]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import search_spaces
from nasbench.objectives import parse_objectives
from strategies import Candidate, Observation
from strategies import get as get_strategy
from strategies.combo_gp import DiffusionGP, single_threaded
from strategies.combo_posterior import Outputs, supported, sweep
from workers.table import TableEvaluator

OBJECTIVE = parse_objectives("score:max")


def scorer(space_name: str):
    """The value told for a member: its table accuracy on NAS-Bench-201, a deterministic hash score elsewhere."""
    if space_name == "nb201":
        table = TableEvaluator()
        return lambda arch: table.evaluate(arch).metrics["valid_acc_12"]
    return lambda arch: 80.0 + (int(arch.hash()[:6], 16) % 1000) / 100.0


def observe(value: float) -> Observation:
    return Observation(True, (value,), {"score": value})


def measure(space_name: str, count: int, asks: int) -> tuple[float, float, float]:
    """(first proposal, median later proposal, median sampling time of those) in seconds, after ``count`` told."""
    space = search_spaces.get(space_name)
    score = scorer(space_name)
    strategy = get_strategy("combo", space, OBJECTIVE, seed=count, options={"initial": min(count, 20)})
    rng = np.random.default_rng(count)
    for _ in range(count):
        arch = space.sample(rng)
        strategy.tell(Candidate(arch, {"origin": "sample"}), observe(score(arch)))
    proposals, sampling = [], []
    for _ in range(asks):
        values, hyper = strategy.targets(), strategy.hyper
        started = time.perf_counter()
        candidate = strategy.ask()
        proposals.append(time.perf_counter() - started)
        if hyper is not None:
            sampling.append(time_sweeps(strategy, values, hyper))
        strategy.tell(candidate, observe(score(candidate.arch)))
    later = proposals[1:] or proposals
    return proposals[0], statistics.median(later), statistics.median(sampling) if sampling else float("nan")


def time_sweeps(strategy, values: np.ndarray, hyper) -> float:
    """Seconds of the strategy's ``samples`` sweeps alone on the same observations, from the same sample."""
    gp = DiffusionGP(strategy.kernel, np.array(strategy.points), values)
    outputs = Outputs.of(values, strategy.graphs)
    rng = np.random.default_rng(0)
    with single_threaded():
        started = time.perf_counter()
        for _ in range(strategy.config["samples"]):
            hyper = sweep(supported(hyper, outputs), gp.log_marginal_likelihood, outputs, rng)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="10,25,50,100,150,200,300")
    parser.add_argument("--asks", type=int, default=3)
    parser.add_argument("--spaces", default="nb201,darts")
    args = parser.parse_args()
    print(f"{'space':<6} {'observed':>8} {'first (burn-in)':>16} {'per proposal':>13} {'sampling':>9} "
          f"{'acquisition':>12}")
    for space_name in args.spaces.split(","):
        for count in (int(part) for part in args.counts.split(",")):
            first, median, sampling = measure(space_name, count, args.asks)
            print(f"{space_name:<6} {count:>8} {first:>15.2f}s {median:>12.2f}s {sampling:>8.2f}s "
                  f"{median - sampling:>11.2f}s", flush=True)


if __name__ == "__main__":
    main()
