"""How well the ``predictor`` strategy's regressor ranks NAS-Bench-201 architectures it has not seen, beside baselines.

Each repeat draws ``--train + --test`` distinct cells of the shipped CIFAR-10 table uniformly (the ``nb201`` space
builds their networks, the ``table`` evaluator gives their metrics), fits on the first ``--train`` and ranks the other
``--test`` by ``--target`` (default ``valid_acc_12``, the search's objective; ``test_acc_200_trainval`` is the
accuracy the search benchmark reports). Printed: Kendall's tau and Spearman's rho (scipy.stats) between predicted and
true values, mean ± std over the repeats, and the seconds to fit and rank (per repeat), for

- ``gru-pairwise`` and ``gru-mse``: the strategy's regressor (``strategies.regressor.TokenRegressor``: an ensemble
  of 5 GRUs over the genome's tokens, ``strategies.tokens``) trained with the pairwise logistic loss (the
  ``predictor`` strategy's default) or the mean squared error, the ensemble's mean;
- ``gbr-onehot``: scikit-learn's ``GradientBoostingRegressor`` (its default hyper-parameters) on the flat encoding,
  the one-hot of the six edges' ops (NASLib's predictor study has tree ensembles among the best from about 100
  training architectures);
- ``params``: the number of parameters, a zero-cost baseline that needs no training at all.

    python benchmarks/predictor_quality.py [--train 100] [--test 1000] [--repeats 5] [--seed 0]
                                           [--target valid_acc_12|test_acc_200_trainval]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from scipy.stats import kendalltau, spearmanr
from sklearn.ensemble import GradientBoostingRegressor

from nasbench.architecture import Architecture
from search_spaces import nb201
from strategies.regressor import TokenRegressor
from strategies.tokens import tokens
from workers.table import TableEvaluator

TARGETS = ("valid_acc_12", "test_acc_200_trainval")
Predictor = Callable[[list[Architecture], list[float], list[Architecture], int], np.ndarray]


def gru_tokens(train: list[Architecture], targets: list[float], test: list[Architecture], seed: int,
               loss: str) -> np.ndarray:
    """The strategy's regressor trained with ``loss``: the ensemble's mean prediction."""
    model = TokenRegressor(loss=loss)
    model.fit([tokens(arch) for arch in train], targets, seed)
    return model.predict([tokens(arch) for arch in test])[0]


def one_hot(arch: Architecture, space: nb201.NB201Space) -> list[float]:
    """The flat encoding: one indicator per (edge, op)."""
    choices = space.encode(arch)
    return [float(choices[key] == op) for key in space.variables() for op in nb201.OPS]


def gbr_onehot(train: list[Architecture], targets: list[float], test: list[Architecture], seed: int) -> np.ndarray:
    """Gradient boosting (scikit-learn's defaults) on the one-hot of the six edges' ops."""
    space = nb201.NB201Space()
    model = GradientBoostingRegressor(random_state=seed)
    model.fit([one_hot(arch, space) for arch in train], targets)
    return model.predict([one_hot(arch, space) for arch in test])


def params(train: list[Architecture], targets: list[float], test: list[Architecture], seed: int) -> np.ndarray:
    """The number of parameters (no training)."""
    return np.array([float(arch.params()) for arch in test])


PREDICTORS: dict[str, Predictor] = {"gru-pairwise": partial(gru_tokens, loss="pairwise"),
                                    "gru-mse": partial(gru_tokens, loss="mse"), "gbr-onehot": gbr_onehot,
                                    "params": params}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=100)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", default="valid_acc_12", choices=TARGETS)
    args = parser.parse_args()

    space = nb201.NB201Space()
    table = TableEvaluator()
    cells = list(space.enumerate())
    scores: dict[str, list[tuple[float, float, float]]] = {name: [] for name in PREDICTORS}
    for repeat in range(args.repeats):
        seed = args.seed + repeat
        rng = np.random.default_rng(seed)
        drawn = [space.from_string(cells[i]) for i in rng.choice(len(cells), args.train + args.test, replace=False)]
        values = [table.evaluate(arch).metrics[args.target] for arch in drawn]
        train, test = drawn[:args.train], drawn[args.train:]
        for name, predictor in PREDICTORS.items():
            started = time.perf_counter()
            predicted = predictor(train, values[:args.train], test, seed)
            seconds = time.perf_counter() - started
            truth = values[args.train:]
            scores[name].append((kendalltau(predicted, truth)[0], spearmanr(predicted, truth)[0], seconds))

    print(f"NAS-Bench-201 CIFAR-10 {args.target}: fit on {args.train}, rank {args.test} others, "
          f"{args.repeats} repeats from seed {args.seed}")
    print(f"{'predictor':<12} {'Kendall tau':>17} {'Spearman rho':>17} {'seconds':>8}")
    for name, rows in scores.items():
        taus, rhos, seconds = zip(*rows)
        print(f"{name:<12} {_mean_std(taus):>17} {_mean_std(rhos):>17} {statistics.mean(seconds):>8.2f}")


def _mean_std(values: tuple[float, ...]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


if __name__ == "__main__":
    main()
