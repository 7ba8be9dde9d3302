"""Indexing on a Dask cluster (`--cluster`): same stores as local indexing, surviving killed workers and
killed clients. Every cluster here is a LocalCluster on 127.0.0.1 with single-thread worker processes."""

from __future__ import annotations

import logging
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
from simages.jobs.distributor import ClusterError, local_cluster, parse_cluster
from simages.jobs.indexer import index_set
from simages.jobs.mapper import MappedBatch
from simages.jobs.reader import Reader
from simages.jobs.writer import BatchWriter
from simages.settings import Settings
from simages.store.npz_store import load_store
from tests.requirements import import_or_missing

REPO = Path(__file__).resolve().parents[1]
distributed = import_or_missing("distributed", "the cluster extra: pip install 'simages[cluster]'")


class SlowTiny(TinyNetwork):
    """The stand-in network at a fraction of a second per batch, so a run lasts long enough to be hit."""

    def maps(self, images: np.ndarray) -> np.ndarray:
        time.sleep(0.15)
        return super().maps(images)


@pytest.fixture(scope="module")
def cluster() -> str:
    """A LocalCluster: 2 single-thread worker processes, scheduler and workers on 127.0.0.1 only.

    The engine is pinned (the workers inherit the environment): a store equals a local run's on the same
    engine and precision, whatever an automatic choice would pick on a busy machine.
    """
    pinned = {"SIMAGES_ENGINE": "ncnn", "SIMAGES_PRECISION": "fp32"}
    saved = {key: os.environ.get(key) for key in pinned}
    os.environ.update(pinned)
    try:
        with local_cluster(2) as address:
            assert address.startswith("tcp://127.0.0.1:")
            yield address
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _same_store(a: Path, b: Path) -> None:
    first, second = load_store(a), load_store(b)
    assert first.names == second.names
    assert first.fingerprints == second.fingerprints
    assert first.failed == second.failed
    np.testing.assert_allclose(first.vectors, second.vectors, rtol=1e-5, atol=1e-5)


# --- the pieces, without a cluster -------------------------------------------------------------------


def test_cluster_values_are_parsed_or_refused_with_a_hint() -> None:
    assert parse_cluster("local") == ("local", 1)
    assert parse_cluster("local:3") == ("local", 3)
    assert parse_cluster("tcp://10.0.0.5:8786") == ("scheduler", "tcp://10.0.0.5:8786")
    assert parse_cluster("10.0.0.5:8786") == ("scheduler", "tcp://10.0.0.5:8786")
    for bad in ("local:0", "local:two", "myhost"):
        with pytest.raises(ValueError, match="local"):
            parse_cluster(bad)


def test_reader_sends_bytes_or_says_why_a_file_could_not_be_read(tmp_path: Path) -> None:
    names = imagegen.write_set(tmp_path, 3)
    reader = Reader(tmp_path, [*names, "gone.png"], batch_size=3, send_bytes=True)
    first, second = list(reader)
    assert [name for name, _ in first.items] == names
    assert first.items[0][1] == (tmp_path / names[0]).read_bytes() and first.nbytes > 0
    ((_, gone),) = second.items
    assert "disappeared" in gone.reason
    shared = list(Reader(tmp_path, names, batch_size=5, worker_folder=Path("/mnt/sets")))
    assert shared[0].items[0] == (names[0], Path("/mnt/sets") / names[0])


def test_a_checkpoint_of_only_unreadable_files_is_written(tmp_path: Path) -> None:
    from simages.jobs.checkpoints import CheckpointWriter, read_checkpoints
    from simages.store.fingerprint import Fingerprint

    fingerprint = Fingerprint(4, 1)
    writer = BatchWriter(CheckpointWriter(tmp_path, {"m": 1}), {"bad.jpg": fingerprint}, 512, every_images=1)
    batch = MappedBatch(0, [], np.zeros((0, 512), np.float32), [("bad.jpg", "not an image")], "tiny")
    writer.add(batch)
    writer.flush()
    (chunk,) = read_checkpoints(tmp_path, {"m": 1})
    assert chunk.failed == {"bad.jpg": (fingerprint, "not an image")} and len(chunk) == 0


def test_cluster_without_dask_says_how_to_install_it(settings: Settings, monkeypatch) -> None:
    imagegen.write_set(settings.image_sets / "s", 2)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    with pytest.raises(ClusterError, match=r"simages\[cluster\]"):
        index_set(settings.with_(cluster="tcp://127.0.0.1:9"), "s", network_factory=TinyNetwork)


