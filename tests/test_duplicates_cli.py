"""`simages duplicates`: pairs and groups in every format, the default threshold, and the errors."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from simages.cli import main
from simages.nearest.duplicates.exact import DUPLICATE_COSINE
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store


def photos(seed: int, n: int, d: int = 64) -> np.ndarray:
    x = np.abs(np.random.default_rng(seed).standard_normal((n, d))).astype(np.float32) ** 3
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def write_store(settings, name, names, vectors, descriptor="gap+l2+pca128+qe10"):
    (settings.image_sets / name).mkdir(parents=True, exist_ok=True)
    meta = {"descriptor": "gap+l2", "descriptor_spec": descriptor}
    save_store(settings.store_path(name), FeatureStore(list(names), [Fingerprint(1, 1)] * len(names),
                                                       np.asarray(vectors, np.float32), meta))


@pytest.fixture
def settings(tmp_path):
    settings = Settings(root=tmp_path)
    base = photos(1, 40)
    # holidays: 40 distinct photos, an exact copy of 03 and a slightly changed copy of 07 (and of that copy)
    near = base[7] * (1 + 0.1 * np.random.default_rng(2).standard_normal(64)).astype(np.float32)
    near = np.abs(near) / np.linalg.norm(near)
    names = [f"p{i:02d}.jpg" for i in range(40)] + ["copy_of_03.png", "p07_edit.jpg", "p07_edit2.jpg"]
    write_store(settings, "holidays", names, np.vstack([base, base[3], near, near]))
    write_store(settings, "archive", ["old/p03.jpg", "old/other.jpg"], np.vstack([base[3], photos(9, 1)]))
    return settings


def run(settings, capsys, *argv):
    code = main(["--root", str(settings.root), "duplicates", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_lists_pairs_and_groups_largest_first(settings, capsys):
    code, out, _ = run(settings, capsys, "holidays", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["threshold"] == DUPLICATE_COSINE
    pairs = {(p["a"], p["b"]) for p in data["pairs"]}
    assert pairs == {
        ("holidays/copy_of_03.png", "holidays/p03.jpg"),
        ("holidays/p07.jpg", "holidays/p07_edit.jpg"),
        ("holidays/p07.jpg", "holidays/p07_edit2.jpg"),
        ("holidays/p07_edit.jpg", "holidays/p07_edit2.jpg"),
    }
    assert data["groups"] == [
        ["holidays/p07.jpg", "holidays/p07_edit.jpg", "holidays/p07_edit2.jpg"],
        ["holidays/copy_of_03.png", "holidays/p03.jpg"],
    ]
    scores = [p["score"] for p in data["pairs"]]
    assert scores == sorted(scores, reverse=True) and scores[0] >= 0.999
    levels = {(p["a"], p["b"]): p["level"] for p in data["pairs"]}
    assert levels[("holidays/copy_of_03.png", "holidays/p03.jpg")] == "exact"
    assert set(levels.values()) <= {"exact", "edited"}


def test_table_says_which_intent_ran_and_lists_groups(settings, capsys):
    code, out, _ = run(settings, capsys, "holidays")
    assert code == 0
    assert out.startswith("Intent: Duplicates: copies of the same photo")
    assert "the default duplicate threshold" in out
    assert "4 pairs (" in out and " in 2 groups of copies" in out
    # Each level's count agrees with its noun ("3 edited copy" was printed).
    from simages.wording import plural

    by_level = out.split("4 pairs (", 1)[1].split(") in 2 groups", 1)[0]
    for item in by_level.split(", "):
        count, noun = item.split(" ", 1)
        assert item == plural(int(count), noun if int(count) == 1 else noun.replace("copies", "copy")), item
    assert "1.000000  Exact copy   holidays/copy_of_03.png  holidays/p03.jpg" in out
    assert "1. 3 images: holidays/p07.jpg, holidays/p07_edit.jpg, holidays/p07_edit2.jpg" in out
    assert "PCA-whitened" in out


def test_a_set_against_another_pairs_across_sets_only(settings, capsys):
    code, out, _ = run(settings, capsys, "archive", "holidays", "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["a", "b", "score", "level", "changes"]
    assert {(a, b) for a, b, *_ in rows[1:]} == {("archive/old/p03.jpg", "holidays/copy_of_03.png"),
                                                ("archive/old/p03.jpg", "holidays/p03.jpg")}


def test_a_threshold_copied_from_the_csv_keeps_that_pair(settings, capsys):
    _, out, _ = run(settings, capsys, "holidays", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))[1:]
    weakest = rows[-1][2]
    _, again, _ = run(settings, capsys, "holidays", "--format", "csv", "--threshold", weakest)
    assert list(csv.reader(io.StringIO(again)))[1:] == rows


def test_threshold_option_and_errors(settings, capsys):
    code, out, _ = run(settings, capsys, "holidays", "--threshold", "0.9999", "--format", "json")
    assert code == 0 and {(p["a"], p["b"]) for p in json.loads(out)["pairs"]} == {
        ("holidays/copy_of_03.png", "holidays/p03.jpg"), ("holidays/p07_edit.jpg", "holidays/p07_edit2.jpg")}
    code, _, err = run(settings, capsys, "holidays", "--threshold", "2")
    assert code == 2 and "between -1 and 1" in err
    code, _, err = run(settings, capsys, "nowhere")
    assert code == 2 and "no image set 'nowhere'" in err
    code, out, _ = run(settings, capsys, "holidays", "--metric", "euclidean", "--format", "json")
    assert code == 0 and len(json.loads(out)["pairs"]) == 4  # the same pairs by distance


def test_query_with_the_duplicates_intent_says_so_and_finds_the_copies(settings, capsys):
    argv = ["--root", str(settings.root), "query", "holidays/p07.jpg", "--set", "holidays", "--intent",
            "duplicates", "--range", str(DUPLICATE_COSINE)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Intent: Duplicates: copies of the same photo" in out and "Passed: 2 of 42" in out
    assert main([*argv, "--format", "json"]) == 0
    assert [r["image"] for r in json.loads(capsys.readouterr().out)["results"]] == ["p07_edit.jpg",
                                                                                   "p07_edit2.jpg"]
    # a key from another set is read in the duplicates space too
    assert main(["--root", str(settings.root), "query", "archive/old/p03.jpg", "--set", "holidays",
                 "--intent", "duplicates", "--knn", "2", "--format", "json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert {r["image"] for r in results} == {"p03.jpg", "copy_of_03.png"} and results[0]["score"] >= 0.999
