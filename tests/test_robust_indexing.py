"""A messy set, a killed indexer and two indexers at once: readable images are indexed, nothing is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imagegen
import numpy as np
import pytest

from simages.extraction.network import TinyNetwork
from simages.jobs.indexer import index_set
from simages.settings import Settings
from simages.store.npz_store import load_store

REPO = Path(__file__).resolve().parents[1]


def _messy_set(folder: Path, outside: Path) -> set[str]:
    """Writes every odd and bad file the issue lists; returns the names that must be indexed."""
    good = {
        "plain.jpg": lambda p: imagegen.save(imagegen.photo(1), p),
        "with space.png": lambda p: imagegen.save(imagegen.photo(2), p),
        "ünïcode ✓.png": lambda p: imagegen.save(imagegen.photo(3), p),
        "hash#1.png": lambda p: imagegen.save(imagegen.photo(4), p),
        "what?.png": lambda p: imagegen.save(imagegen.photo(5), p),
        "100%.png": lambda p: imagegen.save(imagegen.photo(6), p),
        "deep/er/nested.webp": lambda p: imagegen.save(imagegen.photo(7), p, format="WEBP"),
        "sixteen.png": imagegen.png16,
        "cmyk.jpg": imagegen.cmyk_jpeg,
        "palette.png": imagegen.palette_png_with_transparency,
        "anim.gif": imagegen.animated_gif,
        "rotated.jpg": lambda p: imagegen.exif_rotated_jpeg(p, imagegen.photo(8)),
        "scan.tif": lambda p: imagegen.save(imagegen.photo(9), p, format="TIFF"),
    }
    bad = {
        "zero.jpg": lambda p: p.write_bytes(b""),
        "truncated.jpg": imagegen.truncated_jpeg,
        "text.jpg": lambda p: p.write_text("just text"),
        "page.png": lambda p: p.write_text("<!doctype html><html></html>"),
        "bomb.png": lambda p: imagegen.bomb_png(p, 30000),
    }
    for name, make in {**good, **bad}.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        make(path)
    imagegen.save(imagegen.photo(10), folder / ".hidden.jpg")
    imagegen.save(imagegen.photo(11), folder / ".cache" / "thumb.jpg")
    imagegen.save(imagegen.photo(12), outside)
    os.symlink(outside, folder / "link-outside.jpg")
    return set(good)


def test_messy_set_indexes_what_it_can_and_explains_the_rest(settings: Settings, tmp_path: Path) -> None:
    folder = settings.image_sets / "messy"
    good = _messy_set(folder, tmp_path / "outside.jpg")
    summary = index_set(settings, "messy", network_factory=TinyNetwork)
    store = load_store(settings.store_path("messy"))
    assert set(store.names) == good
    assert set(summary.unreadable) == {"zero.jpg", "truncated.jpg", "text.jpg", "page.png", "bomb.png"}
    assert "decompression bomb" in summary.unreadable["bomb.png"]
    assert "outside image_sets" in summary.skipped["link-outside.jpg"]
    assert np.isfinite(store.vectors).all()


class _SlowTiny(TinyNetwork):
    """Lets the test act between batches (delete or replace files mid-run)."""

    def __init__(self, on_first_batch) -> None:
        super().__init__()
        self.on_first_batch = on_first_batch

    def maps(self, images: np.ndarray) -> np.ndarray:
        if self.on_first_batch:
            self.on_first_batch()
            self.on_first_batch = None
        return super().maps(images)


def test_files_deleted_or_replaced_during_indexing(settings: Settings) -> None:
    folder = settings.image_sets / "s"
    imagegen.write_set(folder, 40)

    def meddle() -> None:
        (folder / "img_039.png").unlink()
        imagegen.save(imagegen.photo(500), folder / "img_038.png")

    summary = index_set(settings.with_(batch_size=2), "s", network_factory=lambda: _SlowTiny(meddle))
    assert "img_039.png" not in summary.unreadable, "a vanished file is gone, not broken"
    assert summary.total == 39
    # The replaced file carries its old fingerprint, so the next run computes it again.
    again = index_set(settings, "s", network_factory=TinyNetwork)
    assert again.changed == 1 and again.computed == 1


_KILLABLE = """
import sys, time
import numpy as np
from simages.settings import Settings
from simages.extraction.network import TinyNetwork
import simages.jobs.indexer as indexer
indexer.CHECKPOINT_IMAGES = 4

