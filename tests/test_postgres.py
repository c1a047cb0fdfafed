"""Searches stored on a real PostgreSQL server (the one ``.ci/run`` starts; marked ``postgres``)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.engine import make_url

from nasbench.app.search import search
from results.store import evaluated_trials

pytestmark = pytest.mark.postgres


def test_a_search_stores_on_postgresql_and_resumes_without_training_twice(postgres_url):
    study = f"pg-{uuid.uuid4().hex[:8]}"
    first = search(strategy="evolution", space="nb201", evaluator="table", budget=15, seed=2, storage=postgres_url,
                   study=study, progress=False)
    assert len(evaluated_trials(first.study)) == 15
    resumed = search(strategy="evolution", space="nb201", evaluator="table", budget=25, seed=2, storage=postgres_url,
                     study=study, progress=False)
    hashes = [trial.user_attrs["hash"] for trial in evaluated_trials(resumed.study)]
    assert len(hashes) == 25 and len(set(hashes)) == 25


def test_results_read_a_postgresql_study(postgres_url, cli):
    study = f"pg-{uuid.uuid4().hex[:8]}"
    search(strategy="random", space="nb201", evaluator="table", budget=3, storage=postgres_url, study=study,
           progress=False)
    code, out, _ = cli("results", "show", "--storage", postgres_url, "--study", study)
    assert code == 0 and out.count("complete") == 3


def bad_urls(url: str) -> list[tuple[str, str]]:
    parsed = make_url(url)
    return [(parsed.set(password="not-the-password").render_as_string(hide_password=False),
             "password authentication failed"),
            (parsed.set(port=1).render_as_string(hide_password=False), "Connection refused"),
            (parsed.set(drivername="postgresql+pg8000").render_as_string(hide_password=False),
             "its database driver is not installed")]


@pytest.mark.parametrize("case", range(3), ids=["wrong-password", "unreachable", "missing-driver"])
def test_a_bad_postgresql_url_is_one_line_without_its_password(postgres_url, cli, case):
    url, words = bad_urls(postgres_url)[case]
    code, _, err = cli("search", "--space", "nb201", "--evaluator", "table", "--budget", "2", "--storage", url)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: cannot open storage") and words in lines[0]
    password = make_url(url).password
    assert password and password not in lines[0] and "***" in lines[0]
