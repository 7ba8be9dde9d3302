"""`simages triage`: new photos against the collection (levels, headline, formats), the keeper rule, the
plan exports, apply and undo through the CLI with the stores following, and remembered decisions."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from simages.cli import main
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, load_store, save_store
from tests.imagegen import photo


def vectors(seed: int, n: int, d: int = 64) -> np.ndarray:
    x = np.abs(np.random.default_rng(seed).standard_normal((n, d))).astype(np.float32) ** 3
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def edited(vector: np.ndarray, seed: int) -> np.ndarray:
    near = vector * (1 + 0.1 * np.random.default_rng(seed).standard_normal(vector.shape)).astype(np.float32)
    near = np.abs(near)
    return near / np.linalg.norm(near)


def write_store(settings: Settings, name: str, names: list[str], rows: np.ndarray) -> None:
    meta = {"descriptor": "gap+l2", "descriptor_spec": "gap+l2+pca128+qe10"}
    order = sorted(range(len(names)), key=names.__getitem__)  # rows in name order, as indexing writes them
    names = [names[i] for i in order]
    prints = [Fingerprint.of(os.stat(settings.image_sets / name / n)) for n in names]
    store = FeatureStore(names, prints, np.asarray(rows, np.float32)[order], meta)
    save_store(settings.store_path(name), store)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return triage_root(tmp_path)


def triage_root(tmp_path: Path) -> Settings:
    """coll: 30 photos; new: an exact copy of p03 (same bytes), p05 enlarged (an upscale: the collection's
    photo is still the one to keep), p07 shrunk, and two new photos."""
    settings = Settings(root=tmp_path)
    coll = settings.image_sets / "coll"
    new = settings.image_sets / "new"
    coll.mkdir(parents=True)
    new.mkdir(parents=True)
    base = vectors(1, 30)
    names = [f"p{i:02d}.jpg" for i in range(30)]
    for i, name in enumerate(names):
        photo(i, (96, 64)).save(coll / name, quality=90)
    write_store(settings, "coll", names, base)
    shutil.copy2(coll / "p03.jpg", new / "same_p03.jpg")  # its modification time too: a tie on date
    photo(5, (96, 64)).resize((192, 128)).save(new / "big_p05.jpg", quality=90)
    photo(7, (96, 64)).resize((48, 32)).save(new / "small_p07.jpg", quality=90)
    photo(100, (96, 64)).save(new / "fresh_1.jpg", quality=90)
    photo(101, (96, 64)).save(new / "fresh_2.jpg", quality=90)
    new_names = ["same_p03.jpg", "big_p05.jpg", "small_p07.jpg", "fresh_1.jpg", "fresh_2.jpg"]
    write_store(settings, "new", new_names,
                np.vstack([base[3], edited(base[5], 2), edited(base[7], 3), vectors(50, 2)]))
    return settings


def run(settings: Settings, capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(["--root", str(settings.root), "triage", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_gives_each_new_photo_its_best_match_and_level(settings, capsys) -> None:
    code, out, _ = run(settings, capsys, "new", "--format", "json")
    assert code == 0
    data = json.loads(out)
    rows = {row["image"]: row for row in data["new"]}
    assert (rows["new/same_p03.jpg"]["level"], rows["new/same_p03.jpg"]["match"]) == ("exact", "coll/p03.jpg")
    assert (rows["new/big_p05.jpg"]["level"], rows["new/big_p05.jpg"]["match"]) == ("edited", "coll/p05.jpg")
    assert rows["new/small_p07.jpg"]["match"] == "coll/p07.jpg"
    assert rows["new/fresh_1.jpg"]["level"] in ("new", "look-alike")
    assert rows["new/fresh_2.jpg"]["level"] in ("new", "look-alike")
    assert all(row["match"] is None and row["score"] is None for row in data["new"] if row["level"] == "new")
    assert data["counts"]["exact"] == 1 and data["counts"]["edited"] == 2 and data["counts"]["total"] == 5
    assert data["against"] == ["coll"]
    assert (data["schema"], data["intent"], data["sets"], data["index"]) == (1, "duplicates", ["new", "coll"],
                                                                             "brute")
    assert data["headline"].startswith("3 of 5 new photos are already in your collection (1 exact, 2 edited)")
    # Each copy says what changed, as `simages duplicates` does for its pairs (walk 3); other rows do not.
    assert (rows["new/same_p03.jpg"]["changes"], rows["new/same_p03.jpg"]["changed"]) == ([], "")
    for name, smaller in (("new/big_p05.jpg", "coll/p05.jpg"), ("new/small_p07.jpg", "new/small_p07.jpg")):
        assert rows[name]["changes"][0] == "smaller"
        assert rows[name]["changed"].startswith(f"{smaller} is smaller")
    assert "changed" not in rows["new/fresh_1.jpg"] and "changes" not in rows["new/fresh_2.jpg"]


def test_the_table_has_the_headline_buckets_and_keepers_with_reasons(settings, capsys) -> None:
    code, out, _ = run(settings, capsys, "new", "--against", "coll")
    assert code == 0
    headline = "3 of 5 new photos are already in your collection (1 exact, 2 edited)"
    assert out.splitlines()[0].startswith(headline)
    assert "Exact copy (1)" in out and "Edited copy (2)" in out
    # The collection's photo is kept whatever the copy: an enlarged, shrunk or identical new copy; the rule
    # is said once above the groups, each group says only where its keeper is (walk 5: said 8 times).
    assert "keep coll/p05.jpg (in the collection); move new/big_p05.jpg" in out
    assert "keep coll/p07.jpg (in the collection); move new/small_p07.jpg" in out
    assert "keep coll/p03.jpg (in the collection); move" in out
    rule = ("The collection's photo is always suggested as the keeper: a new copy replaces it only if you "
            "choose it")
    assert out.count(rule) == 1 and out.index(rule) < out.index("keep coll/")
    assert "never replaces" not in out


def test_compare_shows_the_copies_facts_side_by_side_and_marks_what_differs(settings, capsys) -> None:
    code, out, _ = run(settings, capsys, "new", "--compare")
    assert code == 0
    size_rows = [line for line in out.splitlines() if line.lstrip(" *").startswith("size ")]
    assert any(line.strip().startswith("*") and "192 x 128 px" in line and "96 x 64 px" in line
               for line in size_rows)
    assert any(line.strip().startswith("camera") for line in out.splitlines())  # same: no mark


def test_csv_lists_every_new_photo(settings, capsys, tmp_path) -> None:
    target = tmp_path / "answer.csv"
    code, out, _ = run(settings, capsys, "new", "--format", "csv", "--output", str(target))
    assert out == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert code == 0 and len(rows) == 5
    assert {r["image"] for r in rows if r["level"] == "exact"} == {"new/same_p03.jpg"}


def test_plan_apply_undo_moves_copies_and_brings_them_back_byte_identical(settings, capsys, tmp_path) -> None:
    before = snapshot(settings.image_sets)
    stored = {name: load_store(settings.store_path(name)) for name in ("coll", "new")}
    first = json.loads(run(settings, capsys, "new", "--format", "json")[1])
    plan_file = tmp_path / "plan.json"
    code, out, _ = run(settings, capsys, "new", "--plan", str(plan_file))
    assert code == 0 and "3 files to move" in out and "nothing moved yet" in out
    assert snapshot(settings.image_sets) == before
    plan = json.loads(plan_file.read_text())
    assert {(m["set"], m["image"]) for m in plan["moves"]} == {
        ("new", "same_p03.jpg"), ("new", "big_p05.jpg"), ("new", "small_p07.jpg")}
    assert (tmp_path / "plan.json.csv").read_text().count("\n") == 4
    assert b"mv -n -- " in (tmp_path / "plan.json.sh").read_bytes()

    code, out, _ = run(settings, capsys, "--apply", str(plan_file))
    assert code == 0 and "3 of 3 files moved to the quarantine folder" in out
    quarantine = settings.root / "quarantine" / plan["id"]
    assert (quarantine / "new" / "big_p05.jpg").read_bytes() == before["new/big_p05.jpg"]
    assert not (settings.image_sets / "new" / "same_p03.jpg").exists()
    # The stores follow: the moved images are no longer answers.
    assert "big_p05.jpg" not in load_store(settings.store_path("new")).names
    assert "same_p03.jpg" not in load_store(settings.store_path("new")).names
    code, out, _ = run(settings, capsys, "new", "--format", "json")
    assert json.loads(out)["counts"]["total"] == 2  # the three copies left the new folder

    code, out, _ = run(settings, capsys, "--history")
    assert plan["id"] in out and "applied" in out
    code, out, _ = run(settings, capsys, "--undo")
    assert code == 0 and "3 of 3 files restored" in out
    assert snapshot(settings.image_sets) == before
    assert sorted(load_store(settings.store_path("coll")).names) == sorted(f"p{i:02d}.jpg" for i in range(30))
    # The restored rows are back in their places (name order, as indexing writes), each with its vector.
    for name, old in stored.items():
        store = load_store(settings.store_path(name))
        assert store.names == sorted(old.names) == old.names
        assert np.array_equal(store.vectors, old.vectors)
    code, out, _ = run(settings, capsys, "new", "--format", "json")
    assert json.loads(out)["new"] == first["new"]


def suggested(out: str, verb: str) -> list[str]:
    """The arguments of the `simages ... triage --VERB ...` command a message suggests, as typed."""
    import re
    import shlex

    command = re.search(rf"`simages ([^`]*triage --{verb}[^`]*)`", out)
    assert command is not None, out
    return shlex.split(command.group(1))


def test_suggested_commands_act_on_the_same_root_from_anywhere(settings, capsys, tmp_path,
                                                               monkeypatch) -> None:
    """`--apply` and `--undo` as the messages print them, typed in another directory, act on this root (a
    plan printed without `--root` applied to the current directory and said each keeper was gone)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    before = snapshot(settings.image_sets)
    _, out, _ = run(settings, capsys, "new", "--plan", str(tmp_path / "my plan.json"))
    assert main(suggested(out, "apply")) == 0
    out = capsys.readouterr().out
    assert "3 of 3 files moved" in out and not (settings.image_sets / "new" / "same_p03.jpg").exists()
    assert main(suggested(out, "undo")) == 0
    assert "3 of 3 files restored" in capsys.readouterr().out and snapshot(settings.image_sets) == before
    # Applied in the wrong root after all: refused in a folder that is no root (nothing made there), and in
    # another root nothing moves and the likely cause is named.
    assert main(["--root", str(elsewhere), "triage", "--apply", str(tmp_path / "my plan.json")]) == 2
    assert "holds no image_sets/ folder" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []
    (elsewhere / "image_sets" / "new").mkdir(parents=True)
    assert main(["--root", str(elsewhere), "triage", "--apply", str(tmp_path / "my plan.json")]) == 0
    assert "made with another --root?" in capsys.readouterr().err
    assert snapshot(settings.image_sets) == before


