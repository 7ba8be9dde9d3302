"""Robustness round 3 (issue 25): each test covers a kind of fault at its shared mechanism.

Every odd file comes from `tests/imagegen.py`; the stand-in network keeps these tests fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import imagegen
import numpy as np
import pytest

from simages.cli import main
from simages.extraction.images import UnreadableImage, displayed_size, open_rgb
from simages.extraction.network import TinyNetwork
from simages.gui.context import GuiContext
from simages.gui.routes.image import serve_image
from simages.gui.widgets.image_info import image_info
from simages.jobs import indexer
from simages.jobs.derived import refresh_derived
from simages.jobs.indexer import index_set
from simages.naming import NAME_MAX, InvalidName, derived_name, validate_set_name
from simages.nearest.ann import index as ann
from simages.settings import Settings
from simages.store import npz_store
from simages.store.npz_store import load_store
from simages.store.vanished import vanished_dir
from tests.requirements import import_or_missing

REPO = Path(__file__).resolve().parents[1]

# --- 1. Set names as long as the file system allows --------------------------------------------------------

LONG_CJK = "写真" * 42 + "集"  # 85 characters, 255 bytes in UTF-8: the longest folder name ext4 takes


def test_long_name_constant_is_the_limit() -> None:
    assert len(os.fsencode(LONG_CJK)) == NAME_MAX == 255


@pytest.mark.parametrize("length", range(236, 256))
@pytest.mark.parametrize("unit", ["a", "é", "写", "😀", "\udce9"])  # 1-4 bytes; a byte that is not UTF-8
def test_every_derived_name_of_a_legal_set_name_fits(length: int, unit: str) -> None:
    unit_bytes = len(os.fsencode(unit))
    name = (unit * (length // unit_bytes + 1))
    while len(os.fsencode(name)) > length:
        name = name[:-1]
    validate_set_name(name)
    suffixes = ["", ".npz", ".lock", ".faiss", ".json", ".ids.simm", ".simm", ".cosine.npz", ".mirrored.npz"]
    made = {derived_name(name, suffix) for suffix in suffixes}
    assert len(made) == len(suffixes)
    for derived in made:
        assert len(os.fsencode(derived)) <= NAME_MAX
        os.fsencode(derived).decode("utf-8", "surrogateescape")  # cut between characters, never inside one
    # Two long names sharing their start get different files.
    other = name[:-1] + ("b" if name[-1] != "b" else "c")
    assert derived_name(other, ".npz") != derived_name(name, ".npz") or len(os.fsencode(name)) + 4 <= NAME_MAX


def test_short_names_keep_their_file_names() -> None:
    assert derived_name("holiday 2024", ".npz") == "holiday 2024.npz"


def test_set_names_are_measured_in_bytes() -> None:
    validate_set_name(LONG_CJK)
    with pytest.raises(InvalidName, match="255 bytes"):
        validate_set_name(LONG_CJK + "x")  # 86 characters, but 256 bytes


def test_a_255_byte_set_name_indexes_queries_joins_and_serves_thumbnails(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_or_missing("faiss", "the ANN extra (faiss-cpu) is not installed")
    monkeypatch.setattr(indexer, "CHECKPOINT_IMAGES", 2)  # checkpoints, named after the set, are written
    monkeypatch.setattr(ann, "AUTO_MIN_IMAGES", 0)  # the ANN index files too
    ann.default_registry.clear()
    folder = settings.image_sets / LONG_CJK
    names = imagegen.write_set(folder, 6)
    summary = index_set(settings.with_(batch_size=2), LONG_CJK, network_factory=TinyNetwork)
    assert summary.total == 6 and not summary.unreadable
    assert load_store(settings.store_path(LONG_CJK)).names == names
    assert "ANN index" in refresh_derived(settings, LONG_CJK)
    assert list(settings.features.glob("**/*.tmp")) == []
    # An unchanged run finds the store (not retired to .vanished as a set without folder).
    again = index_set(settings, LONG_CJK, network_factory=TinyNetwork)
    assert again.nothing_to_do and not any(vanished_dir(settings.features).glob("*.npz"))

    root = ["--root", str(settings.root)]
    assert main([*root, "query", f"{LONG_CJK}/{names[0]}", "--set", LONG_CJK, "--knn", "3",
                 "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["results"]) == 3
    out = tmp_path / "pairs.csv"
    assert main([*root, "join", LONG_CJK, LONG_CJK, "--knn", "1", "--output", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1 + 6

    ctx = GuiContext(settings, manager=None)  # type: ignore[arg-type]
    response = serve_image(ctx, LONG_CJK, names[0], "thumb", "")
    assert response.status_code == 200

    # The folder renamed: its store is retired like any other, and its descriptors reused by content.
    os.rename(folder, settings.image_sets / "short")
    assert index_set(settings, "short", network_factory=TinyNetwork).reused == 6
    assert not settings.store_path(LONG_CJK).exists()
    ann.default_registry.clear()


def test_a_store_that_cannot_be_opened_is_not_called_not_indexed(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """`query` suggests `simages index` only when there is no store; another failure says what it is."""
    imagegen.write_set(settings.image_sets / "s", 3)
    index_set(settings, "s", network_factory=TinyNetwork)
    store = settings.store_path("s")
    store.unlink()
    store.mkdir()  # something that is not a readable file where the store should be
    code = main(["--root", str(settings.root), "query", "s/img_000.png", "--set", "s", "--knn", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Is a directory" in err and "simages index" not in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


# --- 2. Decompression bombs, in every format, on every path -------------------------------------------------

BOMB_FORMATS = ["PNG", "JPEG", "GIF", "TIFF", "WEBP", "BMP"]
# 144 Mpx: refused by our limit (120 Mpx), between Pillow's warning and its hard limit.
BOMB_KINDS = [(fmt, imagegen.BOMB_SIDE) for fmt in BOMB_FORMATS] + [("PNG", 12000)]


def _bomb_ids(kind: tuple[str, int]) -> str:
    return f"{kind[0]}-{kind[1]}"


@pytest.fixture
def bombs(settings: Settings) -> tuple[Settings, list[str]]:
    """A set with two ordinary images and one bomb per format (all made from headers: a few bytes each)."""
    folder = settings.image_sets / "s"
    imagegen.write_set(folder, 2)
    names = []
    for fmt, side in BOMB_KINDS:
        name = f"bomb-{side}.{fmt.lower()}"
        imagegen.bomb(folder / name, fmt, side)
        names.append(name)
    return settings, names


@pytest.mark.parametrize("kind", BOMB_KINDS, ids=_bomb_ids)
def test_a_bomb_is_refused_by_the_one_decoding_entry_point(tmp_path: Path, kind: tuple[str, int]) -> None:
    path = imagegen.bomb(tmp_path / f"bomb.{kind[0].lower()}", *kind)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a stray DecompressionBombWarning fails the test
        with pytest.raises(UnreadableImage, match="decompression bomb"):
            open_rgb(path)
        assert displayed_size(path) is None


def test_bombs_are_listed_with_the_reason_when_indexing(bombs: tuple[Settings, list[str]]) -> None:
    settings, names = bombs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = index_set(settings, "s", network_factory=TinyNetwork)
    assert summary.total == 2
    assert set(summary.unreadable) == set(names)
    assert all("decompression bomb" in reason for reason in summary.unreadable.values())


def test_a_bomb_as_cli_key_is_one_line(
    bombs: tuple[Settings, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, names = bombs
    index_set(settings, "s", network_factory=TinyNetwork)
    for name in names:
        key = str(settings.image_sets / "s" / name)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert main(["--root", str(settings.root), "query", key, "--set", "s"]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and "decompression bomb" in err, err
    # In a child process, with every warning shown: nothing but the one line (the 144 Mpx PNG is between
    # Pillow's warning and its hard limit, where Pillow warns before our limit refuses).
    result = subprocess.run(
        [sys.executable, "-W", "always", "-m", "simages", "--root", str(settings.root), "query",
         str(settings.image_sets / "s" / names[-1]), "--set", "s"],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "decompression bomb" in result.stderr and "Warning" not in result.stderr


def test_a_bomb_thumbnail_is_415(bombs: tuple[Settings, list[str]]) -> None:
    settings, names = bombs
    ctx = GuiContext(settings, manager=None)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in names:
            for size in ("thumb", "full"):
                response = serve_image(ctx, "s", name, size, "")
                assert response.status_code == 415, (name, size)
                assert b"decompression bomb" in response.body
            assert image_info(settings, "s", name).width is None  # the viewer's facts: no size, no error


async def test_a_bomb_upload_is_not_an_image_we_can_read(tmp_path: Path) -> None:
    from nicegui.elements.upload_files import SmallFileUpload

    from tests.gui_fixtures import current_query, demo_root, gui_app, only

    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        upload = only(user, "upload")
        for fmt, side in BOMB_KINDS:
            data = imagegen.bomb(tmp_path / f"b.{fmt.lower()}", fmt, side).read_bytes()
            with user:
                await upload.handle_uploads([SmallFileUpload(f"b{side}.{fmt.lower()}", "image/png", data)])
            await user.should_see(f"b{side}.{fmt.lower()} is not an image we can read")
            assert current_query(user)["path"] == "/"
    assert manager.described == []  # refused before the network


# --- 6. Files written by a newer SIMages: refused, never rebuilt over -------------------------------------


def _as_newer(settings: Settings, set_name: str) -> bytes:
    """Rewrite the set's store as a newer SIMages would have (a higher format_version); its bytes."""
    path = settings.store_path(set_name)
    store = load_store(path)
    store.meta["format_version"] = npz_store.FORMAT_VERSION + 1
    npz_store.save_store(path, store)
    return path.read_bytes()


