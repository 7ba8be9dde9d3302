"""gui/state/ is the pages' state and decisions without drawing: importing it loads no NiceGUI, no page
and no widget, so each decision is tested (and reusable) without a browser, and the page builders draw."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import simages.gui.state as state_package

PROBE = """import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print('MODULES ' + json.dumps(sorted(sys.modules)))"""


def test_the_state_layer_draws_nothing():
    names = [f"simages.gui.state.{m.name}" for m in pkgutil.iter_modules(state_package.__path__)]
    assert {"simages.gui.state.results", "simages.gui.state.home", "simages.gui.state.join",
            "simages.gui.state.triage", "simages.gui.state.atlas", "simages.gui.state.sets"} <= set(names)
    done = subprocess.run([sys.executable, "-c", PROBE, *names], capture_output=True, text=True, timeout=300,
                          check=True, cwd=Path(__file__).resolve().parents[1])
    modules = set(json.loads(done.stdout.rsplit("MODULES ", 1)[1]))
    assert set(names) <= modules
    drawing = sorted(m for m in modules if m == "nicegui" or m.startswith(("nicegui.", "simages.gui.pages",
                                                                          "simages.gui.widgets")))
    assert drawing == []


def test_a_sets_images_are_browsed_in_name_order_whatever_its_store_row_order():
    """A store written before restored rows were put back in their places held them last: the grid on `/`
    still lists the set in one order, the names' (walk 3: the list changed order after an undo)."""
    from types import SimpleNamespace

    from simages.gui.state.sets import browsable_images

    index = SimpleNamespace(names=["b.jpg", "d/e.jpg", "a.jpg", "c.jpg"])
    assert browsable_images(None, "s", index) == ["a.jpg", "b.jpg", "c.jpg", "d/e.jpg"]
