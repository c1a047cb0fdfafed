"""Several processes opening one new SQLite store at once: none loses the race to create its tables."""

from __future__ import annotations

import subprocess
import sys

import optuna

SCRIPT = """
import sys
from nasbench.app.search import search
search(strategy="random", space="nb201", evaluator="table", budget=10, storage=sys.argv[1], study=sys.argv[2],
       progress=False)
"""


def test_four_searches_started_together_on_a_new_sqlite_file_all_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    searches = [subprocess.Popen([sys.executable, "-c", SCRIPT, url, f"s{index}"], stderr=subprocess.PIPE, text=True)
                for index in range(4)]
    for process in searches:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
    studies = optuna.get_all_study_summaries(storage=url)
    assert sorted(summary.study_name for summary in studies) == ["s0", "s1", "s2", "s3"]
    assert all(summary.n_trials == 10 for summary in studies)