def test_dry_run_prints_the_moves_and_writes_nothing(settings, capsys) -> None:
    before = snapshot(settings.image_sets)
    code, out, err = run(settings, capsys, "new", "--dry-run")
    assert code == 0 and "3 files would move (nothing was moved or written)" in err
    moves = [line for line in out.splitlines() if line.startswith("mv -n -- ")]
    assert len(moves) == 3 and any("image_sets/new/big_p05.jpg" in line for line in moves)
    assert snapshot(settings.image_sets) == before and not (settings.root / "quarantine").exists()


def test_keep_overrides_the_suggested_keeper(settings, capsys, tmp_path) -> None:
    plan_file = tmp_path / "plan.json"
    code, _, _ = run(settings, capsys, "new", "--plan", str(plan_file), "--keep", "new/small_p07.jpg")
    assert code == 0
    moves = {(m["set"], m["image"]): m for m in json.loads(plan_file.read_text())["moves"]}
    assert ("coll", "p07.jpg") in moves and ("new", "small_p07.jpg") not in moves
    assert "chosen by you" in moves[("coll", "p07.jpg")]["reason"]


def test_remembered_decisions_leave_pairs_out_and_can_be_undone(settings, capsys, tmp_path) -> None:
    code, out, _ = run(settings, capsys, "--not-duplicate", "new/big_p05.jpg", "coll/p05.jpg")
    assert code == 0 and "Remembered" in out
    decision_id = out.split()[1].rstrip(":")
    code, out, _ = run(settings, capsys, "--keep-both", "new/small_p07.jpg", "coll/p07.jpg")
    data = json.loads(run(settings, capsys, "new", "--format", "json")[1])
    rows = {row["image"]: row for row in data["new"]}
    assert rows["new/big_p05.jpg"]["match"] != "coll/p05.jpg"
    assert rows["new/small_p07.jpg"]["kept_both"] is not None
    assert {g["existing"] for g in data["groups"]} == {"coll/p03.jpg"}
    code, out, _ = run(settings, capsys, "--decisions")
    assert decision_id in out and "not-duplicate" in out and "keep-both" in out
    code, out, _ = run(settings, capsys, "--forget", decision_id)
    assert code == 0
    data = json.loads(run(settings, capsys, "new", "--format", "json")[1])
    assert {row["image"]: row["match"] for row in data["new"]}["new/big_p05.jpg"] == "coll/p05.jpg"


