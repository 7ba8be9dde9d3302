"""Every file the CLI writes (--output, exports) is written atomically: a write that fails part way -- a
full disk, a file-size limit, Ctrl-C -- leaves the earlier file exactly as it was and no partial file
beside it, and the command says so with its exit code (1 failure, 130 interrupted)."""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simages.cli import main
from simages.operations import join_listing
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    settings = Settings(root=tmp_path / "root")
    (settings.image_sets / "photos").mkdir(parents=True)
    rng = np.random.default_rng(1)
    vectors = np.abs(rng.standard_normal((80, 16))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [f"holiday_photo_{i:03d}.jpg" for i in range(80)]
    save_store(settings.store_path("photos"),
               FeatureStore(names, [Fingerprint(1, 1)] * 80, vectors, {"descriptor": "gap+l2"}))
    return settings.root


def export(root: Path, out: Path, k: int, *extra: str) -> int:
    argv = ["join", "photos", "photos", "--knn", str(k), "--output", str(out), *extra]
    return main(["--root", str(root), *argv])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_full_disk_part_way_leaves_the_earlier_export_whole(root, tmp_path, monkeypatch, capsys):
    out = tmp_path / "pairs.csv"
    assert export(root, out, 1) == 0
    earlier = out.read_bytes()
    written = 0
    real_row = join_listing.csv_row

    def row_then_full_disk(*args, **kwargs):
        nonlocal written
        written += 1
        if written > 50:  # part way through the rows
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_row(*args, **kwargs)

    monkeypatch.setattr(join_listing, "csv_row", row_then_full_disk)
    capsys.readouterr()
    assert export(root, out, 5) == 1
    assert "simages: error: cannot write" in capsys.readouterr().err
    assert out.read_bytes() == earlier
    assert leftovers(tmp_path) == []


def test_ctrl_c_part_way_leaves_the_earlier_export_whole_and_exits_130(root, tmp_path, monkeypatch, capsys):
    out = tmp_path / "pairs.json"
    assert export(root, out, 1, "--format", "json") == 0
    earlier = out.read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("simages.nearest.duplicates.exact.duplicate_groups", interrupted)
    capsys.readouterr()
    assert export(root, out, 5, "--format", "json") == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
    assert out.read_bytes() == earlier
    assert leftovers(tmp_path) == []


def test_a_file_size_limit_in_a_real_process_leaves_the_earlier_export_whole(root, tmp_path):
    """The kernel refuses the write (RLIMIT_FSIZE: EFBIG, as a full disk refuses with ENOSPC)."""
    out = tmp_path / "pairs.csv"
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}

    def run(k: int, limit: int | None) -> subprocess.CompletedProcess[str]:
        def cap() -> None:
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        argv = [sys.executable, "-m", "simages", "--root", str(root), "join", "photos", "photos", "--knn",
                str(k), "--output", str(out)]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, preexec_fn=cap)

    assert run(1, None).returncode == 0
    earlier = out.read_bytes()
    assert 0 < len(earlier) < 6000
    failed = run(10, 6000)  # 800 pairs: more than 6,000 bytes
    assert failed.returncode == 1, failed.stderr
    assert "simages: error: cannot write" in failed.stderr and "Traceback" not in failed.stderr
    assert out.read_bytes() == earlier
    assert leftovers(tmp_path) == []
    assert run(10, None).returncode == 0 and len(out.read_bytes()) > 6000  # and it works without the cap
