"""The near-duplicate benchmark: its edits, its copies, and the command on a small Corel sample (CI); the
full run (`--run-slow`) checks the issue's floors with the default settings."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from simages.bench.duplicate_copies import choose_originals, write_copies
from simages.cli import main
from simages.copies.edits import EDITS, STRONG_EDITS, apply_edit
from tests.imagegen import photo
from tests.requirements import import_or_missing


def test_every_edit_changes_the_photo_the_way_its_name_says():
    image = photo(3, (120, 80))
    pixels = np.asarray(image, np.int16)
    out = {kind: apply_edit(kind, image, seed=1) for kind in EDITS}
    assert out["resized"].size == (48, 32)
    assert out["cropped"].size == (96, 64)
    assert out["letterboxed"].size == (120, 120)
    assert out["rotated"].size[0] > 120 and out["rotated"].size[1] > 80
    assert np.array_equal(np.asarray(out["mirrored"]), np.asarray(image)[:, ::-1])
    gray = np.asarray(out["grayscale"])
    assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])
    assert np.asarray(out["brightened"], np.int16).mean() > pixels.mean() + 10
    for kind in ("reencoded", "watermarked", "noisy"):
        edited = np.asarray(out[kind], np.int16)
        assert edited.shape == pixels.shape and 0 < np.abs(edited - pixels).mean() < 40, kind
    # Reproducible from the seed; another seed may differ where the edit is random
    assert np.array_equal(np.asarray(apply_edit("noisy", image, 1)), np.asarray(out["noisy"]))
    assert not np.array_equal(np.asarray(apply_edit("noisy", image, 2)), np.asarray(out["noisy"]))


def test_copies_are_written_per_class_and_named_after_their_original(tmp_path: Path):
    source = tmp_path / "photos"
    for label in ("cats", "dogs"):
        for i in range(4):
            (source / label).mkdir(parents=True, exist_ok=True)
            photo(i + (10 if label == "dogs" else 0), (64, 48)).save(source / label / f"{i}.jpg")
    (source / "loose.jpg").write_bytes((source / "cats" / "0.jpg").read_bytes())
    originals = choose_originals(source, 2, seed=0)
    assert len(originals) == 4 and {o.split("/")[0] for o in originals} == {"cats", "dogs"}
    assert originals == choose_originals(source, 2, seed=0)
    copies = write_copies(source, originals, tmp_path / "copies", ["mirrored", "grayscale"])
    assert len(copies) == 8
    first = copies[0]
    assert first.copy == first.original.replace(".jpg", "__mirrored.png") and first.kind == "mirrored"
    with Image.open(tmp_path / "copies" / first.copy) as image:
        assert image.size == (64, 48)


def _row(out: str, label: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith(label))
    return re.findall(r"\d+\.\d+", line[len(label):])


def test_bench_duplicates_on_a_small_sample(weights_path: Path, corel_path: Path, tmp_path, capsys):
    args = ["--root", str(tmp_path), "--weights", str(weights_path), "bench", "duplicates",
            "--data", str(corel_path), "--per-class", "1", "--searched-per-class", "4", "--sizes", "none"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "10 edited copies" in out and "40 searched" in out
    duplicates = _row(out, "duplicates intent (gap+trim+sqrt+l2+whiten)")
    assert float(duplicates[0]) >= 0.9 and float(duplicates[1]) == 1.0  # top-1, recall@5
    pairs = _row(out, "duplicates intent, default threshold")
    assert float(pairs[-11]) >= 0.8  # F1, before the ten per-kind recalls
    # The copy space the app learns after indexing: edits of the 40 searched photos, learned with them.
    copy_lines = [line for line in out.splitlines() if line.startswith("duplicates intent, copy space")]
    rank_line, pair_line = copy_lines
    assert "from 160 edited copies" in rank_line  # 4 edits of each of the 40 photos
    copy_ranks = re.findall(r"\d+\.\d+", rank_line.split(")", 1)[1])
    copy_pairs = re.findall(r"\d+\.\d+", pair_line.split(")", 1)[1])
    assert float(copy_ranks[0]) >= 0.9 and float(copy_pairs[-11]) >= 0.8
    assert "similar intent (gap+trim+l2+pca128+qe10)" in out and "Duplicates space" in out
    suggested = [line for line in out.splitlines() if "the key's own top 1% (1-50 images): " in line]
    assert len(suggested) == 2 and all("1.000 of keys" in line for line in suggested)
    import_or_missing("imagehash", "imagehash (the test extra) is not installed")
    assert "PHash (imagehash)" in out and "DHash (imagehash)" in out


@pytest.mark.slow
def test_bench_duplicates_meets_the_floors_on_corel(weights_path: Path, corel_path: Path, tmp_path, capsys):
    args = ["--root", str(tmp_path), "--weights", str(weights_path), "bench", "duplicates",
            "--data", str(corel_path), "--no-hash"]
    assert main(args) == 0
    out = capsys.readouterr().out
    top1, recall5 = (float(v) for v in _row(out, "duplicates intent (gap+trim+sqrt+l2+whiten)")[:2])
    assert top1 >= 0.97 and recall5 >= 0.99
    assert float(_row(out, "duplicates intent, default threshold")[-11]) >= 0.85
    for line in (line for line in out.splitlines() if "the key's own top 1% (1-50 images): " in line):
        assert float(line.split("(1-50 images): ")[1].split()[0]) >= 0.95


def test_every_strong_edit_changes_the_photo_the_way_its_name_says():
    image = photo(4, (120, 80))
    out = {kind: apply_edit(kind, image, seed=2) for kind in STRONG_EDITS}
    assert np.array_equal(np.asarray(out["turned90"]), np.rot90(np.asarray(image)))
    assert np.array_equal(np.asarray(out["turned180"]), np.rot90(np.asarray(image), 2))
    assert np.array_equal(np.asarray(out["turned270"]), np.rot90(np.asarray(image), 3))
    width, height = out["half-cropped"].size
    assert 0.45 <= width * height / (120 * 80) <= 0.55
    assert out["bordered"].size == (136, 96) and out["captioned"].size == (120, 100)
    assert out["collaged"].size == (240, 80) and max(out["thumbnail64"].size) == 64
    assert out["screenshot"].size[0] > 120 and out["screenshot"].size[1] > 80
    assert out["pillarboxed"].size[0] == 240
    assert out["perspective"].size == (120, 80)
    for kind in ("colour-shifted", "blurred", "jpeg10", "stickered", "perspective"):
        assert np.abs(np.asarray(out[kind], np.int16) - np.asarray(image, np.int16)).mean() > 0, kind
    chained = np.asarray(apply_edit("chained", image, 5))
    assert np.array_equal(np.asarray(apply_edit("chained", image, 5)), chained)  # reproducible


def test_bench_duplicates_with_the_strong_edits_on_a_small_sample(weights_path: Path, corel_path: Path,
                                                                   tmp_path, capsys):
    args = ["--root", str(tmp_path), "--weights", str(weights_path), "bench", "duplicates", "--strong",
            "--no-hash", "--data", str(corel_path), "--per-class", "2", "--searched-per-class", "4",
            "--sizes", "none", "--no-copy-space"]  # the copy space's own row: the small-sample test
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "20 edited copies" in out and "turned9" in out  # kinds in turn: the turns are among the first 20
    mild = next(line for line in out.splitlines() if line.startswith("mild edits"))
    strong = next(line for line in out.splitlines() if line.startswith("strong edits"))
    assert float(mild.split("top-1 ")[1].split()[0]) >= 0.9
    assert float(strong.split("top-1 ")[1].split()[0]) >= 0.5


def test_bench_duplicates_rows_for_collections_uploads_and_all_other_sets(
        weights_path: Path, corel_path: Path, tmp_path, capsys):
    """The sized-collection rows on a small sample (CI): collections of 10 (one class) and 30 (three
    classes) photos, two uploads per class, and all other sets; the cost lines."""
    args = ["--root", str(tmp_path), "--weights", str(weights_path), "bench", "duplicates", "--no-hash",
            "--data", str(corel_path), "--per-class", "2", "--searched-per-class", "12", "--sizes", "10,30",
            "--uploads-per-class", "2", "--no-copy-space"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Describing 20 photos kept out of the collections" in out
    rows = {line.split("  ")[0].split(" [")[0]: line for line in out.splitlines()
            if line.startswith(("collection of", "all other sets"))}
    assert set(rows) == {"collection of 10", "collection of 30", "all other sets (3 sets, 30 photos)"}
    # The space each was searched in (--no-copy-space: without the edited copies the app learns from in the
    # background, to keep this sample short): 10 photos are too few to learn one.
    assert "[unwhitened]" in rows["collection of 10"] and "[whitening]" in rows["collection of 30"]
    for line in rows.values():
        numbers = _row(line.split("]", 1)[1], "")
        mild_precision, mild_recall, mild_f1 = (float(v) for v in numbers[:3])
        assert 0 <= mild_precision <= 1 and mild_recall >= 0.5 and mild_f1 > 0, line
        uploads = line.split("= ")[1].split("%")[0]
        assert 0 <= float(uploads) <= 100
    # Uploads are the photos kept out, of the collection's classes: 2 for one class, 6 for three.
    assert re.search(r"/2 = ", rows["collection of 10"]) and re.search(r"/6 = ", rows["collection of 30"])
    assert "Cost (" in out and "s per 1,000 photos" in out and "duplicates intent" in out
