"""``results plot`` (best so far, Pareto front, curves) and ``results report`` (Markdown and HTML)."""

from __future__ import annotations

import pytest
from matplotlib.image import imread

from nasbench.app.search import search
from nasbench.errors import NasbenchError
from results.plots import plot
from results.report import lineage


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """Two short train searches on digits (evolution and random) in one store, with mutations to follow."""
    folder = tmp_path_factory.mktemp("plots")
    url = f"sqlite:///{folder / 'two.db'}"
    evolution = search(budget=10, epochs=2, seeds="lenet5,alexnet", storage=url, study="evolution", progress=False,
                       drawings=False, keep_weights="none", strategy_options={"population": 2, "tournament": 2})
    sampled = search(strategy="random", budget=6, epochs=2, seeds="lenet5", storage=url, study="random",
                     progress=False, drawings=False, keep_weights="none")
    return url, evolution.study, sampled.study


@pytest.mark.parametrize("kind", ["best", "pareto", "curves"])
def test_each_kind_of_plot_is_a_picture(studies, tmp_path, kind):
    _, evolution, sampled = studies
    path = plot([evolution, sampled] if kind == "best" else [evolution], kind, tmp_path / f"{kind}.png")
    picture = imread(path)
    assert picture.shape[0] > 400 and picture.shape[1] > 600 and picture.std() > 0.05  # not a blank canvas


def test_plot_bad_input_is_one_line(studies, tmp_path):
    _, evolution, _ = studies
    for kind, path, words in (("histogram", "x.png", "plot kind must be one of best, pareto, curves"),
                              ("best", "x.gif", "use a file name ending in .png, .svg, .pdf")):
        with pytest.raises(NasbenchError, match=words):
            plot([evolution], kind, tmp_path / path)
    with pytest.raises(NasbenchError, match="has no objective 'latency'"):
        plot([evolution], "pareto", tmp_path / "p.png", x="latency")


def test_the_lineage_of_the_best_runs_from_a_seed_or_a_sample(studies):
    _, evolution, _ = studies
    trials = evolution.get_trials()
    mutant = next(trial for trial in trials if trial.user_attrs.get("origin") == "mutation")
    chain = lineage(evolution, mutant)
    assert chain[-1].number == mutant.number and not chain[0].user_attrs.get("parent")
    for parent, child in zip(chain, chain[1:]):
        assert child.user_attrs["parent"] == parent.user_attrs["hash"] and child.user_attrs["mutation"]


@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_a_report_holds_settings_leaderboard_best_lineage_and_plots(studies, tmp_path, suffix, cli):
    url = studies[0]
    code, out, _ = cli("results", "report", "-o", str(tmp_path / f"report{suffix}"), "--storage", url, "--study",
                       "evolution")
    assert code == 0 and f"wrote {tmp_path / f'report{suffix}'}" in out
    page = (tmp_path / f"report{suffix}").read_text()
    for words in ("Settings", "Leaderboard", "Best architecture", "Lineage of the best", "Plots", "evolution",
                  "report-files/best.svg", "report-files/pareto.png", "report-files/curves.png"):
        assert words in page
    assert sorted(p.name for p in (tmp_path / "report-files").iterdir()) == ["best.png", "best.svg", "curves.png",
                                                                            "pareto.png"]


def test_the_plot_command_compares_studies(studies, tmp_path, cli):
    url = studies[0]
    code, out, _ = cli("results", "plot", "-o", str(tmp_path / "both.png"), "--storage", url, "--study", "evolution",
                       "--study", "random")
    assert code == 0 and (tmp_path / "both.png").stat().st_size > 10_000