class Slow(TinyNetwork):
    def maps(self, images):
        time.sleep(0.05)
        return super().maps(images)

settings = Settings(root=__import__("pathlib").Path(sys.argv[1]), batch_size=2)
summary = indexer.index_set(settings, "s", network_factory=Slow)
print("computed", summary.computed, "resumed", summary.resumed, flush=True)
"""


def _run_killable(
    root: Path, kill_after: float | None, chunks: int = 0
) -> subprocess.CompletedProcess | None:
    """Run an indexer; kill it `kill_after` seconds after it has written `chunks` checkpoints."""
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE, str(root)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    if kill_after is None:
        out, _ = process.communicate(timeout=300)
        return subprocess.CompletedProcess(process.args, process.returncode, out)
    deadline = time.monotonic() + 120
    while len(list((root / "features" / ".partial" / "s").glob("chunk-*.npz"))) < chunks:
        assert time.monotonic() < deadline and process.poll() is None, "indexer ended before the kill"
        time.sleep(0.01)
    time.sleep(kill_after)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    return None


def test_sigkill_at_any_moment_keeps_the_store_and_resumes(settings: Settings) -> None:
    folder = settings.image_sets / "s"
    imagegen.write_set(folder, 10)
    index_set(settings, "s", network_factory=TinyNetwork)  # a first, complete store
    imagegen.write_set(folder, 60, start_seed=100)
    reference = None
    # Kill at odd moments: during start-up, right after a checkpoint, and in between.
    for kill_after, chunks in ((0.3, 0), (0.0, 1), (0.13, 3), (0.07, 5)):
        _run_killable(settings.root, kill_after, chunks)
        store = load_store(settings.store_path("s"))  # always loadable
        assert len(store) >= 10
    result = _run_killable(settings.root, None)
    assert result is not None and result.returncode == 0
    computed = int(result.stdout.split()[1])
    resumed = int(result.stdout.split()[3])
    assert resumed > 0, "the killed runs' checkpoints were not reused"
    assert computed + resumed == 60, result.stdout
    store = load_store(settings.store_path("s"))
    assert len(store) == 70
    assert not (settings.partial / "s").exists(), "checkpoints are removed once merged"
    # Vectors from resumed checkpoints equal a clean computation.
    reference = TinyNetwork()
    from simages.extraction.describe import describe_images
    from simages.extraction.images import load_for_network

    row = store.names.index("img_130.png")
    expected = describe_images(reference, load_for_network(folder / "img_130.png")[None], settings.descriptor)
    np.testing.assert_allclose(store.vectors[row], expected[0], rtol=1e-5, atol=1e-6)


def test_two_indexers_on_one_set_never_corrupt_it(settings: Settings) -> None:
    imagegen.write_set(settings.image_sets / "s", 40)
    first = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE, str(settings.root)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    second = subprocess.Popen(
        [sys.executable, "-c", _KILLABLE, str(settings.root)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    outputs = [p.communicate(timeout=300)[0] for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0
    computed = sorted(int(out.split()[1]) for out in outputs)
    assert computed == [0, 40], f"the second indexer should wait and find nothing left to do: {outputs}"
    assert len(load_store(settings.store_path("s"))) == 40


def test_unreadable_permissions_are_reported(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = settings.image_sets / "s"
    imagegen.write_set(folder, 2)
    (folder / "img_000.png").chmod(0)
    if os.geteuid() == 0:
        # Root reads any file, so refuse this one the way the OS refuses everyone else.
        from PIL import Image

        real_open = Image.open

        def refusing_open(path, *args, **kwargs):
            if str(path).endswith("img_000.png"):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(Image, "open", refusing_open)
    summary = index_set(settings, "s", network_factory=TinyNetwork)
    assert "Permission denied" in summary.unreadable["img_000.png"]
    assert summary.total == 1
