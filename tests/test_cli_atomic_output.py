"""Every file the CLI writes (--output, exports) is written atomically: a write that fails part way -- a
full disk, a file-size limit, Ctrl-C -- leaves the earlier file exactly as it was and no partial file
beside it, and the command says so with its exit code (1 failure, 130 interrupted)."""

from __future__ import annotations

import errno
import os
import resource
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from simages.cli import main
from simages.operations import join_listing
from simages.settings import Settings
from simages.store.atomic import write_atomically
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
    monkeypatch.setattr("simages.nearest.duplicates.exact.linked_groups", interrupted)  # similar images
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


def read_fifo_in_background(fifo: Path) -> tuple[threading.Thread, list[bytes]]:
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    return reader, got


def test_an_export_to_a_pipe_or_device_writes_into_it_and_leaves_it_a_pipe(root, tmp_path):
    """`--output /dev/null` (or a named pipe, /dev/stdout) is written in place: a rename over it would put a
    regular file where the device was -- run as root, /dev/null itself. A named pipe stands in for the
    device here, so the test never touches the machine's /dev/null."""
    fifo = tmp_path / "pairs.fifo"
    os.mkfifo(fifo)
    reader, got = read_fifo_in_background(fifo)
    assert export(root, fifo, 1) == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert got and got[0].count(b"\n") > 10  # the pairs went through the pipe
    assert leftovers(tmp_path) == []


def test_an_export_through_a_link_replaces_the_file_and_keeps_the_link(root, tmp_path):
    real = tmp_path / "exports" / "pairs.csv"
    real.parent.mkdir()
    real.write_text("earlier\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    assert export(root, link, 1) == 0
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text().count("\n") > 10


def test_every_atomic_writer_leaves_a_pipe_a_pipe(tmp_path):
    """The stores' and caches' writer (atlas maps, plots, plans) follows the same rule."""
    fifo = tmp_path / "map.fifo"
    os.mkfifo(fifo)
    reader, got = read_fifo_in_background(fifo)
    write_atomically(fifo, lambda stream: stream.write(b"payload"))
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and got == [b"payload"]
