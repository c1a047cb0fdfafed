"""``--backend ray`` from the command line: bad input is one line, exit 2, nothing written, no Ray left running.

Apart from tests/test_ray.py, whose module-wide Ray would be the one these searches find.
"""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray
LOCAL = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


@pytest.mark.parametrize(("flags", "words"), [
    (["--ray-address", "127.0.0.1:1"], "cannot connect to Ray at '127.0.0.1:1'"),
    (["--gpus-per-trial", "1"], "gpus_per_trial 1 is more than the cluster's 0 GPU(s)"),
    (["--scheduler", "asha"], "evaluator 'table' reports none"),
])
def test_bad_ray_input_on_the_command_line_is_one_line_and_writes_nothing(cli, tmp_path, monkeypatch, flags, words):
    for key, value in LOCAL.items():
        monkeypatch.setenv(key, value)
    database = tmp_path / "store.db"
    code, _, err = cli("search", "--space", "nb201", "--evaluator", "table", "--backend", "ray", "--storage",
                       f"sqlite:///{database}", "--no-progress", *flags)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert words in lines[0]
    assert not database.exists()
    assert not ray.is_initialized()  # a Ray the executor started for a bad input is stopped again
