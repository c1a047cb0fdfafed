"""Fixtures shared by the test modules."""

from __future__ import annotations

import sys

import pytest

from nasbench.app.cli import main


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