def test_cli_refuses_shared_path_without_cluster(root: Path, capsys) -> None:
    from simages.cli import main

    assert main(["--root", str(root), "index", "--shared-path"]) == 2
    assert "--shared-path only applies with --cluster" in capsys.readouterr().err


# --- on a LocalCluster ------------------------------------------------------------------------------


def test_cluster_gives_the_local_store_with_the_real_network(
    cluster: str, settings: Settings, weights_path: Path
) -> None:
    """Same names, fingerprints, unreadable files and descriptors (to 1e-5) as in-process indexing, with
    bytes sent from the client and with workers reading a shared path; then incremental as before."""
    folder = settings.image_sets / "s"
    imagegen.write_set(folder, 5)
    (folder / "notes.jpg").write_text("not a photo")
    base = settings.with_(weights=weights_path, batch_size=2)
    local = index_set(base, "s")
    reference = settings.root / "local.npz"
    settings.store_path("s").rename(reference)
    for shared in (None, settings.image_sets):
        summary = index_set(base.with_(cluster=cluster, shared_path=shared), "s")
        assert summary.distributor is not None and "Dask cluster" in summary.distributor
        assert summary.network == local.network and summary.computed == 6
        assert summary.unreadable == local.unreadable
        _same_store(reference, settings.store_path("s"))
        settings.store_path("s").unlink()
    # Incremental: only the new image travels to the cluster.
    settings.store_path("s").write_bytes(reference.read_bytes())
    imagegen.save(imagegen.photo(77), folder / "new.png")
    again = index_set(base.with_(cluster=cluster), "s")
    assert (again.new, again.computed, again.total) == (1, 1, 6)


def test_a_killed_worker_loses_nothing(cluster: str, settings: Settings, caplog) -> None:
    folder = settings.image_sets / "s"
    imagegen.write_set(folder, 24)
    index_set(settings, "s", network_factory=TinyNetwork)
    reference = settings.root / "local.npz"
    settings.store_path("s").rename(reference)

    with distributed.Client(cluster, set_as_default=False) as client:
        pids = client.run(os.getpid)  # worker address -> process id
    victim = sorted(pids.values())[0]
    killed = []

    def kill_once(progress) -> None:
        if progress.done and not killed:  # the first batch is back: every worker has batches in hand
            os.kill(victim, signal.SIGKILL)
            killed.append(progress.done)

    caplog.set_level(logging.INFO, logger="simages.batches")
    summary = index_set(
        settings.with_(batch_size=2, cluster=cluster), "s", progress=kill_once, network_factory=SlowTiny
    )
    assert killed and killed[0] < 24, "the worker was not killed during the run"
    assert summary.computed == 24 and summary.total == 24
    batches = [record.getMessage() for record in caplog.records if record.name == "simages.batches"]
    assert len(batches) == 12, "every batch came back exactly once"
    _same_store(reference, settings.store_path("s"))


def test_workers_that_cannot_see_the_shared_path_stop_the_run_and_drop_nothing(
    cluster: str, settings: Settings
) -> None:
    imagegen.write_set(settings.image_sets / "s", 4)
    index_set(settings, "s", network_factory=TinyNetwork)
    imagegen.write_set(settings.image_sets / "s", 2, start_seed=50)
    wrong = settings.with_(cluster=cluster, shared_path=settings.root / "not-where-the-workers-look")
    with pytest.raises(ClusterError, match="--shared-path"):
        index_set(wrong, "s", network_factory=TinyNetwork)
    assert len(load_store(settings.store_path("s"))) == 4, "the store was changed by a failed run"
    again = index_set(settings.with_(cluster=cluster), "s", network_factory=TinyNetwork)
    assert again.total == 6 and not again.unreadable


