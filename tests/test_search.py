from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from search_toys import ToyEvaluator, ToySpace, toy_score
from torch import nn

from nasbench.app.cli import main
from nasbench.app.search import search
from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.errors import NasbenchError
from nasbench.ops import register_op
from search_spaces.base import SearchSpace
from strategies.base import Candidate, Strategy
from strategies.registry import register_strategy


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """Run the ``nasbench`` console entry point in-process in ``tmp_path``: (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["nasbench", *args])
        try:
            main()
            code = 0
        except SystemExit as done:
            code = done.code or 0
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def toy_search(**options):
    defaults = {"strategy": "evolution", "space": ToySpace(), "evaluator": ToyEvaluator(), "budget": 40,
                "storage": "memory", "progress": False, "seed": 0}
    return search(**{**defaults, **options})


def test_seeds_first_then_evolution_improves_on_them():
    results = toy_search()
    trials = results.study.get_trials()
    assert len(trials) == 40
    assert [t.user_attrs["seed_name"] for t in trials[:2]] == ["small", "middle"]
    assert all(t.user_attrs["seed_name"] is None for t in trials[2:])
    hashes = [t.user_attrs["hash"] for t in trials]
    assert len(set(hashes)) == len(hashes)
    seed_best = max(t.value for t in trials[:2])
    assert results.best_value > seed_best
    children = [t for t in trials if t.user_attrs["origin"] == "mutation"]
    assert children and all(t.user_attrs["parent"] in hashes for t in children)
    # params = the space's encoding; the per-epoch curve = intermediate values
    assert set(trials[0].params) == {"w0", "w1", "w2", "w3"}
    assert trials[0].intermediate_values == {1: 10.0, 2: 20.0}


def test_evaluator_that_raises_is_a_fail_trial_and_the_search_goes_on():
    results = toy_search(strategy="random", budget=60, seeds="none")
    trials = results.study.get_trials()
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert len(trials) == 60 and failed
    for trial in failed:
        assert trial.params["w0"] == trial.params["w1"] == 4
        assert "toy evaluator refuses 4-4" in trial.user_attrs["outcome"]["error"]


def test_limits_fail_without_evaluation():
    evaluator = ToyEvaluator()
    results = toy_search(evaluator=evaluator, budget=10, seeds="small,middle", max_params=60)
    trials = results.study.get_trials()
    too_large = [t for t in trials if t.state.name == "FAIL"]
    assert too_large and all("max_params" in t.user_attrs["outcome"]["error"] for t in too_large)
    assert len(evaluator.calls) == 10 - len(too_large)


class Repeater(Strategy):
    """Proposes the same three architectures over and over (a converged strategy)."""

    name = "repeater"

    def __init__(self, space, **options):
        super().__init__(space, **options)
        self.asked = 0
        self.told: list[float] = []

    def ask(self):
        self.asked += 1
        widths = [2, 3, 4][self.asked % 3]
        return Candidate(self.space.decode({f"w{i}": widths for i in range(4)}), {"origin": "sample"})

    def tell(self, candidate, result):
        self.told.append(result.metrics.get("score"))


register_strategy("test-repeater")(Repeater)


def test_duplicates_use_no_budget_are_told_the_stored_result_and_are_bounded():
    evaluator = ToyEvaluator()
    results = toy_search(strategy="test-repeater", evaluator=evaluator, budget=10, seeds="small", max_duplicates=7)
    trials = results.study.get_trials()
    # small (all 2s) is a seed; the repeater adds only the 3s and 4s network before it spins on duplicates
    assert len(trials) == 3 and len(evaluator.calls) == 3
    assert results.stopped and "duplicate" in results.stopped


def test_seed_selection_errors():
    with pytest.raises(NasbenchError, match="unknown seed"):
        toy_search(seeds="small,bogus")


def test_determinism_under_a_seed_with_the_table_evaluator():
    def sequence(seed: int) -> list[str]:
        results = search(strategy="evolution", space="nb201", evaluator="table", budget=25, seed=seed,
                         storage="memory", progress=False, population=5, tournament=2)
        return [t.user_attrs["hash"] for t in results.study.get_trials()]

    first = sequence(3)
    assert first == sequence(3)
    assert first != sequence(4)
    assert len(set(first)) == 25


@register_op("search_test_raise", shape=lambda shape, a: shape, cost=lambda shape, a: (0, 0), replace=True)
def _raising(shape, a) -> nn.Module:
    class Raise(nn.Module):
        def forward(self, x):
            raise RuntimeError("this op always raises")

    return Raise()


@register_op("search_test_nan", shape=lambda shape, a: shape, cost=lambda shape, a: (0, 0), replace=True)
def _nan(shape, a) -> nn.Module:
    class Nan(nn.Module):
        def forward(self, x):
            return x * torch.nan

    return Nan()


class FaultySpace(SearchSpace):
    """Seeds: a good small CNN, one with an op that raises and one whose loss is NaN."""

    name = "faulty"

    def network(self, op: str | None, name: str) -> Architecture:
        net = Cell(inputs=["input"], output="fc")
        previous = net.add("conv", "conv_bn_relu", inputs=["input"], args={"out": 4})
        if op:
            previous = net.add("odd", op, inputs=[previous])
        net.add("gap", "global_avg_pool", inputs=[previous])
        net.add("fc", "linear", inputs=["gap"], args={"out": self.num_classes})
        return Architecture(name, self.input_shape, net)

    def seeds(self):
        return [self.network(None, "good"), self.network("search_test_raise", "raises"),
                self.network("search_test_nan", "nan")]

    def sample(self, rng: np.random.Generator):
        return self.seeds()[0]

    def mutate(self, arch, rng):
        return self.seeds()[0]

    def contains(self, arch):
        return True


def test_failure_isolation_with_the_train_evaluator():
    results = search(strategy="random", space=FaultySpace(), evaluator="train", dataset="digits", epochs=1,
                     budget=3, storage="memory", progress=False)
    trials = {t.user_attrs["seed_name"]: t for t in results.study.get_trials()}
    assert trials["good"].state.name == "COMPLETE" and trials["good"].value > 0
    assert trials["raises"].state.name == "FAIL"
    assert "always raises" in trials["raises"].user_attrs["outcome"]["error"]
    assert trials["nan"].state.name == "FAIL"
    assert "nan" in trials["nan"].user_attrs["outcome"]["error"].lower()


def test_cli_end_to_end_with_results_commands(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'deep' / 'store.db'}"
    (tmp_path / "search.yaml").write_text("space: nb201\nevaluator: table\nbudget: 12\nseed: 5\n"
                                          "population: 4\ntournament: 2\nremove: worst\n")
    code, out, err = cli("search", "--strategy", "evolution", "--config", "search.yaml", "--storage", url,
                         "--study", "e2e", "--budget", "15")
    assert code == 0, err
    assert f"optuna-dashboard --host 127.0.0.1 {url}" in out
    code, out, _ = cli("results", "show", "--storage", url, "--json")
    rows = json.loads(out)
    assert len(rows) == 15 and rows[0]["seed_name"] == "nb201_resnet"
    assert set(rows[0]) == {"number", "state", "objective", "hash", "strategy", "seed_name", "parent", "params",
                            "macs", "metrics"}
    assert all(row["state"] == "COMPLETE" and row["strategy"] == "evolution" for row in rows)
    assert "test_acc_200_trainval" in rows[3]["metrics"] and rows[3]["objective"] == rows[3]["metrics"]["valid_acc_12"]
    code, out, _ = cli("results", "top", "-k", "3", "--storage", url, "--study", "e2e", "--json")
    best = json.loads(out)
    assert [row["objective"] for row in best] == sorted((row["objective"] for row in rows), reverse=True)[:3]
    code, out, _ = cli("results", "show", "--storage", url)
    assert code == 0 and "nb201_resnet" in out
    code, out, _ = cli("results", "export", "--format", "csv", "-o", "out.csv", "--storage", url)
    assert code == 0 and len((tmp_path / "out.csv").read_text().splitlines()) == 16
    code, out, _ = cli("results", "export", "--format", "parquet", "--storage", url)
    assert code == 0 and (tmp_path / "e2e.parquet").is_file()


@pytest.mark.parametrize("args, message", [
    (["search", "--strategy", "nope", "--space", "nb201", "--evaluator", "table", "--storage", "memory"],
     "unknown strategy"),
    (["search", "--space", "nb201", "--evaluator", "table", "--storage", "nowhere"], "storage"),
    (["search", "--space", "nb201", "--evaluator", "table", "--storage", "memory", "--budget", "0"], "budget"),
    (["search", "--strategy", "random", "--space", "nb201", "--evaluator", "table", "--population", "5"],
     "evolution strategy"),
    (["search", "--config", "missing.yaml"], "config file not found"),
    (["results", "show", "--storage", "sqlite:///empty.db", "--study", "x"], "no study 'x'"),
    (["results", "export", "--format", "xls", "--storage", "sqlite:///empty.db"], "choose a study"),
])
def test_cli_bad_input_is_a_one_line_error(cli, args, message):
    code, _, err = cli(*args)
    assert code != 0
    assert err.count("\n") == 1 and message in err


def test_config_file_unknown_option(cli, tmp_path):
    (tmp_path / "bad.yaml").write_text("budgett: 3\n")
    code, _, err = cli("search", "--config", "bad.yaml")
    assert code == 2 and "unknown option(s) budgett" in err


def test_toy_score_prefers_wide_early_layers():
    space = ToySpace()
    assert toy_score(space.decode({f"w{i}": 5 for i in range(4)})) == 50


def test_two_workers_keep_two_evaluations_in_flight():
    results = toy_search(evaluator=ToyEvaluator(delay=0.3, raising=False), budget=10, workers=2, population=4,
                         tournament=2)
    trials = results.study.get_trials()
    assert len(trials) == 10 and all(t.state.name == "COMPLETE" for t in trials)
    assert len({t.user_attrs["hash"] for t in trials}) == 10
    overlapping = sum(1 for a, b in zip(trials, trials[1:]) if b.datetime_start < a.datetime_complete)
    assert overlapping >= 5
