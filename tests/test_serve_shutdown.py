"""Stopping `simages serve` is quiet: Ctrl+C (SIGINT to the whole process group, as a terminal sends it,
also to `make run`) and `kill` (SIGTERM to the server alone) end it with exit code 0, its worker processes
gone, and nothing on stderr: no KeyboardInterrupt traceback from a background worker, no "leaked semaphore
objects" from multiprocessing's resource tracker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from simages.bench.app_server import free_port, wait_for
from tests.gui_fixtures import make_images

REPO = Path(__file__).resolve().parent.parent


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _group_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize(("sig", "whole_group"), [(signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=["ctrl-c", "kill"])
def test_serve_stops_cleanly_and_quietly(tmp_path, sig, whole_group):
    make_images(tmp_path, "demo", 3)
    port = free_port()
    # Weights that do not exist: the indexing worker starts, reports the set failed, and waits for work.
    # NiceGUI takes a process with PYTEST_CURRENT_TEST for a test run of its own: the user's environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NICEGUI_"))}
    env |= {"PYTHONPATH": str(REPO), "SIMAGES_WEIGHTS": str(tmp_path / "no-weights.h5")}
    server = subprocess.Popen(
        [sys.executable, "-m", "simages", "--root", str(tmp_path), "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
    )
    try:
        try:
            wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).status == 200,
                     120, "the app to answer")
        except TimeoutError:
            server.kill()
            raise AssertionError(server.stderr.read1().decode(errors="replace")) from None
        assert _children(server.pid), "the app runs background worker processes"
        if whole_group:
            os.killpg(server.pid, sig)
        else:
            server.send_signal(sig)
        _, stderr = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    text = stderr.decode(errors="replace")
    assert server.returncode == 0, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert "leaked" not in text, text
    wait_for(lambda: _group_gone(server.pid), 10, "the worker processes to end")
