"""The SIMages browser app (NiceGUI): a key-selection page, a results page and one image route."""

from simages.gui.app import build_app, run_app

__all__ = ["build_app", "run_app"]