def test_user_errors_say_what_is_wrong(settings, capsys, tmp_path) -> None:
    assert run(settings, capsys)[0] == 2
    code, _, err = run(settings, capsys, "new", "--against", "new")
    assert code == 2 and "both as new photos and as the collection" in err
    code, _, err = run(settings, capsys, "nope")
    assert code == 2 and "nope" in err
    code, _, err = run(settings, capsys, "--undo")
    assert code == 2 and "no applied plan to undo" in err
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    code, _, err = run(settings, capsys, "--apply", str(bad))
    assert code == 2 and "not a SIMages triage plan" in err


def test_the_collection_photo_is_kept_against_every_edited_or_better_looking_copy(tmp_path: Path) -> None:
    """Finding 1 of walk 3: a grayscale, captioned, mirrored, cropped, turned or upscaled copy, a higher
    quality re-encode, a lossless or EXIF-tagged copy must never push the collection's photo out."""
    from PIL import ImageDraw, ImageOps

    from simages.triage.exif import photo_facts
    from simages.triage.keeper import Candidate, suggest_keeper

    image = photo(3, (96, 64))
    original = tmp_path / "original.jpg"
    image.save(original, quality=75)
    os.utime(original, (2_000_000_000, 2_000_000_000))  # the original is not even the earliest file
    captioned = image.copy()
    ImageDraw.Draw(captioned).rectangle((0, 50, 96, 64), fill=(0, 0, 0))
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    edits = {
        "gray.jpg": (ImageOps.grayscale(image).convert("RGB"), {"quality": 95}),
        "caption.jpg": (captioned, {"quality": 95}),
        "mirror.jpg": (ImageOps.mirror(image), {"quality": 95}),
        "crop.jpg": (image.crop((10, 5, 90, 60)), {"quality": 95}),
        "turned.jpg": (image.rotate(90, expand=True), {"quality": 95}),
        "upscaled.jpg": (image.resize((192, 128)), {"quality": 90}),
        "requality.jpg": (image, {"quality": 98}),
        "tagged.jpg": (image, {"quality": 75, "exif": exif}),
        "lossless.png": (image.resize((144, 96)), {}),
    }
    for name, (edited, options) in edits.items():
        edited.save(tmp_path / name, **options)
    facts = {name: photo_facts(tmp_path / name) for name in [*edits, "original.jpg"]}
    for name in edits:
        group = [Candidate("coll/original.jpg", facts["original.jpg"], True),
                 Candidate(f"new/{name}", facts[name], False)]
        for order in (group, group[::-1]):
            choice = suggest_keeper(order)
            assert choice.keeper == "coll/original.jpg", name
            assert choice.reason == "in the collection"
    everything = [Candidate(f"new/{name}", facts[name], False) for name in edits]
    choice = suggest_keeper([*everything, Candidate("coll/original.jpg", facts["original.jpg"], True)])
    assert choice.keeper == "coll/original.jpg"


