"""A pair its descriptors call a copy but whose images are two different photos (burst frames, look-alikes
of a small collection) is a look-alike in every view: `simages duplicates`, `join`, `query`, `triage`,
the app's join (pairs, groups, download) -- and a real edited copy stays an edited copy. The descriptors
are planted (the stored vectors of the look-alike equal the original's, up to noise); the images are real
photos the repository ships, so only their keypoints can tell."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from simages.cli import main
from simages.settings import Settings
from tests.planted import run_json, write_store

STAR_NOTE = "* scored below the threshold, but one of the new photo's nearest and a copy by its keypoints"

DEMO = Path(__file__).resolve().parents[1] / "image_sets" / "demo"


@pytest.fixture
def settings(tmp_path):
    settings = Settings(root=tmp_path)
    rng = np.random.default_rng(3)
    base = np.abs(rng.standard_normal((3, 64))).astype(np.float32) ** 3

    def near(vector):
        noisy = np.abs(vector * (1 + 0.2 * rng.standard_normal(64))).astype(np.float32)
        return noisy / np.linalg.norm(noisy)

    archive, inbox = settings.image_sets / "archive", settings.image_sets / "inbox"
    archive.mkdir(parents=True)
    inbox.mkdir(parents=True)
    shutil.copy(DEMO / "people" / "astronaut.jpg", archive / "astronaut.jpg")
    shutil.copy(DEMO / "space" / "rocket.jpg", archive / "rocket.jpg")
    with Image.open(DEMO / "people" / "astronaut.jpg") as image:
        ImageOps.mirror(image.convert("RGB")).resize((384, 384)).save(inbox / "mirrored.jpg", quality=85)
    shutil.copy(DEMO / "people" / "cameraman.jpg", inbox / "cameraman.jpg")  # another photo
    with Image.open(DEMO / "space" / "rocket.jpg") as image:  # a turned copy its descriptor misses
        image.convert("RGB").transpose(Image.Transpose.ROTATE_90).save(inbox / "turned.jpg", quality=90)
    unit = base[:2] / np.linalg.norm(base[:2], axis=1, keepdims=True)
    write_store(settings, "archive", ["astronaut.jpg", "rocket.jpg"], unit)
    # Both inbox photos score as copies of the astronaut; only the mirrored one is.
    far = np.abs(rng.standard_normal(64)).astype(np.float32) ** 3
    both = np.vstack([near(base[0]), near(base[0]), far / np.linalg.norm(far)])
    write_store(settings, "inbox", ["cameraman.jpg", "mirrored.jpg", "turned.jpg"], both)
    return settings


def test_simages_duplicates_calls_the_other_photo_a_look_alike_and_never_groups_it(settings, capsys):
    data = run_json(settings, capsys, "duplicates", "inbox", "archive")
    levels = {(p["a"], p["b"]): p["level"] for p in data["pairs"]}
    assert all(p["score"] < 0.9999 for p in data["pairs"])  # scores of edited copies, not of the same pixels
    assert levels == {("inbox/cameraman.jpg", "archive/astronaut.jpg"): "look-alike",
                      ("inbox/mirrored.jpg", "archive/astronaut.jpg"): "edited",
                      # scored below the threshold, but one of the new photo's nearest and proved by keypoints
                      ("inbox/turned.jpg", "archive/rocket.jpg"): "edited"}
    assert data["groups"] == [["archive/astronaut.jpg", "inbox/mirrored.jpg"],
                              ["archive/rocket.jpg", "inbox/turned.jpg"]]


def test_simages_join_with_the_duplicates_intent_says_the_same_levels(settings, capsys):
    data = run_json(settings, capsys, "join", "inbox", "archive", "--intent", "duplicates")
    levels = {(p["a"], p["b"]): p["level"] for p in data["pairs"]}
    assert levels["inbox/cameraman.jpg", "archive/astronaut.jpg"] == "look-alike"
    assert levels["inbox/mirrored.jpg", "archive/astronaut.jpg"] == "edited"


def test_a_duplicates_query_answers_no_duplicate_when_only_look_alikes_pass(settings, capsys):
    data = run_json(settings, capsys, "query", "inbox/cameraman.jpg", "--set", "archive", "--intent",
                    "duplicates")
    assert [(r["name"], r["level"]) for r in data["results"]] == [("archive/astronaut.jpg", "look-alike")]
    code = main(["--root", str(settings.root), "query", "inbox/cameraman.jpg", "--set", "archive",
                 "--intent", "duplicates"])
    out = capsys.readouterr().out
    assert code == 0
    assert "No duplicate of this photo in archive" in out
    assert "Look-alike" in out
    copy = run_json(settings, capsys, "query", "inbox/mirrored.jpg", "--set", "archive", "--intent",
                    "duplicates")
    assert [(r["name"], r["level"]) for r in copy["results"]] == [("archive/astronaut.jpg", "edited")]


def test_triage_moves_the_copy_and_keeps_the_other_photo(settings, capsys):
    data = run_json(settings, capsys, "triage", "inbox", "--against", "archive")
    rows = {row["image"]: row for row in data["new"]}
    assert rows["inbox/mirrored.jpg"]["level"] == "edited"
    assert rows["inbox/cameraman.jpg"]["level"] == "look-alike"
    # Among its nearest collection photos, the turned copy's keypoints prove it is the rocket.
    assert (rows["inbox/turned.jpg"]["level"], rows["inbox/turned.jpg"]["match"]) == ("edited",
                                                                                      "archive/rocket.jpg")


def test_the_apps_join_gives_each_pair_the_same_level_and_groups_copies_only(settings):
    from simages.jobs.join_runner import DONE, JoinRequest, JoinRunner, run_join
    from simages.nearest.core.intents import DUPLICATES
    from simages.nearest.core.query_spec import QuerySpec
    from simages.nearest.duplicates.exact import duplicate_threshold
    from simages.nearest.sets.cache import DescriptorCache

    runner = JoinRunner(settings, DescriptorCache())
    threshold = duplicate_threshold("cosine", DescriptorCache().get(settings, "archive", DUPLICATES))
    spec = QuerySpec.parse("cosine", "range", str(threshold), expand=False)  # as `simages duplicates`
    job = run_join(runner, JoinRequest("inbox", ("archive",), spec, "duplicates"), timeout=60)
    assert job.state == DONE, job.error
    outcome = job.outcome
    levels = {(p.a, p.b): level.value for p, level in zip(outcome.pairs.pairs, outcome.levels, strict=True)}
    assert levels == {("cameraman.jpg", "astronaut.jpg"): "look-alike",
                      ("mirrored.jpg", "astronaut.jpg"): "edited",
                      # below the threshold: one of the new photo's nearest, proved by its keypoints
                      ("turned.jpg", "rocket.jpg"): "edited"}
    assert outcome.groups == [["archive/astronaut.jpg", "inbox/mirrored.jpg"],
                              ["archive/rocket.jpg", "inbox/turned.jpg"]]


def test_the_apps_join_shows_its_pairs_before_their_keypoints_are_checked(settings, monkeypatch):
    import threading

    from simages.jobs import join_runner
    from simages.jobs.join_runner import DONE, JoinRequest, JoinRunner
    from simages.nearest.core.query_spec import QuerySpec
    from simages.nearest.sets.cache import DescriptorCache

    release, entered = threading.Event(), threading.Event()
    checked = join_runner.join_pair_levels

    def slow_check(*args, **kwargs):
        entered.set()
        release.wait(30)
        return checked(*args, **kwargs)

    monkeypatch.setattr(join_runner, "join_pair_levels", slow_check)
    runner = JoinRunner(settings, DescriptorCache())
    job = runner.start(JoinRequest("inbox", ("archive",), QuerySpec.parse("cosine", "range", "0.5"),
                                   "duplicates"))
    assert entered.wait(30)  # the keypoints are being checked: the pairs are already out
    assert job.state == DONE and job.outcome.checking
    assert job.outcome.levels is None and job.outcome.groups == [] and job.outcome.pairs.pairs
    release.set()
    assert job.wait(30)
    assert not job.outcome.checking and len(job.outcome.levels) == len(job.outcome.pairs.pairs)
    assert ["archive/astronaut.jpg", "inbox/mirrored.jpg"] in job.outcome.groups


def test_the_duplicates_table_marks_a_copy_found_below_the_threshold(settings, capsys):
    code = main(["--root", str(settings.root), "duplicates", "inbox", "archive"])
    out = capsys.readouterr().out
    assert code == 0
    turned = next(line for line in out.splitlines() if "inbox/turned.jpg  archive/rocket.jpg" in line)
    assert "Edited copy" in turned and turned.endswith(" *")
    assert STAR_NOTE in out
    # The headline counts it as the join and the triage do (walk 5: only the join's did).
    headline = next(line for line in out.splitlines() if " in " in line and "group" in line)
    assert "; of them, 1 copy below the threshold, found by its keypoints, marked *)" in headline


def test_a_duplicates_query_finds_a_copy_its_score_misses_among_the_keys_nearest(settings, capsys):
    data = run_json(settings, capsys, "query", "inbox/turned.jpg", "--set", "archive", "--intent",
                    "duplicates")
    assert [(r["name"], r["level"]) for r in data["results"]] == [("archive/rocket.jpg", "edited")]
    assert data["results"][0]["score"] < 0.9  # below the (unwhitened) threshold of this small collection
    other = run_json(settings, capsys, "query", "inbox/cameraman.jpg", "--set", "archive", "--intent",
                     "duplicates")
    assert [r["name"] for r in other["results"]] == ["archive/astronaut.jpg"]  # no nearest is proved a copy


def test_a_join_that_lists_a_low_scored_copy_gives_it_the_level_duplicates_gives(settings, capsys):
    from simages.jobs.join_runner import DONE, JoinRequest, JoinRunner, run_join
    from simages.nearest.core.query_spec import QuerySpec
    from simages.nearest.sets.cache import DescriptorCache

    data = run_json(settings, capsys, "join", "inbox", "archive", "--intent", "duplicates",
                    "--threshold", "0.0001")
    levels = {(p["a"], p["b"]): p["level"] for p in data["pairs"]}
    assert levels["inbox/turned.jpg", "archive/rocket.jpg"] == "edited"
    assert levels["inbox/cameraman.jpg", "archive/astronaut.jpg"] == "look-alike"
    runner = JoinRunner(settings, DescriptorCache())
    request = JoinRequest("inbox", ("archive",), QuerySpec.parse("cosine", "range", "0.0001"), "duplicates")
    job = run_join(runner, request, timeout=60)
    assert job.state == DONE, job.error
    outcome = job.outcome
    app = {(p.a, p.b): level.value for p, level in zip(outcome.pairs.pairs, outcome.levels, strict=True)}
    assert app["turned.jpg", "rocket.jpg"] == "edited"
    assert app["cameraman.jpg", "astronaut.jpg"] == "look-alike"


def test_a_query_table_says_why_a_low_scored_copy_is_listed(settings, capsys):
    code = main(["--root", str(settings.root), "query", "inbox/turned.jpg", "--set", "archive",
                 "--intent", "duplicates"])
    out = capsys.readouterr().out
    assert code == 0
    row = next(line for line in out.splitlines() if "rocket.jpg" in line)
    assert "Edited copy" in row and row.endswith(" *")
    assert "* scored below the threshold, but one of the key's nearest and a copy by its keypoints" in out
    # It is listed, but it did not pass: the count says so.
    assert "Passed: 0 of 2; 1 copy below the threshold, found by its keypoints (marked *)" in out


def _app_join(settings, a, bs, param):
    from simages.jobs.join_runner import DONE, JoinRequest, JoinRunner, run_join
    from simages.nearest.core.query_spec import QuerySpec
    from simages.nearest.sets.cache import DescriptorCache

    runner = JoinRunner(settings, DescriptorCache())
    spec = QuerySpec.parse("cosine", "range", param, expand=False)
    job = run_join(runner, JoinRequest(a, bs, spec, "duplicates"), timeout=60)
    assert job.state == DONE, job.error
    return job.outcome


@pytest.mark.parametrize("threshold", [None, "0.0001"])
def test_the_same_pair_gets_the_same_level_in_every_view(settings, capsys, threshold):
    """`simages duplicates A B`, `simages join A B --intent duplicates` (JSON and table) and the app's
    /join list the same pairs with the same levels, copies below the threshold included (walk 4: /join
    listed 2 of 7 copies the CLI found), at the default threshold and at one that keeps every pair."""
    chosen = [] if threshold is None else ["--threshold", threshold]
    duplicates = run_json(settings, capsys, "duplicates", "inbox", "archive", *chosen)
    expected = {(p["a"], p["b"]): p["level"] for p in duplicates["pairs"]}
    assert expected[("inbox/turned.jpg", "archive/rocket.jpg")] == "edited"  # below the threshold
    joined = run_json(settings, capsys, "join", "inbox", "archive", "--intent", "duplicates", *chosen)
    assert {(p["a"], p["b"]): p["level"] for p in joined["pairs"]} == expected
    assert sorted(joined["groups"]) == sorted(duplicates["groups"])
    below = [(p["a"], p["b"]) for p in joined["pairs"] if p.get("below_threshold")]
    assert below == ([] if threshold else [("inbox/turned.jpg", "archive/rocket.jpg")])
    assert [(p["a"], p["b"]) for p in duplicates["pairs"] if p.get("below_threshold")] == below
    code = main(["--root", str(settings.root), "join", "inbox", "archive", "--intent", "duplicates", *chosen])
    table = capsys.readouterr().out
    assert code == 0
    titles = {"Exact copy": "exact", "Edited copy": "edited", "Look-alike": "look-alike", "Different": "new"}
    rows, key = {}, None
    for line in table.splitlines()[2:]:
        if line.startswith("* ") or " pairs for " in line or line.strip().startswith("changed: "):
            continue
        if not line.startswith(" "):
            key = line
        elif "(no match)" not in line:
            _, title, b = (part.strip() for part in line.strip().split("  ", 2))
            rows[(f"inbox/{key}", f"archive/{b.removesuffix(' *')}")] = titles[title]
    assert rows == expected
    assert (STAR_NOTE in table) == (threshold is None)
    counted = "(of them, 1 copy below the threshold, found by its keypoints, marked *)"
    assert (counted in table) == (threshold is None)
    param = duplicates["threshold"] if threshold is None else threshold
    outcome = _app_join(settings, "inbox", ("archive",), str(param))
    app = {(f"inbox/{p.a}", f"{p.b_set}/{p.b}"): level.value
           for p, level in zip(outcome.pairs.pairs, outcome.levels, strict=True)}
    assert app == expected
    assert sorted(outcome.groups) == sorted(duplicates["groups"])
    listed_below = [p.b for n, p in enumerate(outcome.pairs.pairs) if outcome.pairs.is_below(n)]
    assert listed_below == ([] if threshold else ["rocket.jpg"])


def _changed_lines(table: str, pair_of) -> dict[tuple[str, str], str]:
    """Each pair's "changed:" line in a table, by the pair `pair_of(line, previous lines)` names."""
    said, lines = {}, table.splitlines()
    for number, line in enumerate(lines):
        if line.strip().startswith("changed: "):
            said[pair_of(lines[number - 1], lines[:number])] = line.strip()
    return said


