"""Transferring a cell to another size (``SearchSpace.resized`` / ``transfer``), ``nasbench train`` and
``nasbench search --space-option``."""

from __future__ import annotations

import sys
from pathlib import Path

import optuna
import pytest
import torch
from typer.testing import CliRunner

import nasbench
import search_spaces
from nasbench.app.cli import _register_commands, app, main
from nasbench.app.train import train
from nasbench.errors import NasbenchError
from search_spaces import zoo
from search_spaces.nb201 import RESNET_CELL
from workers.base import get_evaluator

_register_commands()
runner = CliRunner()
DIGITS = (1, 16, 16)


def seed(space_name: str, name: str, **options: object) -> nasbench.Architecture:
    space = search_spaces.get(space_name, **options)
    return next(arch for arch in space.seeds() if arch.name == name)


def test_resized_keeps_every_other_setting() -> None:
    nb201 = search_spaces.get("nb201", input_shape=DIGITS, num_classes=7, C=8, N=2)
    deeper = nb201.resized(cells=3)
    assert type(deeper) is type(nb201)
    assert (deeper.N, deeper.C, deeper.input_shape, deeper.num_classes) == (3, 8, DIGITS, 7)
    assert (nb201.resized(width=4).N, nb201.resized(width=4).C) == (2, 4)
    darts = search_spaces.get("darts", input_shape=(3, 16, 16), num_classes=5, auxiliary=True)
    large = darts.resized(20, 36)
    assert (large.layers, large.C, large.auxiliary, large.input_shape, large.num_classes) == (20, 36, True,
                                                                                              (3, 16, 16), 5)
    assert (darts.layers, darts.C) == (8, 16)  # the original is untouched


@pytest.mark.parametrize(("space_name", "name", "small", "large"), [
    ("nb201", "nb201_resnet", (1, 4), (5, 16)),
    ("darts", "darts_v1", (3, 4), (8, 16)),
    ("nasnet", "amoebanet_a", (3, 4), (5, 8)),
])
def test_transfer_keeps_the_cells_and_the_name(space_name: str, name: str, small: tuple[int, int],
                                               large: tuple[int, int]) -> None:
    space = search_spaces.get(space_name, input_shape=(3, 16, 16))
    arch = seed(space_name, name, input_shape=(3, 16, 16))
    little, big = space.transfer(arch, *small), space.transfer(arch, *large)
    assert little.name == big.name == name
    assert space.encode(little) == space.encode(big) == space.encode(arch)
    assert little.params() < big.params()
    # Transferring back gives the network the space built in the first place.
    assert space.transfer(little, *large).hash() == big.hash()
    model = nasbench.build(little)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == little.params()


def test_darts_v2_at_its_evaluation_size_is_the_published_network() -> None:
    # DARTS searches 8 cells of 16 channels and evaluates 20 cells of 36 channels on CIFAR-10: 3.3M parameters
    # published, 3,349,342 counted as DARTS counts (no auxiliary head), the count of the zoo's darts_v2_cifar.
    darts = search_spaces.get("darts", input_shape=(3, 32, 32), num_classes=10, auxiliary=False)
    searched = seed("darts", "darts_v2")
    evaluated = darts.transfer(searched, cells=20, width=36)
    assert searched.params() < 400_000
    assert evaluated.params() == 3_349_342 and abs(evaluated.params() / 3.3e6 - 1) < 0.05
    assert evaluated.hash() == zoo.get("darts_v2_cifar").hash()


@pytest.mark.parametrize(("space_name", "cells", "width", "words"), [
    ("graph", 2, None, ["space 'graph' has no cell/width size to transfer"]),
    ("nb201", 0, None, ["nb201", "N=0"]),
    ("nb201", None, 0, ["nb201", "C=0"]),
    ("darts", 2, None, ["darts", "layers=2"]),
])
def test_bad_sizes_are_one_line_errors(space_name: str, cells: int | None, width: int | None,
                                       words: list[str]) -> None:
    space = search_spaces.get(space_name)
    with pytest.raises(NasbenchError) as error:
        space.transfer(seed("nb201", "nb201_resnet"), cells, width)
    assert "\n" not in str(error.value) and all(word in str(error.value) for word in words)


def test_a_network_of_another_space_is_not_transferred() -> None:
    with pytest.raises(NasbenchError, match="darts_v2 is not a member of space 'nb201'"):
        search_spaces.get("nb201").transfer(seed("darts", "darts_v2"), cells=1)