def test_keeper_rule_among_new_copies_prefers_quality_then_metadata_then_date(tmp_path: Path) -> None:
    from simages.triage.exif import photo_facts
    from simages.triage.keeper import Candidate, suggest_keeper

    image = photo(1, (96, 64))
    high, low = tmp_path / "high.jpg", tmp_path / "low.jpg"
    image.save(high, quality=95)
    image.save(low, quality=40)
    choice = suggest_keeper([Candidate("s/low.jpg", photo_facts(low), False),
                             Candidate("s/high.jpg", photo_facts(high), False)])
    assert choice.keeper == "s/high.jpg" and "JPEG quality ~95" in choice.reason
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 5D"
    exif.get_ifd(0x8769)[0x9003] = "2020:01:02 03:04:05"
    tagged = tmp_path / "tagged.jpg"
    image.save(tagged, quality=95, exif=exif)
    facts = photo_facts(tagged)
    assert facts.camera == "Canon EOS 5D" and facts.taken == "2020-01-02 03:04:05"
    choice = suggest_keeper([Candidate("s/high.jpg", photo_facts(high), False),
                             Candidate("s/tagged.jpg", facts, False)])
    assert choice.keeper == "s/tagged.jpg" and "most metadata" in choice.reason
    # Same pixels, quality and tags: the earliest date wins, file size never decides on its own.
    older = tmp_path / "older.jpg"
    shutil.copyfile(high, older)
    os.utime(older, (1_000_000_000, 1_000_000_000))
    choice = suggest_keeper([Candidate("s/high.jpg", photo_facts(high), False),
                             Candidate("s/older.jpg", photo_facts(older), False)])
    assert choice.keeper == "s/older.jpg" and "earliest" in choice.reason