def test_a_duplicates_join_says_what_changed_and_its_csv_gives_the_level(settings, capsys):
    """Walk 5: `simages join A B --intent duplicates` printed no "changed:" lines and its CSV had no level."""
    root = ["--root", str(settings.root)]
    assert main([*root, "duplicates", "inbox", "archive"]) == 0
    duplicates = _changed_lines(capsys.readouterr().out,
                                lambda line, _: tuple(line.removesuffix(" *").split()[-2:]))
    assert duplicates[("inbox/turned.jpg", "archive/rocket.jpg")].startswith(
        "changed: inbox/turned.jpg is archive/rocket.jpg turned 90°")
    assert main([*root, "join", "inbox", "archive", "--intent", "duplicates"]) == 0

    def join_pair(line, before):
        key = next(row for row in reversed(before) if not row.startswith(" "))
        return f"inbox/{key}", f"archive/{line.removesuffix(' *').split()[-1]}"

    assert _changed_lines(capsys.readouterr().out, join_pair) == duplicates
    joined = run_json(settings, capsys, "join", "inbox", "archive", "--intent", "duplicates")
    # The CSV streams the passing pairs only.
    levels = {(p["a"], p["b"]): p["level"] for p in joined["pairs"] if not p.get("below_threshold")}
    assert main([*root, "join", "inbox", "archive", "--intent", "duplicates", "--format", "csv"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header == "a,b,score,level"
    assert {tuple(row.split(",")[:2]): row.split(",")[3] for row in rows} == levels
    assert main([*root, "join", "inbox", "archive", "--format", "csv"]) == 0  # similar images: no level
    assert capsys.readouterr().out.splitlines()[0] == "a,b,score"


def test_a_self_join_lists_its_threshold_only_and_the_table_says_so(settings, capsys):
    code = main(["--root", str(settings.root), "join", "inbox", "inbox", "--intent", "duplicates"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Only pairs at the threshold are checked here" in out and " *" not in out


def test_a_pair_listed_below_a_look_alike_is_never_called_new(settings, capsys):
    code = main(["--root", str(settings.root), "join", "inbox", "archive", "--intent", "duplicates",
                 "--threshold", "-1"])
    table = capsys.readouterr().out
    assert code == 0
    rows = [line for line in table.splitlines() if line.startswith("    ")]
    assert rows and not any(" New " in row for row in rows)
    assert any("Different" in row for row in rows)
    code = main(["--root", str(settings.root), "duplicates", "inbox", "archive", "--threshold", "-1"])
    out = capsys.readouterr().out
    assert code == 0 and " New " not in out and "Different" in out


def test_the_triage_table_marks_a_copy_below_its_collections_threshold(settings, capsys):
    """This collection is too small to whiten: its duplicate threshold is 0.9, not 0.5 (the turned copy
    scores between them, and was listed unmarked)."""
    code = main(["--root", str(settings.root), "triage", "inbox", "--against", "archive"])
    out = capsys.readouterr().out
    assert code == 0
    turned = next(line for line in out.splitlines() if "inbox/turned.jpg  ==  archive/rocket.jpg" in line)
    assert turned.endswith(" *")
    assert STAR_NOTE in out
    headline = out.splitlines()[0]
    assert "edited; of them, 1 below the threshold, found by its keypoints, marked *)" in headline
