from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from faulty_ops import NAN_OP, RAISING_OP
from search_toys import ToyEvaluator, ToySpace, toy_score

from nasbench.app.search import search
from nasbench.architecture import Architecture
from nasbench.cell import Cell
from nasbench.errors import NasbenchError
from search_spaces.base import SearchSpace
from strategies import STRATEGIES
from strategies.base import Candidate, Strategy


def toy_search(**options):
    defaults = {"strategy": "evolution", "space": ToySpace(), "evaluator": ToyEvaluator(), "budget": 40,
                "storage": "memory", "progress": False, "seed": 0}
    return search(**{**defaults, **options})


def test_seeds_first_then_evolution_improves_on_them():
    results = toy_search()
    trials = results.study.get_trials()
    assert len(trials) == 40
    assert [t.user_attrs["seed_name"] for t in trials[:2]] == ["small", "middle"]
    assert all(t.user_attrs.get("seed_name") is None for t in trials[2:])
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
    """Proposes the same three architectures over and over (a converged strategy); one objective only."""

    def __init__(self, *args, **options):
        super().__init__(*args, **options)
        self.asked = 0
        self.told: list[float] = []

    def ask(self):
        self.asked += 1
        widths = [2, 3, 4][self.asked % 3]
        return Candidate(self.space.decode({f"w{i}": widths for i in range(4)}), {"origin": "sample"})

    def tell(self, candidate, observation):
        self.told.append(observation.metrics.get("score"))

    def state_dict(self):
        return {**super().state_dict(), "asked": self.asked}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.asked = state["asked"]


@pytest.fixture(autouse=True)
def repeater():
    """The repeater is registered only while this module's tests run (the strategy contract suite must not see it)."""
    STRATEGIES.register("test-repeater", Repeater)
    yield
    STRATEGIES.unregister("test-repeater")


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
                         storage="memory", progress=False, strategy_options={"population": 5, "tournament": 2})
        return [t.user_attrs["hash"] for t in results.study.get_trials()]

    first = sequence(3)
    assert first == sequence(3)
    assert first != sequence(4)
    assert len(set(first)) == 25


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
        return [self.network(None, "good"), self.network(RAISING_OP, "raises"),
                self.network(NAN_OP, "nan")]

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
    assert "boom in forward" in trials["raises"].user_attrs["outcome"]["error"]
    assert trials["nan"].state.name == "FAIL"
    assert "nan" in trials["nan"].user_attrs["outcome"]["error"].lower()


