"""The app served by a separate process, for load benchmarks and request tests that need a real server.

`python -m simages.bench.app_server ROOT PORT {real,tiny} [WEIGHTS]` serves the GUI with the real
IndexManager; `tiny` uses the stand-in network so indexing takes seconds instead of minutes.
`AppServer` starts any such entry point (tests pass `tests.gui_serve`) and stops it again.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.3) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:  # connection refused while the server starts
            pass
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


class AppServer:
    """`python -m MODULE ROOT PORT *ARGS` in a child process; the output goes to ROOT/server.log."""

    def __init__(
        self, module: str, root: Path, args: Sequence[str] = (), start_timeout: float = 90.0
    ) -> None:
        self.module, self.root, self.args = module, root, list(args)
        self.start_timeout = start_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AppServer:
        log = self.log_path.open("wb")
        # NiceGUI treats a process with PYTEST_CURRENT_TEST as a test run and would ignore our port.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "NICEGUI_"))}
        self._process = subprocess.Popen(
            [sys.executable, "-m", self.module, str(self.root), str(self.port), *self.args],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        log.close()  # the child holds its own descriptor
        try:
            wait_for(self._answers, self.start_timeout, f"the app server (log: {self.log_path})")
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"the app server exited; see {self.log_path}")
        return urllib.request.urlopen(self.url + "/", timeout=5).status == 200

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: Sequence[str]) -> None:
    from nicegui import app

    from simages.extraction.network import TinyNetwork
    from simages.gui.app import run_app
    from simages.jobs.manager import IndexManager
    from simages.settings import Settings

    root, port, network = Path(argv[0]), int(argv[1]), argv[2]
    weights = Path(argv[3]) if len(argv) > 3 else None
    settings = Settings(root=root, weights=weights)
    factory = TinyNetwork if network == "tiny" else None  # None: the real VGG-16 from settings.weights
    manager = IndexManager(settings, network_factory=factory, debounce_ms=300)
    app.on_startup(manager.start)
    app.on_shutdown(manager.stop)
    run_app(settings, host="127.0.0.1", port=port, manager=manager)


if __name__ == "__main__":
    main(sys.argv[1:])
