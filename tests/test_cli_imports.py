"""Which heavy modules the CLI's everyday commands load: `query`, `join` and `duplicates` on an indexed
set answer without the network (torch, Keras), the app (NiceGUI, FastAPI) or the job manager. Each
command runs in a fresh interpreter, as a user's would, and reports `sys.modules` after it answered."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
HEAVY = ("torch", "keras", "nicegui", "fastapi", "starlette", "socketio", "simages.gui",
         "simages.jobs.manager", "simages.extraction.network", "dask", "tensorflow")

PROBE = """
import json, sys
from simages.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
print("\\nMODULES " + json.dumps(sorted(sys.modules)))
sys.exit(code)
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    settings = Settings(root=tmp_path)
    (settings.image_sets / "pets").mkdir(parents=True)
    rng = np.random.default_rng(0)
    vectors = np.abs(rng.standard_normal((6, 16))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [f"{i}.jpg" for i in range(6)]
    save_store(settings.store_path("pets"),
               FeatureStore(names, [Fingerprint(1, 1)] * 6, vectors, {"descriptor": "gap+l2"}))
    return tmp_path


def loaded(root: Path, *argv: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, "--root", str(root), *argv], env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.rsplit("MODULES ", 1)[1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_query_on_an_indexed_set_loads_no_network_app_or_job_manager(root):
    modules = loaded(root, "query", "pets/0.jpg", "--set", "pets")
    assert "simages.operations.query" in modules  # the probe did run the query
    assert heavy_in(modules) == []


def test_join_loads_no_network_app_or_job_manager(root):
    modules = loaded(root, "join", "pets", "pets", "--knn", "2")
    assert "simages.operations.join" in modules
    assert heavy_in(modules) == []


def test_duplicates_loads_no_network_app_or_job_manager(root):
    modules = loaded(root, "duplicates", "pets")
    assert "simages.operations.duplicates" in modules
    assert heavy_in(modules) == []


def test_help_loads_no_command_module():
    # --help exits through SystemExit, so this probe catches it.
    probe = ("import json, sys\nfrom simages.cli import main\ntry:\n    main(['--help'])\n"
             "except SystemExit:\n    pass\nprint('MODULES ' + json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], env=ENV, capture_output=True, text=True, timeout=300)
    modules = set(json.loads(done.stdout.rsplit("MODULES ", 1)[1]))
    assert "simages.cli" in modules
    assert "simages.cli.query_cmd" not in modules and "numpy" not in modules


def test_train_help_names_the_trainers_own_choices():
    """train's --help names the losses and the default split without loading torch: the same values."""
    from simages.cli import train_cmd
    from simages.operations.train import DEFAULT_TEST_SPLIT
    from simages.training.trainer import LOSSES

    assert (train_cmd.LOSSES, train_cmd.DEFAULT_TEST_SPLIT) == (LOSSES, DEFAULT_TEST_SPLIT)


@pytest.mark.parametrize("command", ["query", "join", "duplicates", "triage", "train"])
def test_a_command_help_loads_no_numpy(command):
    probe = ("import json, sys\nfrom simages.cli import main\ntry:\n    main([sys.argv[1], '--help'])\n"
             "except SystemExit:\n    pass\nprint('MODULES ' + json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe, command], env=ENV, capture_output=True, text=True,
                          timeout=300)
    modules = set(json.loads(done.stdout.rsplit("MODULES ", 1)[1]))
    assert f"simages.cli.{command}_cmd" in modules and "numpy" not in modules
