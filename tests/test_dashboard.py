"""``nasbench dashboard`` in a real browser: headless Chromium loads the dashboard of a finished search.

Marked ``browser``; it needs Debian's ``chromium`` (``.ci/run`` installs it) and skips without it, except in CI.
The screenshot of a trial's page is kept in ``test-artifacts/``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from ports import free_port

from nasbench.app.search import search

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# The flags that work on this kind of machine (a container without a display, D-Bus or GPU).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=8000")
SERVER_WAIT = 60.0  # seconds for the dashboard to answer


@pytest.fixture
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium for the browser test (.ci/run installs it)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    return found


def browse(chromium: str, url: str, profile: Path, *extra: str) -> str:
    done = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *extra, url], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def wait_for(url: str) -> None:
    deadline = time.monotonic() + SERVER_WAIT
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.25)


def test_the_dashboard_shows_the_study_its_metric_names_and_each_trials_drawing(chromium, tmp_path):
    started = time.perf_counter()
    url = f"sqlite:///{tmp_path / 'shown.db'}"
    search(strategy="random", space="nb201", evaluator="table", budget=3, seed=0, storage=url, study="shown",
           progress=False, drawings=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([str(Path(sys.executable).with_name("nasbench")), "dashboard", "--storage", url,
                               "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(f"{base}/api/studies")
        study_page = browse(chromium, f"{base}/dashboard/studies/1", tmp_path / "profile1", "--dump-dom")
        assert "shown" in study_page and "valid_acc_12" in study_page and "Objective 0" not in study_page
        trial_page = browse(chromium, f"{base}/dashboard/studies/1/trials?numbers=0", tmp_path / "profile2",
                            "--dump-dom")
        drawings = re.findall(r'src="(/artifacts/1/\d+/[0-9a-f-]+)"', trial_page)
        assert drawings and "origin" in trial_page  # the note's fields
        with urllib.request.urlopen(base + drawings[0], timeout=10) as answer:
            assert answer.headers["Content-Type"].startswith("image/svg") and b"<svg" in answer.read()
        SHOTS.mkdir(exist_ok=True)
        shot = SHOTS / "dashboard-trial.png"
        shot.unlink(missing_ok=True)
        browse(chromium, f"{base}/dashboard/studies/1/trials?numbers=0", tmp_path / "profile3",
               "--window-size=1400,1400", f"--screenshot={shot}")
        assert shot.stat().st_size > 20_000
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    print(f"browser test: {time.perf_counter() - started:.1f} s")
