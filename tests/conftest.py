"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
import sys

import pytest
import torch

from nasbench.app.cli import main

# The test workers (pytest -n auto) share the cores: torch's default of one OpenMP thread per core makes two workers
# spin against each other, which ran a one-shot contract case 5x slower. Every test process, and every process a
# test starts, computes on one thread.
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)


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


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server of the tests marked ``postgres``: ``NASBENCH_TEST_POSTGRES`` (``.ci/run`` starts one)."""
    url = os.environ.get("NASBENCH_TEST_POSTGRES")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must start a PostgreSQL server for the postgres tests (.ci/run sets "
                        "NASBENCH_TEST_POSTGRES)")
        pytest.skip("no PostgreSQL server: set NASBENCH_TEST_POSTGRES=postgresql+psycopg2://USER:PASSWORD@127.0.0.1:"
                    "PORT/DB (.ci/run starts one)")
    return url