def test_copies_among_the_new_photos_are_reported(settings, capsys) -> None:
    new = settings.image_sets / "new"
    store = load_store(settings.store_path("new"))
    shutil.copyfile(new / "fresh_1.jpg", new / "fresh_1 again.jpg")
    row = store.names.index("fresh_1.jpg")
    write_store(settings, "new", [*store.names, "fresh_1 again.jpg"],
                np.vstack([store.vectors, store.vectors[row]]))
    data = json.loads(run(settings, capsys, "new", "--format", "json")[1])
    assert data["within_new"] == [["new/fresh_1 again.jpg", "new/fresh_1.jpg"]]
    assert data["headline"].endswith("2 new photos are copies of each other (1 group)")
    code, out, _ = run(settings, capsys, "new")
    assert code == 0 and "Copies among the new photos (1 group;" in out
    assert "new/fresh_1 again.jpg, new/fresh_1.jpg" in out


@pytest.mark.parametrize(("levels", "headline"), [
    (["new", "new"], "None of the 2 new photos is already in your collection; 2 are new"),
    (["new"], "The new photo is not in your collection; 1 is new"),
    (["look-alike", "new"], "None of the 2 new photos is already in your collection; 1 is a look-alike "
                            "(not copies); 1 is new"),
    (["edited", "new"], "1 of 2 new photos is already in your collection (0 exact, 1 edited); 1 is new"),
])
def test_the_headline_says_none_in_words(levels, headline) -> None:
    """'0 of 2 new photos are already in your collection (0 exact, 0 edited)' made a reader count zeros."""
    from simages.copies.levels import Level
    from simages.operations.triage import TriageAnswer, TriageRow

    rows = [TriageRow(f"new/p{i}.jpg", Level(level), None, None) for i, level in enumerate(levels)]
    assert TriageAnswer(("new",), ("coll",), rows, []).headline() == headline


def test_an_exact_only_plan_moves_only_files_with_the_same_pixels(settings, capsys, tmp_path) -> None:
    """Finding 2 of walk 3: an upscaled copy scoring as high as an exact one (here: the very same stored
    descriptor) was called an exact copy and an exact-only plan moved it, with the collection's original.
    Exact is the same pixels: byte-identical or the same decoded pixels; anything else is edited."""
    new = settings.image_sets / "new"
    coll = settings.image_sets / "coll"
    store = load_store(settings.store_path("new"))
    with Image.open(coll / "p03.jpg") as original:
        original.resize((192, 128)).save(new / "up_p03.jpg", quality=95)  # an upscale: not the same pixels
        original.save(new / "lossless_p03.png")  # the same decoded pixels in another file: exact
    row = store.names.index("same_p03.jpg")
    write_store(settings, "new", [*store.names, "up_p03.jpg", "lossless_p03.png"],
                np.vstack([store.vectors, store.vectors[row], store.vectors[row]]))
    data = json.loads(run(settings, capsys, "new", "--format", "json")[1])
    levels = {row["image"]: row["level"] for row in data["new"]}
    assert levels["new/same_p03.jpg"] == "exact" and levels["new/lossless_p03.png"] == "exact"
    assert levels["new/up_p03.jpg"] == "edited"
    plan_file = tmp_path / "exact.json"
    code, _, _ = run(settings, capsys, "new", "--plan", str(plan_file), "--levels", "exact")
    assert code == 0
    moves = {(m["set"], m["image"]): m for m in json.loads(plan_file.read_text())["moves"]}
    assert set(moves) == {("new", "same_p03.jpg"), ("new", "lossless_p03.png")}
    assert all(m["level"] == "exact" and m["reason"].startswith("Exact copy of coll/p03.jpg")
               for m in moves.values())
    out = run(settings, capsys, "new")[1]  # the group's line says which copy is which
    assert "new/same_p03.jpg (exact copy)" in out and "new/up_p03.jpg (edited copy)" in out
    code, _, _ = run(settings, capsys, "new", "--plan", str(plan_file))  # exact and edited
    moves = {(m["set"], m["image"]): m for m in json.loads(plan_file.read_text())["moves"]}
    assert moves[("new", "up_p03.jpg")]["level"] == "edited"
    assert moves[("new", "up_p03.jpg")]["reason"].startswith("Edited copy of coll/p03.jpg")
    assert ("coll", "p03.jpg") not in moves