@pytest.mark.parametrize("difference", ["other size", "same size, other content"])
def test_workers_reading_a_stale_mirror_never_store_a_wrong_row(
    cluster: str, settings: Settings, tmp_path: Path, caplog, difference: str
) -> None:
    """--shared-path pointing at a mirror where one file differs from the client's (a stale copy, a share
    lagging behind): that file is sent from the client instead, so the store holds exactly the rows a
    local run computes, and the next run is rightly "up to date"."""
    import shutil

    folder = settings.image_sets / "s"
    names = imagegen.write_set(folder, 6)
    local = index_set(settings.with_(batch_size=2), "s", network_factory=TinyNetwork)
    assert local.computed == 6
    reference = load_store(settings.store_path("s"))
    settings.store_path("s").unlink()
    mirror = tmp_path / "mirror"
    shutil.copytree(settings.image_sets, mirror)
    stale = mirror / "s" / names[2]
    if difference == "other size":
        imagegen.save(imagegen.photo(99), stale)  # the mirror still has an older photo under this name
    else:
        data = bytearray(stale.read_bytes())
        data[40:48] = bytes(8)  # same size; inside the first sampled block
        stale.write_bytes(bytes(data))
    shared = settings.with_(cluster=cluster, shared_path=mirror, batch_size=2)
    with caplog.at_level(logging.WARNING, logger="simages.jobs.distributor"):
        summary = index_set(shared, "s", network_factory=TinyNetwork)
    assert summary.computed == 6 and summary.total == 6 and not summary.unreadable
    assert "1 file(s) differed on" in (summary.distributor or "")
    assert any(names[2] in record.getMessage() for record in caplog.records)
    stored = load_store(settings.store_path("s"))
    assert stored.names == reference.names and stored.fingerprints == reference.fingerprints
    np.testing.assert_allclose(stored.vectors, reference.vectors, rtol=1e-6, atol=1e-6)
    assert index_set(shared, "s", network_factory=TinyNetwork).nothing_to_do


_CLIENT = """
import sys, time
from pathlib import Path
from simages.settings import Settings
from simages.extraction.network import TinyNetwork
import simages.jobs.indexer as indexer
indexer.CHECKPOINT_IMAGES = 2

class Slow(TinyNetwork):
    def maps(self, images):
        time.sleep(0.3)
        return super().maps(images)

settings = Settings(root=Path(sys.argv[1]), batch_size=2, cluster=sys.argv[2])
summary = indexer.index_set(settings, "s", network_factory=Slow)
print("computed", summary.computed, "resumed", summary.resumed, flush=True)
"""


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def test_a_killed_client_resumes_from_its_checkpoints(cluster: str, settings: Settings) -> None:
    """The client (with its own LocalCluster) is killed by pid mid-run: its workers go with it, the store
    is untouched, and the next run, on another cluster, computes only what was not checkpointed."""
    import psutil

    imagegen.write_set(settings.image_sets / "s", 30)
    client = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, str(settings.root), "local:2"], stdout=subprocess.PIPE, cwd=REPO
    )
    partial = settings.partial / "s"
    deadline = time.monotonic() + 120
    while len(list(partial.glob("chunk-*.npz"))) < 2:
        assert time.monotonic() < deadline and client.poll() is None, "the client ended before the kill"
        time.sleep(0.02)
    workers = _descendants(client.pid)
    client.send_signal(signal.SIGKILL)
    client.wait(timeout=30)
    gone = time.monotonic() + 30
    while any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in workers):
        assert time.monotonic() < gone, "the killed client's worker processes kept running"
        time.sleep(0.2)
    assert not settings.store_path("s").exists(), "a killed first run must not leave a half store"

    summary = index_set(settings.with_(batch_size=2, cluster=cluster), "s", network_factory=TinyNetwork)
    assert summary.resumed >= 4, "the checkpoints of the killed run were not reused"
    assert summary.resumed + summary.computed == 30 and summary.total == 30
    assert not partial.exists()
    reference = settings.with_(root=settings.root / "again")
    imagegen.write_set(reference.image_sets / "s", 30)
    index_set(reference, "s", network_factory=TinyNetwork)
    np.testing.assert_allclose(
        load_store(settings.store_path("s")).vectors, load_store(reference.store_path("s")).vectors, atol=1e-6
    )


def test_cli_index_on_a_local_cluster_reports_where_it_ran(
    root: Path, weights_path: Path, capsys, monkeypatch
) -> None:
    """`simages index --cluster local:2`: the app's indexing process uses a LocalCluster that the command
    starts for the run, and the summary says so, with the time per stage."""
    from simages.cli import main

    monkeypatch.setenv("SIMAGES_ENGINE", "ncnn")
    imagegen.write_set(root / "image_sets" / "s", 3)
    code = main(["--root", str(root), "--weights", str(weights_path), "index", "-q", "--cluster", "local:2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "s: 3 images; 3 new" in out and "on the Dask cluster tcp://127.0.0.1:" in out
    assert "time per stage" in out and "network" in out
    assert len(load_store(root / "features" / "s.npz")) == 3


def test_cli_says_how_to_install_the_extra(root: Path, capsys, monkeypatch) -> None:
    from simages.cli import main

    monkeypatch.setitem(sys.modules, "distributed", None)
    imagegen.write_set(root / "image_sets" / "s", 1)
    assert main(["--root", str(root), "index", "--cluster", "local:2"]) == 2
    assert "pip install 'simages[cluster]'" in capsys.readouterr().err