def test_a_newer_store_is_refused_by_query_and_index_and_kept(
    settings: Settings, capsys: pytest.CaptureFixture[str], weights_path: Path
) -> None:
    imagegen.write_set(settings.image_sets / "s", 3)
    index_set(settings, "s", network_factory=TinyNetwork)
    refresh_derived(settings, "s")  # a memory-mapped copy exists too: it must not be a way around
    before = _as_newer(settings, "s")
    root = ["--root", str(settings.root)]

    assert main([*root, "query", "s/img_000.png", "--set", "s", "--knn", "1"]) == 2
    err = capsys.readouterr().err
    assert "written by a newer SIMages" in err and err.count("\n") == 1

    with pytest.raises(npz_store.StoreFromNewerVersion):
        index_set(settings, "s", network_factory=TinyNetwork)
    assert main([*root, "--weights", str(weights_path), "index", "s", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "s: FAILED: feature store s.npz was written by a newer SIMages" in err
    assert "Traceback" not in err
    assert settings.store_path("s").read_bytes() == before  # never rebuilt over
    with pytest.raises(npz_store.StoreFromNewerVersion):
        refresh_derived(settings, "s")


def test_newer_derived_files_are_neither_used_nor_replaced(settings: Settings, monkeypatch) -> None:
    import_or_missing("faiss", "the ANN extra (faiss-cpu) is not installed")
    from simages.nearest.core.query_spec import QuerySpec
    from simages.nearest.joins.join import key_join
    from simages.nearest.sets.cache import DescriptorCache
    from simages.store.mmap_store import mmap_path

    monkeypatch.setattr(ann, "AUTO_MIN_IMAGES", 0)
    ann.default_registry.clear()
    imagegen.write_set(settings.image_sets / "s", 8)
    index_set(settings, "s", network_factory=TinyNetwork)
    refresh_derived(settings, "s")
    _, meta_file = ann.index_paths(settings.features, "s")
    meta = json.loads(meta_file.read_text())
    meta["format_version"] = ann.FORMAT_VERSION + 1
    meta_file.write_text(json.dumps(meta))
    copy = mmap_path(settings.features, "s")
    header = json.dumps({"format": "simages-mmap-9"}).encode()
    copy.write_bytes(len(header).to_bytes(8, "little") + header)
    newer = {path: path.read_bytes() for path in (meta_file, copy)}
    # The store changes (an image added): every derived file is out of date, yet none is replaced.
    imagegen.write_set(settings.image_sets / "s", 9)
    index_set(settings, "s", network_factory=TinyNetwork)
    assert "written by a newer SIMages" in refresh_derived(settings, "s")
    monkeypatch.setattr(ann, "AUTO_MIN_IMAGES", 10**6)  # a small set's index is normally deleted: not this
    refresh_derived(settings, "s")
    assert {path: path.read_bytes() for path in newer} == newer
    monkeypatch.setattr(ann, "AUTO_MIN_IMAGES", 0)
    ann.default_registry.clear()
    index = DescriptorCache().get(settings, "s")
    result = key_join(index, index.raw_vector("img_000.png"), QuerySpec("cosine", "knn", 3))
    assert result.search == "exact" and "written by a newer SIMages" in result.search_note
    ann.default_registry.clear()


# --- 7. Long lists: a count and the first few, the full list on request ------------------------------------


class _Finished:
    """What index_cmd._report reads of the IndexManager: the settings and a finished set's summary."""

    def __init__(self, settings: Settings, summary) -> None:
        self.settings, self._summary = settings, summary

    def summary(self, name: str):
        return self._summary


def test_thousands_of_unreadable_files_print_a_few_lines(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from simages.cli import index_cmd
    from simages.cli.long_lists import report_path
    from simages.jobs import status as st

    folder = settings.image_sets / "s"
    imagegen.write_set(folder, 2)
    for i in range(2000):  # empty files named as photos (a copy that never finished), and sidecars
        (folder / f"broken_{i:05d}.jpg").touch()
        (folder / f"broken_{i:05d}.xmp").write_text("<x/>")
    (folder / "truncated.jpg").write_bytes(b"\xff\xd8\xff")
    indexed = st.SetStatus("s", st.INDEXED)
    for run in ("first", "up to date", "verbose"):
        summary = index_set(settings, "s", network_factory=TinyNetwork)
        assert len(summary.unreadable) == 2001 and len(summary.skipped) == 2000
        assert (run == "first") != summary.nothing_to_do
        assert index_cmd._report(_Finished(settings, summary), "s", indexed, verbose=run == "verbose") == 0
        out = capsys.readouterr().out.splitlines()
        if run == "verbose":
            assert len(out) >= 4001
            continue
        assert len(out) <= 2 + 2 * (5 + 1)
        assert out[0].startswith("s: ") and "2 images" in out[0] and "2001 unreadable" in out[0]
        assert sum(line.startswith("  unreadable: ") for line in out) == 5
        more = next(line for line in out if "more unreadable" in line)
        assert "1,996 more unreadable" in more and "× “" in more
        assert "1,995 more skipped" in next(line for line in out if "more skipped" in line)
        full_list = report_path(settings.features, "s")
        assert out[-1] == f"  (the full list: {full_list}; --verbose prints it)"
        listed = full_list.read_text().splitlines()
        assert len(listed) == 4001 and "unreadable: truncated.jpg: " in "\n".join(listed)


def test_a_short_list_is_printed_whole(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from simages.cli.long_lists import print_lists

    lines: list[str] = []
    print_lists(lines.append, {"unreadable": {"a.jpg": "empty", "b.jpg": "empty"}}, False, None)
    assert lines == ["  unreadable: a.jpg: empty", "  unreadable: b.jpg: empty"]


# --- 4. A cache that cannot be written is not an error ------------------------------------------------------
# Tests run as root, for whom chmod does not make a folder read-only: "blocked" puts a file where the
# thumbnail folder should be (a real failure of the file system); "read-only" makes the atomic write
# raise PermissionError, as a read-only features/ does for an ordinary user (monkeypatched).


@pytest.mark.parametrize("how", ["blocked", "read-only"])
def test_thumbnails_are_served_from_memory_when_the_cache_cannot_be_written(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    import errno
    import logging

    folder = settings.image_sets / "s"
    names = imagegen.write_set(folder, 4)
    imagegen.saved_as(folder / "scan.tiff", "TIFF")  # shown full size through a converted JPEG
    if how == "blocked":
        settings.thumbnails.write_text("not a folder")
    else:
        def refuse(path: Path, write, durable: bool = True) -> None:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

        monkeypatch.setattr("simages.store.cache_files.write_atomically", refuse)
    ctx = GuiContext(settings, manager=None)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            for name in names:
                response = serve_image(ctx, "s", name, "thumb", "")
                assert response.status_code == 200 and response.media_type == "image/jpeg"
                assert response.body[:2] == b"\xff\xd8"  # a JPEG, from memory
            full = serve_image(ctx, "s", "scan.tiff", "full", "")
            assert full.status_code == 200 and full.body[:2] == b"\xff\xd8"
    warnings_logged = [r for r in caplog.records if "thumbnail cache cannot be written" in r.getMessage()]
    assert len(warnings_logged) == 1
    assert ctx.thumbnails.writer.failures == len(names) + 1  # rendered once each: the second round is memory
    assert not any(settings.features.glob("**/*.jpg"))


def test_pivot_tables_that_cannot_be_written_stay_in_memory(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from simages.nearest.pivots.store import pivot_table
    from simages.nearest.sets.cache import DescriptorCache

    imagegen.write_set(settings.image_sets / "s", 6)
    index_set(settings, "s", network_factory=TinyNetwork)
    (settings.features / ".pivots").write_text("not a folder")  # the table's folder is blocked
    index = DescriptorCache().get(settings, "s")
    with caplog.at_level(logging.WARNING):
        for space in ("cosine", "euclidean", "cosine"):
            assert pivot_table(index, space, 2, settings).count == 2
    assert sum("pivot table cache cannot be written" in r.getMessage() for r in caplog.records) == 1



@pytest.mark.parametrize("how", ["blocked", "read-only"])
def test_atlas_maps_that_cannot_be_written_stay_in_memory(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    import errno
    import logging

    from simages.atlas.cache import MapCache
    from simages.jobs.derived import refresh_atlas
    from simages.nearest.core.query_spec import QuerySpec
    from simages.nearest.sets.cache import DescriptorCache
    from simages.operations.atlas import build_set_atlas, join_atlas, kept_set_atlas

    for name, count in (("a", 5), ("b", 6)):
        imagegen.write_set(settings.image_sets / name, count)
        index_set(settings, name, network_factory=TinyNetwork)
    if how == "blocked":
        (settings.features / ".atlas").write_text("not a folder")  # the maps' folder is blocked
    else:
        def refuse(path: Path, write, durable: bool = True) -> None:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

        monkeypatch.setattr("simages.store.cache_files.write_atomically", refuse)
    maps = MapCache()
    cache = DescriptorCache()
    a, b = cache.get(settings, "a"), cache.get(settings, "b")
    with caplog.at_level(logging.WARNING):
        assert "atlas map" in refresh_atlas(settings, "b", maps=maps)  # the app's background build
        assert kept_set_atlas(settings, b, maps) is not None  # the page's poll finds it in memory
        atlas, done = build_set_atlas(settings, b, maps)
        assert done == "" and len(atlas.names) == 6  # reused from memory, not computed again
        for x, y in ((a, b), (b, b)):
            joined = join_atlas(settings, x, y, QuerySpec("cosine", "knn", 2), compute=True, maps=maps)
            assert joined.final and len(joined.layer.b_names) == 6
    assert sum("atlas map cache cannot be written" in r.getMessage() for r in caplog.records) == 1
    assert not any(settings.features.glob("**/*.umap.pkl")) and not any(settings.features.glob(".atlas/*"))

# --- 9. kill -9 while the ANN index or the memory-mapped copy is written ------------------------------------

# Run in a child process: refresh the set's derived files (ANN size threshold overridden to 0, the only
# way to get an index of a set CI can afford), with SIGKILL sent to itself at STAGE: during the FAISS build
# (or patch),
# half-way through writing the index file, the ids sidecar or the memory-mapped copy, or between the index
# files and the metadata naming them.
_KILLED_CHILD = r"""
import os, signal, sys
from pathlib import Path
from simages.jobs.derived import refresh_derived
from simages.nearest.ann import index as ann
from simages.nearest.ann import update as ann_update
from simages.settings import Settings
from simages.store import mmap_store

root, set_name, stage = sys.argv[1:4]
ann.AUTO_MIN_IMAGES = 0

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def killing(original, suffix):
    def write_atomically(path, write, durable=True):
        if not path.name.endswith(suffix):
            return original(path, write, durable)
        def half(stream):
            stream.write(b"\0" * 4096)  # part of the file is on disk, under its temporary name
            stream.flush()
            die()
        return original(path, half, durable)
    return write_atomically

if stage == "build":  # building, or patching an earlier index with the added images
    ann.build = ann_update._patch = lambda *args, **kwargs: die()
elif stage in ("faiss", "meta"):
    ann.write_atomically = killing(ann.write_atomically, "." + ("faiss" if stage == "faiss" else "json"))
elif stage == "ids":
    mmap_store.write_atomically = killing(mmap_store.write_atomically, ".ids.simm")
elif stage == "mmap":
    mmap_store.write_atomically = killing(mmap_store.write_atomically, "s.simm")
refresh_derived(Settings(root=Path(root)), set_name)
sys.exit(3)  # never reached: the kill came first
"""


def _clustered(n: int, d: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.random((8, d), dtype=np.float32)
    x = centres[rng.integers(0, 8, n)] + 0.15 * rng.random((n, d), dtype=np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _write_store(settings: Settings, vectors: np.ndarray) -> list[str]:
    from simages.store.fingerprint import Fingerprint
    from simages.store.npz_store import FeatureStore

    names = [f"img_{i:05d}.jpg" for i in range(len(vectors))]
    store = FeatureStore(names, [Fingerprint(1, 1)] * len(names), vectors,
                         {"descriptor": "gap+l2", "descriptor_spec": "gap+l2+qe3"})
    npz_store.save_store(settings.store_path("s"), store)
    (settings.image_sets / "s").mkdir(exist_ok=True)
    return names


@pytest.mark.parametrize("earlier_index", [False, True], ids=["first-build", "update"])
@pytest.mark.parametrize("stage", ["build", "faiss", "ids", "meta", "mmap"])
def test_kill_9_while_derived_files_are_written(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, stage: str, earlier_index: bool
) -> None:
    import_or_missing("faiss", "the ANN extra (faiss-cpu) is not installed")
    import signal

    from simages.nearest.core.query_spec import QuerySpec
    from simages.nearest.joins.join import key_join
    from simages.nearest.sets.cache import DescriptorCache
    from simages.store.mmap_store import mmap_path, open_mmap_copy

    monkeypatch.setattr(ann, "AUTO_MIN_IMAGES", 0)
    ann.default_registry.clear()
    vectors = _clustered(3000)
    if earlier_index:
        _write_store(settings, vectors[:2800])
        assert "ANN index" in refresh_derived(settings, "s")
    names = _write_store(settings, vectors)  # the set as the killed run saw it
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_CHILD, str(settings.root), "s", stage],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120, check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    left = list(settings.features.glob("**/.*.tmp"))
    assert left or stage == "build"  # a half-written file under its temporary name, as a real kill leaves

    # The next query answers, exactly, and says why it did not use an index.
    spec = QuerySpec("cosine", "knn", 10)
    index = DescriptorCache().get(settings, "s")
    key = vectors[2900]  # an image the killed run added
    result = key_join(index, key, spec, exclude=names[2900])
    exact = key_join(index, key, spec, exclude=names[2900], exact=True)
    assert [(m.image, m.score) for m in result.matches] == [(m.image, m.score) for m in exact.matches]
    if stage != "mmap":  # killed before the ANN files were complete: searched exactly, with the reason
        assert result.search == "exact" and result.search_note

    # The next indexing run repairs: a fresh copy and index, used by queries, and no temporary file left.
    for path in left:
        os.utime(path, (1, 1))  # the next run comes later than a killed writer's last write
    refresh_derived(settings, "s")
    assert open_mmap_copy(mmap_path(settings.features, "s"), ann.store_version(settings.store_path("s")))
    ann.default_registry.clear()
    repaired = key_join(DescriptorCache().get(settings, "s"), key, spec, exclude=names[2900])
    assert repaired.search == ann.DEFAULT_METHOD
    assert {m.image for m in repaired.matches} == {m.image for m in exact.matches}
    assert list(settings.features.glob("**/.*.tmp")) == []
    ann.default_registry.clear()


def test_a_live_writers_temporary_file_is_never_removed(tmp_path: Path) -> None:
    from simages.store.atomic import remove_stale_temporaries, write_atomically

    seen: list[int] = []

    def write(stream) -> None:
        stream.write(b"x")
        stream.flush()
        (temporary,) = tmp_path.glob(".*.tmp")
        os.utime(temporary, (1, 1))  # old, yet its writer is alive: kept
        seen.append(remove_stale_temporaries(tmp_path))

    write_atomically(tmp_path / "f.bin", write)
    assert seen == [0] and (tmp_path / "f.bin").read_bytes() == b"x"


def test_a_key_without_descriptor_is_told_why(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """`simages index` is suggested only when it would help: an image added since."""
    folder = settings.image_sets / "s"
    imagegen.write_set(folder, 3)
    imagegen.bomb(folder / "huge.png", "PNG")
    index_set(settings, "s", network_factory=TinyNetwork)
    imagegen.save(imagegen.photo(50), folder / "added.png")
    root = ["--root", str(settings.root), "query"]
    expected = {"huge.png": "could not be read when the set was indexed", "gone.png": "there is no image",
                "added.png": f"run `{settings.command('index s')}` if it was added since"}
    for image, says in expected.items():
        assert main([*root, f"s/{image}", "--set", "s"]) == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err
        assert (" index s`" in err) == (image == "added.png")


def test_the_app_worker_reports_a_newer_store_with_what_to_do(settings: Settings) -> None:
    """The app's background indexer (jobs/worker.py) fails the set with the store's own words and remedy,
    which the status panel shows, instead of a Python type name or a rebuild."""
    import queue

    from simages.jobs.worker import _index

    imagegen.write_set(settings.image_sets / "s", 2)
    index_set(settings, "s", network_factory=TinyNetwork)
    before = _as_newer(settings, "s")
    events: queue.Queue = queue.Queue()
    _index(settings, "s", events, TinyNetwork)
    kinds = [events.get_nowait() for _ in range(events.qsize())]
    failed = [event for event in kinds if event[0] == "failed"]
    assert failed and "written by a newer SIMages" in failed[0][2] and "newer SIMages (`pip" in failed[0][2]
    assert "StoreFromNewerVersion" not in failed[0][2]
    assert settings.store_path("s").read_bytes() == before
