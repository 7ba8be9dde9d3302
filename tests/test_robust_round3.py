"""Robustness round 3 (issue 25): each test covers a kind of fault at its shared mechanism.

Every odd file comes from `tests/imagegen.py`; the stand-in network keeps these tests fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import imagegen
import pytest

from simages.cli import main
from simages.extraction.network import TinyNetwork
from simages.gui.context import GuiContext
from simages.gui.image_route import serve_image
from simages.jobs import indexer
from simages.jobs.derived import refresh_derived
from simages.jobs.indexer import index_set
from simages.naming import NAME_MAX, InvalidName, derived_name, validate_set_name
from simages.nearest import ann
from simages.settings import Settings
from simages.store.npz_store import load_store
from simages.store.vanished import vanished_dir

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
    pytest.importorskip("faiss", reason="the ANN extra (faiss-cpu) is not installed")
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
