"""`simages serve` on a port it cannot listen on says so in the one error line and exits with a status
--help lists, before anything says the app is ready."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from simages.cli import main
from simages.cli.exits import EXIT_CODES_HELP

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def busy_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_busy_port_is_an_error_line_and_exit_1_before_any_ready(busy_port, tmp_path: Path):
    run = subprocess.run([sys.executable, "-m", "simages", "--root", str(tmp_path), "serve", "--port",
                          str(busy_port)], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert run.returncode == 1 and "  1    failure" in EXIT_CODES_HELP
    assert run.stderr.strip().splitlines() == [
        f"simages: error: port {busy_port} on 127.0.0.1 is in use (another SIMages, or another program): "
        "stop it, or choose another port with --port"]
    assert "ready" not in run.stdout + run.stderr


@pytest.mark.parametrize("argv, said, code", [
    (["--port", "70000"], "port 70000 is not a port number (1-65535)", 2),
    (["--host", "no-such-host.invalid"], "cannot listen on 'no-such-host.invalid'", 2),
])
def test_a_port_or_host_that_cannot_be_is_bad_input(argv, said, code, tmp_path: Path, capsys):
    assert main(["--root", str(tmp_path), "serve", *argv]) == code
    assert capsys.readouterr().err.startswith(f"simages: error: {said}")