def test_cli_trains_a_transferred_nb201_cell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A genome file of the benchmark-size cell (N=5, C=16) names its space, so --cells/--width need no --space.
    monkeypatch.chdir(tmp_path)  # the run's checkpoint goes beside the default store, results/
    genome = tmp_path / "cell.yaml"
    genome.write_text(search_spaces.get("nb201").from_string(RESNET_CELL).to_yaml())
    weights = tmp_path / "out" / "cell.pt"
    result = runner.invoke(app, ["train", str(genome), "--cells", "1", "--width", "4", "--epochs", "1",
                                 "--evaluator-option", "lr=0.05", "--save", str(weights)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    transferred = search_spaces.get("nb201", input_shape=DIGITS).transfer(nasbench.Architecture.from_yaml(
        genome.read_text()), cells=1, width=4)
    assert lines[0] == transferred.name[:77] + "..."  # an nb201 name is its 85-character cell string
    assert f"params {transferred.params():,}" in lines[1] and "nb201: N=1 C=4" in lines[1]
    assert lines[3].startswith("epochs ") and "1/1 val_acc" in lines[3]
    assert lines[4].startswith("val_acc ") and "(no test split in digits)" in lines[4]
    assert (tmp_path / "results" / "nasbench.retrain").is_dir()
    model = nasbench.build(transferred)
    model.load_state_dict(torch.load(weights))


def test_train_returns_the_run_and_finds_a_space_seed() -> None:
    run = train("nb201_resnet", space="nb201", cells=1, width=2, epochs=1, progress=False, checkpoint=False)
    assert run.result.ok and run.model is not None
    assert run.arch.name == "nb201_resnet" and run.arch.input_shape == DIGITS
    assert run.result.metrics["params"] == run.arch.params()
    assert len(run.result.curve) == 1 and 0 <= run.result.metrics["val_acc"] <= 100


def assert_one_line_error(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert all(word in lines[0] for word in words), lines[0]


@pytest.mark.parametrize(("args", "words"), [
    (["no_such_net"], ["no_such_net"]),
    (["no_such_seed", "--space", "nb201"], ["no_such_seed", "nb201_resnet"]),
    (["lenet5", "--cells", "2"], ["cell space of lenet5", "--space"]),
    (["lenet5", "--space", "graph", "--cells", "2"], ["space 'graph' has no cell/width size to transfer"]),
    (["nb201_resnet", "--space", "nb201", "--cells", "0"], ["cells must be at least 1, got 0"]),
    (["nb201_resnet", "--space", "nb201", "--epochs", "0"], ["epochs"]),
    (["nb201_resnet", "--space", "nb201", "--evaluator-option", "lr"], ["--evaluator-option expects KEY=VALUE"]),
    (["nb201_resnet", "--space", "nb201", "--evaluator-option", "lr=fast"], ["lr"]),
])
def test_train_bad_input_is_a_one_line_error(args: list[str], words: list[str]) -> None:
    assert_one_line_error(runner.invoke(app, ["train", *args]), *words)


def test_search_evaluates_at_the_space_options_size(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = runner.invoke(app, ["search", "--strategy", "random", "--space", "nb201", "--evaluator", "table",
                                 "--budget", "2", "--seeds", "nb201_resnet", "--storage", url, "--study", "small",
                                 "--space-option", "N=1", "--space-option", "C=4", "--no-progress"])
    assert result.exit_code == 0, result.output
    trials = optuna.load_study(study_name="small", storage=url).get_trials()
    small = search_spaces.get("nb201", N=1, C=4).from_string(RESNET_CELL)
    assert len(trials) == 2 and trials[0].user_attrs["params"] == small.params()


def test_search_bad_space_option_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["nasbench", "search", "--space", "nb201", "--evaluator", "table",
                                      "--storage", "memory", "--space-option", "C=wide"])
    with pytest.raises(SystemExit) as done:
        main()
    lines = capsys.readouterr().err.strip().splitlines()
    assert done.value.code == 2 and len(lines) == 1
    assert lines[0].startswith("error: ") and "'C'" in lines[0] and "wide" in lines[0]


def test_search_trains_each_candidate_at_the_evaluators_cells_and_width(tmp_path: Path) -> None:
    # The candidate is searched (hashed, counted, stored) at the space's size; the evaluator trains its cells at
    # cells/width and reports that network's size apart.
    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = runner.invoke(app, ["search", "--strategy", "random", "--space", "nb201", "--budget", "1",
                                 "--epochs", "1", "--seeds", "nb201_resnet", "--storage", url, "--study", "large",
                                 "--space-option", "N=1", "--space-option", "C=2", "--evaluator-option", "cells=2",
                                 "--evaluator-option", "width=4", "--evaluator-option", "fraction=0.2",
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    trial, = optuna.load_study(study_name="large", storage=url).get_trials()
    searched = search_spaces.get("nb201", input_shape=DIGITS, N=1, C=2).from_string(RESNET_CELL)
    trained = search_spaces.get("nb201", input_shape=DIGITS, N=2, C=4).from_string(RESNET_CELL)
    metrics = trial.user_attrs["outcome"]["metrics"]
    assert trial.user_attrs["params"] == metrics["params"] == searched.params()
    assert metrics["trained_params"] == trained.params() > searched.params()
    assert metrics["trained_macs"] == trained.macs()


def test_evaluator_cells_width_need_a_space_with_a_size() -> None:
    judge = get_evaluator("train", cells=2, fraction=0.1)
    resnet = seed("nb201", "nb201_resnet", input_shape=DIGITS)
    unplaced = judge.evaluate(resnet, fidelity=1)
    assert not unplaced.ok and "give the evaluator the space" in unplaced.error
    with pytest.raises(NasbenchError, match="space 'graph' has no cell/width size to transfer"):
        judge.use_space(search_spaces.get("graph", input_shape=DIGITS))
    with pytest.raises(NasbenchError, match="width must be at least 1, got 0"):
        get_evaluator("train", width=0)
    judge.use_space(search_spaces.get("nb201", input_shape=DIGITS))
    assert judge.trained(resnet).params() == search_spaces.get("nb201", input_shape=DIGITS, N=2).from_string(
        RESNET_CELL).params()


def test_search_cells_on_a_space_without_a_size_is_a_one_line_error(cli, tmp_path: Path) -> None:
    database = tmp_path / "store.db"
    code, _, err = cli("search", "--space", "graph", "--storage", f"sqlite:///{database}", "--evaluator-option",
                       "cells=20")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0] == "error: space 'graph' has no cell/width size to transfer"
    assert not database.exists()