def test_cli_end_to_end_with_results_commands(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'deep' / 'store.db'}"
    (tmp_path / "search.yaml").write_text("space: nb201\nevaluator: table\nbudget: 12\nseed: 5\n"
                                          "population: 4\ntournament: 2\nremove: worst\n")
    code, out, err = cli("search", "--strategy", "evolution", "--config", "search.yaml", "--storage", url,
                         "--study", "e2e", "--budget", "15")
    assert code == 0, err
    assert f"nasbench dashboard --storage {url}" in out
    code, out, _ = cli("results", "show", "--storage", url, "--json")
    rows = json.loads(out)
    assert len(rows) == 15 and rows[0]["seed_name"] == "nb201_resnet"
    assert set(rows[0]) == {"number", "state", "name", "objective", "values", "hash", "strategy", "origin",
                            "seed_name", "parent", "params", "macs", "error", "metrics"}
    assert rows[0]["values"] == {"valid_acc_12": rows[0]["objective"]}
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
     "strategy 'random': unknown option(s) population (options: none)"),
    (["search", "--space", "nb201", "--evaluator", "table", "--option", "tournament=three"],
     "strategy 'evolution': option 'tournament' expects an integer, got 'three'"),
    (["search", "--space", "nb201", "--evaluator", "table", "--option", "remove=youngest"],
     "option 'remove' must be one of oldest, worst"),
    (["search", "--space", "nb201", "--evaluator", "table", "--option", "tournament"], "--option expects KEY=VALUE"),
    (["search", "--space", "nb201", "--evaluator", "table", "--objectives", "val_acc:max"],
     "unknown metric(s) val_acc for evaluator 'table' (metrics: index, valid_acc_12"),
    (["search", "--space", "nb201", "--evaluator", "table", "--objectives", "valid_acc_12:up"],
     "direction must be max or min, got 'up'"),
    (["search", "--space", "nb201", "--evaluator", "table", "--objectives", "valid_acc_12"],
     "expected METRIC:max or METRIC:min"),
    (["search", "--strategy", "test-repeater", "--space", "nb201", "--evaluator", "table", "--objectives",
      "valid_acc_12:max,params:min"], "strategy 'test-repeater' optimizes one objective, got 2"),
    (["search", "--space", "nb201", "--evaluator", "table", "--population", "abc"],
     "strategy 'evolution': option 'population' expects an integer, got 'abc'"),
    (["search", "--space", "nb201", "--evaluator", "table", "--option", "seed=3"],
     "strategy 'evolution': unknown option(s) seed (options: population, tournament, mutations_schedule, remove)"),
    (["search", "--space", "nb201", "--evaluator", "table", "--executor-option", "workers=two"],
     "executor 'local': option 'workers' expects an integer, got 'two'"),
    (["search", "--space", "nb201", "--evaluator", "table", "--max-params", "0"], "max_params must be at least 1"),
    (["search", "--strategy", "tpe", "--space", "graph", "--evaluator", "table"],
     "strategy 'tpe' needs a space with a fixed-length encoding (variables()); space 'graph' is open-ended"),
    (["search", "--strategy", "combo", "--space", "graph", "--evaluator", "table"],
     "strategy 'combo' needs a space with a fixed-length encoding (variables()); space 'graph' is open-ended"),
    (["search", "--strategy", "combo", "--space", "nb201", "--evaluator", "table", "-o", "beta=-1"],
     "strategy 'combo': option 'beta': must be positive, got -1"),
    (["search", "--strategy", "combo", "--space", "nb201", "--evaluator", "table", "-o", "samples=0"],
     "strategy 'combo': option 'samples' must be at least 1, got 0"),
    (["search", "--strategy", "combo", "--space", "nb201", "--evaluator", "table", "--objectives",
      "valid_acc_12:max,params:min"], "give weights for the 2 objectives with its option weights (e.g. --option "
                                      "weights=1,1)"),
    (["search", "--strategy", "nsga2", "--space", "nb201", "--evaluator", "table"],
     "strategy 'nsga2' needs at least 2 objectives"),
    (["search", "--strategy", "tpe", "--space", "nb201", "--evaluator", "table", "-o", "multivariate=maybe"],
     "strategy 'tpe': option 'multivariate' expects true or false, got 'maybe'"),
    (["search", "--space", "nb201", "--evaluator", "table", "--executor-option", "wrkers=2"],
     "executor 'local': unknown option(s) wrkers (options: workers, threads, timeout, scheduler, grace_period, "
     "reduction_factor)"),
    (["search", "--space", "nb201", "--evaluator", "table", "--evaluator-option", "tabel=x.csv"],
     "evaluator 'table': unknown option(s) tabel"),
    (["search", "--config", "missing.yaml"], "config file not found"),
    (["results", "show", "--storage", "sqlite:///empty.db", "--study", "x"], "no store at empty.db"),
    (["results", "export", "--format", "xls", "--storage", "sqlite:///empty.db"], "no store at empty.db"),
])
def test_cli_bad_input_is_a_one_line_error(cli, args, message, tmp_path):
    code, _, err = cli(*args)
    assert code == 2
    assert err.count("\n") == 1 and message in err
    if "--storage" not in args:
        assert not (tmp_path / "results").exists()  # nothing was written to the default store


