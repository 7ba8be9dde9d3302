"""Serve the GUI for browser tests: `python -m tests.gui_serve ROOT PORT`.

Uses the real IndexManager with the tiny stand-in network, so sets under ROOT/image_sets are indexed
by the app itself, as in production, but in a second instead of minutes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from nicegui import app

from simages.extraction.network import TinyNetwork
from simages.gui.app import run_app
from simages.jobs.manager import IndexManager
from simages.settings import Settings


def main() -> None:
    root, port = Path(sys.argv[1]), int(sys.argv[2])
    settings = Settings(root=root)
    manager = IndexManager(settings, network_factory=TinyNetwork, debounce_ms=300)
    app.on_startup(manager.start)
    app.on_shutdown(manager.stop)
    run_app(settings, host="127.0.0.1", port=port, manager=manager)


if __name__ == "__main__":
    main()
