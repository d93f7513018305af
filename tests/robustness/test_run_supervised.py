"""``scripts/run.sh`` keeps the service up when one process dies, and Ctrl-C still stops everything.

Starts the real script (its own INSTANCE_PATH and a free port; the suite's database and broker settings),
kills a Celery worker with ``kill -9`` and checks that it is running again under a new pid while the web
answered throughout; then kills the web (gunicorn's master) and sees it come back; then sends SIGINT to
the whole process group, as a terminal's Ctrl-C does, and sees every process exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.robustness.conftest import ROOT, free_port
from tests.support import wait_for


def _status(conf: Path) -> dict[str, tuple[str, int | None]]:
    out = subprocess.run(
        [str(ROOT / ".venv/bin/supervisorctl"), "-c", str(conf), "status"], capture_output=True, text=True, timeout=30
    ).stdout
    programs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            pid = int(parts[3].rstrip(",")) if len(parts) > 3 and parts[2] == "pid" else None
            programs[parts[0]] = (parts[1], pid)
    return programs


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_a_killed_worker_comes_back_and_the_web_keeps_answering(app):
    instance = Path(tempfile.mkdtemp(prefix="run-sh-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "INSTANCE_PATH": str(instance), "PORT": str(port), "HOST": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    log = (instance / "run.log").open("ab")
    process = subprocess.Popen(["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    conf = instance / "supervisord.conf"
    try:
        wait_for(lambda: _answers(url), timeout=240, what="run.sh's web answering")
        wait_for(lambda: all(state == "RUNNING" for state, _ in _status(conf).values()) and len(_status(conf)) == 5, timeout=120)
        programs = _status(conf)
        assert set(programs) == {"web", "worker-urgent", "worker-notify", "worker-main", "beat"}

        victim = programs["worker-notify"][1]
        os.kill(victim, signal.SIGKILL)
        answered = []

        def notify_worker_back() -> bool:
            answered.append(_answers(url))
            state, pid = _status(conf)["worker-notify"]
            return state == "RUNNING" and pid not in (None, victim)

        wait_for(notify_worker_back, timeout=120, interval=0.5, what="the killed worker running again")
        assert answered and all(answered), "the web stopped answering while a worker was down"
        assert {name: state for name, (state, _) in _status(conf).items()} == dict.fromkeys(programs, "RUNNING")

        web = _status(conf)["web"][1]
        os.kill(web, signal.SIGKILL)
        wait_for(lambda: _status(conf)["web"][1] not in (None, web) and _answers(url), timeout=120, what="the web back after kill -9")
        assert _status(conf)["worker-urgent"][1] == programs["worker-urgent"][1]  # the others were never touched
    finally:
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        deadline = time.monotonic() + 90
        while (process.poll() is None or _group_alive(process.pid)) and time.monotonic() < deadline:
            time.sleep(0.5)
        stopped = process.poll() is not None and not _group_alive(process.pid)
        if not stopped:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert stopped, "Ctrl-C left processes running"
    assert not _answers(url)
