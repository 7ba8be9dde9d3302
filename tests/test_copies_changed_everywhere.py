"""What changed in a copy is said alike in every view, however its key arrived: a turned copy is
"inbox/turned.jpg is archive/rocket.jpg turned 90° counter-clockwise" and a mirrored one "mirrored" in
`simages duplicates`, `query` (a stored key and an upload), and `triage` -- the geometry comes from the
pair's keypoints (simages.copies.verification), not only from a search of the key's turns, which a stored
upright descriptor never had. The descriptors are planted (the turned copy's is far from its original's,
as a stored upright descriptor of a turned photo is); the images are real photos the repository ships, so
only their keypoints can tell."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from simages.cli import main
from simages.settings import Settings
from tests.planted import run_json, write_store

DEMO = Path(__file__).resolve().parents[1] / "image_sets" / "demo"
TURNED, MIRRORED = "turned 90° counter-clockwise", "mirrored"
SAID = f"inbox/turned.jpg is archive/rocket.jpg {TURNED}"  # the copy's edit, from the copy's side


@pytest.fixture
def settings(tmp_path):
    settings = Settings(root=tmp_path)
    rng = np.random.default_rng(5)
    base = np.abs(rng.standard_normal((3, 64))).astype(np.float32) ** 3
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    archive, inbox = settings.image_sets / "archive", settings.image_sets / "inbox"
    archive.mkdir(parents=True)
    inbox.mkdir(parents=True)
    shutil.copy(DEMO / "people" / "astronaut.jpg", archive / "astronaut.jpg")
    shutil.copy(DEMO / "space" / "rocket.jpg", archive / "rocket.jpg")
    with Image.open(DEMO / "people" / "astronaut.jpg") as image:
        ImageOps.mirror(image.convert("RGB")).save(inbox / "mirrored.jpg", quality=90)
    with Image.open(DEMO / "space" / "rocket.jpg") as image:  # turned a quarter turn counter-clockwise
        image.convert("RGB").transpose(Image.Transpose.ROTATE_90).save(inbox / "turned.jpg", quality=90)
    shutil.copy(DEMO / "people" / "cameraman.jpg", inbox / "cameraman.jpg")  # not in the archive
    write_store(settings, "archive", ["astronaut.jpg", "rocket.jpg"], base[:2])
    near = np.abs(base[0] * (1 + 0.05 * rng.standard_normal(64))).astype(np.float32)
    other = -base[0] - base[1]  # scores below zero with both archive photos: new
    write_store(settings, "inbox", ["cameraman.jpg", "mirrored.jpg", "turned.jpg"],
                np.vstack([other / np.linalg.norm(other), near / np.linalg.norm(near),
                           base[2]]))  # the turned copy scores low
    return settings


def said(changed: str) -> tuple[bool, bool]:
    return TURNED in changed, MIRRORED in changed


def test_simages_duplicates_says_the_turn_and_the_mirror_its_keypoints_found(settings, capsys):
    data = run_json(settings, capsys, "duplicates", "inbox", "archive")
    changed = {(p["a"], p["b"]): p.get("changed", "") for p in data["pairs"]}
    assert said(changed["inbox/turned.jpg", "archive/rocket.jpg"]) == (True, False)
    assert said(changed["inbox/mirrored.jpg", "archive/astronaut.jpg"]) == (False, True)
    code = main(["--root", str(settings.root), "duplicates", "inbox", "archive"])
    out = capsys.readouterr().out
    assert code == 0 and SAID in out and "different aspect" not in out


def test_a_stored_key_query_says_what_an_upload_of_the_same_file_says(settings, capsys):
    from simages.copies.changes import image_facts
    from simages.nearest.sets.cache import DescriptorCache
    from simages.operations.query import QueryRequest, VectorKey, run_query

    stored = run_json(settings, capsys, "query", "inbox/turned.jpg", "--set", "archive", "--intent",
                      "duplicates")
    assert [(r["name"], r["level"]) for r in stored["results"]] == [("archive/rocket.jpg", "edited")]
    assert said(stored["results"][0]["changed"]) == (True, False)
    assert f"the key is rocket.jpg {TURNED}" in stored["results"][0]["changed"]
    # The same file uploaded: its kept preview is verified, its descriptor as stored (no turns searched).
    path = settings.image_sets / "inbox" / "turned.jpg"
    preview = io.BytesIO()
    with Image.open(path) as image:
        image.convert("RGB").save(preview, "JPEG", quality=90)
    facts = image_facts(path)
    data = path.read_bytes()
    upload_facts = type(facts)(facts.width, facts.height, facts.format, facts.bytes, None,
                               hashlib.sha256(data).hexdigest(), preview.getvalue())
    cache = DescriptorCache()
    vector = cache.get(settings, "inbox").raw_vector("turned.jpg")
    key = VectorKey("upload:turned.jpg", vector, None, upload_facts)
    answer = run_query(QueryRequest(key, "archive", intent="duplicates"), settings, cache)
    assert [(m.image, answer.levels[m.image].value) for m in answer.result.matches] == [("rocket.jpg",
                                                                                          "edited")]
    upload = "; ".join(change.text for change in answer.changes["rocket.jpg"])
    assert said(upload) == (True, False)
    mirrored = run_json(settings, capsys, "query", "inbox/mirrored.jpg", "--set", "archive", "--intent",
                        "duplicates")
    assert said(mirrored["results"][0]["changed"]) == (False, True)


def test_triage_says_the_turn_and_the_mirror_its_keypoints_found(settings, capsys):
    data = run_json(settings, capsys, "triage", "inbox", "--against", "archive")
    rows = {row["image"]: row for row in data["new"]}
    assert rows["inbox/turned.jpg"]["match"] == "archive/rocket.jpg"
    assert said(rows["inbox/turned.jpg"]["changed"]) == (True, False)
    assert said(rows["inbox/mirrored.jpg"]["changed"]) == (False, True)


@pytest.mark.parametrize("turn", [Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180,
                                  Image.Transpose.ROTATE_270])
def test_a_mirrored_and_turned_copy_is_described_by_its_homography(tmp_path, turn):
    from simages.copies.changes import FactsCache, changes_between, describe
    from simages.copies.verification import LocalFeatureCache

    original = tmp_path / "original.jpg"
    shutil.copy(DEMO / "people" / "astronaut.jpg", original)
    copy = tmp_path / "copy.png"  # lossless: the pixels say "mirrored" only when the turn is right
    with Image.open(original) as image:
        ImageOps.mirror(image.convert("RGB")).transpose(turn).save(copy)
    verification = LocalFeatureCache().verify(copy, original)
    assert verification.is_copy and verification.mirrored
    cache = FactsCache()
    text = describe(changes_between(cache.facts(copy), cache.facts(original), verification=verification,
                                    cache=cache, names=("copy.png", "original.jpg")))
    # The copy is the original mirrored, then turned as PIL's transpose turned it (ROTATE_90: a quarter
    # turn counter-clockwise); said once, in that order.
    how = {Image.Transpose.ROTATE_90: "turned 90° counter-clockwise",
           Image.Transpose.ROTATE_180: "turned upside down (180°)",
           Image.Transpose.ROTATE_270: "turned 90° clockwise"}[turn]
    assert f"copy.png is original.jpg mirrored, then {how}" in text and "edited" not in text, text
    assert text.count("mirrored") == 1, text


@pytest.mark.parametrize(("edit", "how"), [
    (lambda image: image.rotate(270, expand=True), "turned 90° clockwise"),  # walk 5's copy
    (lambda image: image.rotate(90, expand=True), "turned 90° counter-clockwise"),  # walk 4's copy
    (lambda image: image.transpose(Image.Transpose.ROTATE_270), "turned 90° clockwise"),
    (lambda image: image.transpose(Image.Transpose.ROTATE_180), "turned upside down (180°)"),
], ids=["rotate270", "rotate90", "ROTATE_270", "ROTATE_180"])
def test_a_turned_copy_is_said_with_the_direction_it_was_turned(tmp_path, edit, how):
    """PIL turns counter-clockwise (rotate(270) and transpose(ROTATE_270) are a quarter turn clockwise):
    the copy is said to be the original turned the way it was, not by the turn that restores it, and a
    sideways copy is not "same size" as if nothing had turned (walk 5: "turned 90°" for a clockwise turn,
    "same size" for 256x384 vs 384x256)."""
    from simages.copies.changes import FactsCache, changes_between, describe
    from simages.copies.verification import LocalFeatureCache

    original = tmp_path / "rocket.jpg"
    shutil.copy(DEMO / "space" / "rocket.jpg", original)
    copy = tmp_path / "copy.png"  # lossless: only the turn changed
    with Image.open(original) as image:
        edit(image.convert("RGB")).save(copy)
        width, height = image.size
    verification = LocalFeatureCache().verify(copy, original)
    assert verification.is_copy and not verification.mirrored
    cache = FactsCache()
    text = describe(changes_between(cache.facts(copy), cache.facts(original), verification=verification,
                                    cache=cache, names=("inbox/copy.png", "archive/rocket.jpg")))
    assert text.startswith(f"inbox/copy.png is archive/rocket.jpg {how}"), text
    assert "mirrored" not in text and "edited" not in text, text
    sideways = "upside down" not in how
    assert ("same size, turned (" in text) == sideways, text
    if sideways:
        assert f"({height}×{width} vs {width}×{height})" in text, text


def test_triage_says_which_copies_its_new_photos_can_hide_and_not_those_it_finds(settings, capsys):
    code = main(["--root", str(settings.root), "triage", "inbox", "--against", "archive"])
    out = capsys.readouterr().out
    assert code == 0
    heading = next(line for line in out.splitlines() if line.startswith("New (1):"))
    assert "inbox/turned.jpg" in out.split("New (1):")[0]  # the turned copy is found, above "New"
    assert "sideways" not in heading and "screenshot" not in heading and "collage" not in heading
    assert "blurred" in heading and "thumbnail" in heading
    lines = out.splitlines()
    row = next(number for number, line in enumerate(lines) if "inbox/turned.jpg  ==" in line)
    assert lines[row + 1].strip().startswith(f"changed: {SAID}"), lines[row + 1]  # as `duplicates` says
    code = main(["--root", str(settings.root), "triage", "inbox", "--against", "archive", "--compare"])
    out = capsys.readouterr().out
    assert code == 0 and "archive/rocket.jpg: in the collection" in out
    assert "inbox/turned.jpg: Edited copy: " in out and TURNED in out.split("inbox/turned.jpg: ")[1]


async def test_the_triage_page_shows_each_copys_score_and_what_changed(settings):
    from tests.gui_fixtures import FakeManager, gui_app

    manager = FakeManager(settings)
    for name in ("archive", "inbox"):
        manager.set(name, state="indexed")
    async with gui_app(settings, manager) as (_, user):
        await user.open("/triage?new=inbox&against=archive")
        await user.should_see(marker="triage-group", retries=50)
        await user.should_see(TURNED, retries=50)  # said once the pixels are read, after the cards
        members = [element.text for element in user.find(marker="member-level").elements]
        turned = next(text for text in members if TURNED in text)
        assert turned.startswith("Edited copy: 0.") and "different aspect" not in turned
        assert any(MIRRORED in text for text in members)
        user.find(marker="bucket-edited").click()
        await user.should_see(marker="tile-summary", retries=20)
        tiles = [element.text for element in user.find(marker="tile-summary").elements]
        assert any(TURNED in text for text in tiles) and any(MIRRORED in text for text in tiles)
        said = []
        for number in range(len(user.find(marker="triage-group").elements)):
            user.find(marker=f"compare-{number}").click()
            await user.should_see(marker="triage-compare", retries=20)
            table = user.find(marker="triage-compare").elements.pop()
            said.append(next(row for row in table.rows if row["fact"] == "copy"))
        assert all("in the collection" in what.values() for what in said)
        assert any(TURNED in str(text) for what in said for text in what.values())


async def test_the_join_page_says_the_turn_and_the_mirror_its_keypoints_found(settings):
    """/join of the new photos against the archive lists the turned copy (below the threshold, found by its
    keypoints) and says what changed as `simages duplicates` does, from the join's own keypoint check."""
    from tests.gui_fixtures import FakeManager, gui_app

    manager = FakeManager(settings)
    manager.set("archive", state="indexed", count=2)
    manager.set("inbox", state="indexed", count=3)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=inbox&b=archive&intent=duplicates")
        await user.should_see(marker="pair:turned.jpg|archive/rocket.jpg", retries=100)
        said = {}
        for name in ("turned.jpg|archive/rocket.jpg", "mirrored.jpg|archive/astronaut.jpg"):
            (card,) = user.find(marker=f"pair:{name}").elements
            said[name] = [e.text for e in card.descendants() if "pair-changed" in e._markers]
        assert said["turned.jpg|archive/rocket.jpg"][0].startswith(f"changed: {SAID}")
        assert MIRRORED in said["mirrored.jpg|archive/astronaut.jpg"][0]