def test_bad_input_on_resume_leaves_the_stored_study_as_it_was(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    base = ["search", "--space", "nb201", "--evaluator", "table", "--storage", url, "--study", "kept", "--budget", "8"]
    assert cli(*base)[0] == 0
    before = [t.user_attrs["hash"] for t in optuna.load_study(storage=url, study_name="kept").get_trials()]
    for extra in (["--objectives", "valid_acc_12:min"], ["--option", "population=7"], ["--option", "remove=x"],
                  ["--strategy", "random"]):
        code, _, err = cli(*base, *extra)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    after = optuna.load_study(storage=url, study_name="kept").get_trials()
    assert [t.user_attrs["hash"] for t in after] == before and all(t.state.name == "COMPLETE" for t in after)


def test_multi_objective_search_from_the_readme(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'mo.db'}"
    code, out, err = cli("search", "--strategy", "evolution", "--space", "nb201", "--evaluator", "table",
                         "--objectives", "valid_acc_12:max,params:min", "--budget", "200", "--storage", url)
    assert code == 0, err
    assert "Pareto front" in out
    study = optuna.load_study(storage=url, study_name="evolution-nb201-table-seed0")
    assert study.metric_names == ["valid_acc_12", "params"]
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    done = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    assert len(study.get_trials()) == 200 and all(len(t.values) == 2 for t in done)
    code, out, _ = cli("results", "pareto", "--storage", url, "--json")
    front = json.loads(out)
    points = [(row["values"]["valid_acc_12"], -row["values"]["params"]) for row in front]
    everyone = [(t.values[0], -t.values[1]) for t in done]
    assert len(front) >= 3
    assert not any(all(o >= p for o, p in zip(other, point)) and other != point
                   for point in points for other in everyone)  # nothing dominates a front member
    assert {row["number"] for row in front} == {t.number for t in study.best_trials}
    code, out, _ = cli("results", "top", "-k", str(len(front) + 5), "--storage", url, "--json")
    ranked = json.loads(out)
    assert [row["number"] for row in ranked[:len(front)]] == [row["number"] for row in front]
    assert [row["objective"] for row in front] == sorted((row["objective"] for row in front), reverse=True)


def test_config_file_unknown_option(cli, tmp_path):
    (tmp_path / "bad.yaml").write_text("budgett: 3\n")
    code, _, err = cli("search", "--config", "bad.yaml")
    assert code == 2 and "unknown option(s) budgett" in err


def test_toy_score_prefers_wide_early_layers():
    space = ToySpace()
    assert toy_score(space.decode({f"w{i}": 5 for i in range(4)})) == 50


def test_two_workers_keep_two_evaluations_in_flight():
    results = toy_search(evaluator=ToyEvaluator(delay=0.3, raising=False), budget=10, workers=2,
                         strategy_options={"population": 4, "tournament": 2})
    trials = results.study.get_trials()
    assert len(trials) == 10 and all(t.state.name == "COMPLETE" for t in trials)
    assert len({t.user_attrs["hash"] for t in trials}) == 10
    overlapping = sum(1 for a, b in zip(trials, trials[1:]) if b.datetime_start < a.datetime_complete)
    assert overlapping >= 5


def test_strategies_command_lists_every_strategy_with_its_options(cli):
    code, out, _ = cli("strategies", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert code == 0 and set(rows) == set(STRATEGIES.names())
    evolution = {option["name"]: option for option in rows["evolution"]["options"]}
    assert set(evolution) == {"population", "tournament", "mutations_schedule", "remove"}
    assert evolution["population"]["type"] == "int" and "budget" in evolution["population"]["default"]
    assert evolution["remove"]["choices"] == ["oldest", "worst"] and rows["evolution"]["multi_objective"]
    assert "Real et al. 2019" in rows["evolution"]["paper"] and rows["random"]["options"] == []
    code, out, _ = cli("strategies")
    assert code == 0 and "population" in out and "test-repeater" in out and "one objective" in out


def test_strategy_options_from_config_cli_and_shorthands_agree(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    (tmp_path / "c.yaml").write_text("space: nb201\nevaluator: table\nbudget: 6\n"
                                     "strategy_options: {population: 3, remove: worst}\n")
    assert cli("search", "--config", "c.yaml", "--storage", url, "--study", "a", "--tournament", "2")[0] == 0
    assert cli("search", "--space", "nb201", "--evaluator", "table", "--budget", "6", "--storage", url,
               "--study", "b", "-o", "population=3", "-o", "remove=worst", "--option", "tournament=2")[0] == 0
    configs = [optuna.load_study(storage=url, study_name=name).user_attrs["strategy_config"] for name in "ab"]
    assert configs[0] == configs[1] == {"population": 3, "tournament": 2, "mutations_schedule": None,
                                        "remove": "worst"}


def test_the_leaderboard_says_what_one_validation_image_is_worth(capsys):
    search(budget=1, epochs=1, seeds="lenet5", storage="memory", progress=True)
    assert "noise: one validation image is 0.28 % of val_acc (359 images)" in capsys.readouterr().out