def test_a_mistyped_set_name_gets_a_suggestion_as_in_the_other_commands(settings, capsys) -> None:
    """Finding 14 of walk 3: `simages triage inbx` said only that there is no such set."""
    code, _, err = run(settings, capsys, "nwe")
    assert code == 2 and "there is no image set 'nwe'" in err and "did you mean 'new'?" in err
    code, _, err = run(settings, capsys, "new", "--against", "col")
    assert code == 2 and "there is no image set 'col'" in err and "did you mean 'coll'?" in err


def test_the_answer_says_how_well_the_threshold_works_on_the_users_photos(settings, capsys) -> None:
    # As `simages duplicates` and the pages do: the table and the JSON carry the calibration's status.
    code, out, _ = run(settings, capsys, "new", "--against", "coll")
    assert code == 0
    assert "threshold works on your own photos" in out or "Threshold 0.5, tested on" in out
    code, out, _ = run(settings, capsys, "new", "--format", "json")
    assert code == 0
    calibration = json.loads(out)["calibration"]
    assert calibration["state"] in ("measured", "absent", "small", "running") and calibration["sentence"]


def _gray(image: Image.Image) -> Image.Image:
    return image.convert("L")


@pytest.mark.parametrize(("name", "make", "options", "colour"), [
    ("colour.jpg", lambda im: im, {"quality": 60}, "colour (RGB)"),
    ("colour.png", lambda im: im.convert("P"), {}, "colour (P)"),
    ("gray.jpg", _gray, {"quality": 90}, "grayscale (L)"),
    ("gray_rgb.jpg", lambda im: _gray(im).convert("RGB"), {"quality": 60}, "grayscale, stored as RGB"),
    ("gray_rgb_q95.jpg", lambda im: _gray(im).convert("RGB"), {"quality": 95}, "grayscale, stored as RGB"),
    ("gray_rgb.png", lambda im: _gray(im).convert("RGB"), {}, "grayscale, stored as RGB"),
    ("gray_alpha.png", lambda im: _gray(im).convert("LA"), {}, "grayscale (LA)"),
    ("bw.png", lambda im: im.convert("1"), {}, "black and white (1-bit)"),
])
def test_the_colour_fact_tells_a_grayscale_copy_however_it_is_stored(tmp_path, name, make, options, colour):
    """Walk 3: a grayscale copy was invisible in `triage --compare` (no colour row); whatever its mode."""
    from simages.triage.exif import differences, photo_facts

    make(photo(9, (96, 64))).save(tmp_path / name, **options)
    photo(9, (96, 64)).save(tmp_path / "original.jpg", quality=75)
    facts = photo_facts(tmp_path / name)
    assert facts.colour == colour and facts.rows()["colour"] == colour
    assert (facts.width, facts.height) == (96, 64)  # read before the reduced decoding
    differs = "colour" in differences(facts, photo_facts(tmp_path / "original.jpg"))
    assert differs == (colour != "colour (RGB)")


def test_compare_has_a_colour_row_that_marks_a_grayscale_copy(settings, capsys) -> None:
    new = settings.image_sets / "new"
    store = load_store(settings.store_path("new"))
    photo(9, (96, 64)).convert("L").save(new / "gray_p09.jpg", quality=90)
    coll = load_store(settings.store_path("coll"))
    write_store(settings, "new", [*store.names, "gray_p09.jpg"],
                np.vstack([store.vectors, edited(coll.vectors[coll.names.index("p09.jpg")], 9)]))
    code, out, _ = run(settings, capsys, "new", "--compare")
    assert code == 0
    rows = [line for line in out.splitlines() if line.lstrip(" *").startswith("colour ")]
    assert any(line.strip().startswith("*") and "grayscale (L)" in line and "colour (RGB)" in line
               for line in rows), out