@pytest.fixture(scope="module")
def framings(tmp_path_factory):
    """The rocket photo and copies of it: things added around it (a screenshot's window, a caption bar, a
    collage beside another photo), a half of it, and a third of its size (walk 5's edits)."""
    folder = tmp_path_factory.mktemp("framings")
    original = folder / "rocket.jpg"
    shutil.copy(DEMO / "space" / "rocket.jpg", original)
    with Image.open(original) as image, Image.open(DEMO / "people" / "astronaut.jpg") as other:
        photo = image.convert("RGB")
        frame = Image.new("RGB", (photo.width + 160, photo.height + 200), (230, 230, 230))
        frame.paste((40, 60, 120), (0, 0, frame.width, 50))
        frame.paste(photo, (80, 90))
        frame.save(folder / "screenshot.png")
        caption = Image.new("RGB", (photo.width, photo.height + 50), (0, 0, 0))
        caption.paste(photo, (0, 0))
        caption.save(folder / "caption.jpg", quality=92)
        collage = Image.new("RGB", (photo.width * 2, photo.height))
        collage.paste(photo, (0, 0))
        collage.paste(other.convert("RGB").resize(photo.size), (photo.width, 0))
        collage.save(folder / "collage.jpg", quality=92)
        photo.crop((0, 0, photo.width // 2, photo.height)).save(folder / "half.jpg", quality=92)
        photo.resize((photo.width // 3, photo.height // 3)).save(folder / "small.jpg", quality=85)
    return original


@pytest.mark.parametrize(("copy", "said"), [
    ("screenshot.png", "framed: rocket.jpg fills "),
    ("caption.jpg", "framed: rocket.jpg fills "),
    ("collage.jpg", "framed: rocket.jpg fills 50% of collage.jpg"),
    ("half.jpg", "cropped: half.jpg is part of rocket.jpg (50% of it"),
    ("small.jpg", "small.jpg is smaller"),
])
def test_a_copy_with_something_added_around_is_framed_and_a_part_is_cropped(framings, copy, said):
    """Something added around the photo (a screenshot, a caption, a collage) is "framed", with the share
    of the copy the photo fills, whichever finds it (the pixels or the keypoints' homography); "cropped"
    is kept for a copy that is a part of the photo, and a resized copy is neither (walk 5: a caption and a
    collage were "cropped: ... is part of the other")."""
    from simages.copies.changes import FactsCache, changes_between, describe
    from simages.copies.verification import LocalFeatureCache

    path = framings.parent / copy
    verification = LocalFeatureCache().verify(path, framings)
    assert verification.is_copy
    cache = FactsCache()
    text = describe(changes_between(cache.facts(path), cache.facts(framings), verification=verification,
                                    cache=cache, names=(copy, "rocket.jpg")))
    assert text.startswith(said) or f"; {said}" in text, text
    assert "the other" not in text and "different aspect" not in text, text
    if said.startswith("framed"):
        assert "cropped" not in text and "a caption, a screenshot or a collage around it)" in text, text
    if copy == "small.jpg":
        assert "cropped" not in text and "framed" not in text, text
