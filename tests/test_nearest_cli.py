from __future__ import annotations

import csv
import io
import json
import sys
import types

import numpy as np
import pytest
from PIL import Image

from simages.cli import main
from simages.cli.common import open_set
from simages.operations.query import DEFAULT_KNN
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store

NAMES = ["cats/1.jpg", "cats/2.jpg", "dogs/1.jpg", "dogs/2.jpg", "dogs/3.jpg"]
VECTORS = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0.1, 0.9, 0], [0, 0.8, 0.2]], np.float32)


def write_store(settings, set_name, names, vectors, descriptor="gap+l2"):
    store = FeatureStore(list(names), [Fingerprint(1, 1)] * len(names), np.asarray(vectors, np.float32),
                         {"descriptor": descriptor})
    save_store(settings.store_path(set_name), store)
    (settings.image_sets / set_name).mkdir(parents=True, exist_ok=True)  # a store is served only with its set


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings(root=tmp_path / "root")
    (settings.image_sets / "pets").mkdir(parents=True)
    write_store(settings, "pets", NAMES, VECTORS)
    return settings


def cli(settings, *argv):
    """Run `simages --root ROOT ARGV...` (the real command line, every command registered) and return the
    exit code."""
    return main(["--root", str(settings.root), *argv])


def test_query_json_lists_nearest_images_without_the_key(settings, capsys):
    assert cli(settings, "query", "pets/cats/1.jpg", "--set", "pets", "--knn", "2", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["key"] == "pets/cats/1.jpg" and data["set"] == "pets"
    assert (data["metric"], data["predicate"], data["param"]) == ("cosine", "knn", 2)
    assert [r["image"] for r in data["results"]] == ["cats/2.jpg", "dogs/2.jpg"]
    assert "passed" not in data


def test_query_range_reports_how_many_pass(settings, capsys):
    assert cli(settings, "query", "pets/dogs/1.jpg", "--set", "pets", "--range", "0.9", "--format", "json",
               "--limit", "1") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] == 2 and [r["image"] for r in data["results"]] == ["dogs/2.jpg"]


def test_query_euclidean_csv(settings, capsys):
    assert cli(settings, "query", "pets/cats/1.jpg", "--set", "pets", "--knn", "1", "--metric", "euclidean",
               "--format", "csv", "--include-self") == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [["image", "score"], ["cats/1.jpg", "0.000000"]]


def test_query_table_is_readable(settings, capsys):
    assert cli(settings, "query", "pets/cats/1.jpg", "--set", "pets", "--range", "0.999") == 0
    out = capsys.readouterr().out
    assert "cosine similarity >= 0.999" in out and "Passed: 0 of 4" in out and "No image matches" in out


def test_query_of_a_set_that_is_not_indexed_suggests_indexing(settings, capsys):
    (settings.image_sets / "birds").mkdir(parents=True)
    assert cli(settings, "query", "pets/cats/1.jpg", "--set", "birds", "--knn", "3") == 2
    assert f"`{settings.command('index birds')}` first" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["query", "pets/cats/1.jpg", "--set", "../x", "--knn", "3"], "a set name is a single folder name"),
        (["query", "pets/../../secret.jpg", "--set", "pets", "--knn", "3"], "invalid image name"),
        (["query", "pets/cats/9.jpg", "--set", "pets", "--knn", "3"],
         "there is no image 'cats/9.jpg' in set 'pets'"),
        (["query", "zoo/cat.jpg", "--set", "pets", "--knn", "3"], "no such file: zoo/cat.jpg, and no set"),
        (["query", "root/image_sets/pets/nope.jpg", "--set", "pets", "--knn", "3"],
         "no such file: root/image_sets/pets/nope.jpg ("),
        (["query", "pets/cats/1.jpg", "--set", "pets", "--knn", "0"], "k must be a positive integer"),
        (["query", "pets/cats/1.jpg", "--set", "pets", "--range", "2"], "between -1 and 1"),
        (["join", "pets", "..", "--knn", "1"], "invalid set name"),
    ],
)
def test_bad_input_gives_a_message_and_exit_code_2(settings, capsys, argv, message):
    assert cli(settings, *argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_uploaded_file_is_described_with_the_set_settings(settings, tmp_path, monkeypatch, capsys):
    seen = {}

    def describe_file(path, file_settings):
        seen["path"], seen["descriptor"] = path, file_settings.descriptor.key()
        return np.array([0, 1, 0], np.float32)

    monkeypatch.setitem(sys.modules, "simages.extraction.describe",
                        types.SimpleNamespace(describe_file=describe_file))
    write_store(settings, "pets", NAMES, VECTORS, descriptor="max+sqrt+l2")
    upload = tmp_path / "upload.png"
    Image.new("RGB", (4, 4)).save(upload)  # read by nothing but the format check: describe_file is faked
    assert cli(settings, "query", "upload.png", "--set", "pets", "--knn", "1", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["results"][0]["image"] == "dogs/1.jpg" and data["key"] == "upload.png"
    assert seen == {"path": upload.relative_to(tmp_path), "descriptor": "max+sqrt+l2"}


def test_set_image_wins_over_a_same_named_file(settings, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "simages.extraction.describe", types.SimpleNamespace(
        describe_file=lambda *_: pytest.fail("a set image must not be described again")))
    (tmp_path / "pets" / "cats").mkdir(parents=True)
    (tmp_path / "pets" / "cats" / "1.jpg").write_bytes(b"x")
    assert cli(settings, "query", "pets/cats/1.jpg", "--set", "pets", "--knn", "1", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["image"] == "cats/2.jpg"


def test_key_from_another_set_with_another_descriptor_is_refused(settings, capsys):
    write_store(settings, "other", ["x.jpg"], [[1, 0, 0]], descriptor="max+l2")
    assert cli(settings, "query", "other/x.jpg", "--set", "pets", "--knn", "1") == 2
    assert "re-index" in capsys.readouterr().err


def test_join_writes_csv_pairs_grouped_by_a(settings, tmp_path, capsys):
    out = tmp_path / "pairs.csv"
    assert cli(settings, "join", "pets", "pets", "--knn", "1", "--output", str(out)) == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["a", "b", "score"]
    assert [(a, b) for a, b, _ in rows[1:]] == [
        ("cats/1.jpg", "cats/2.jpg"), ("cats/2.jpg", "cats/1.jpg"), ("dogs/1.jpg", "dogs/2.jpg"),
        ("dogs/2.jpg", "dogs/1.jpg"), ("dogs/3.jpg", "dogs/1.jpg"),
    ]
    assert "wrote 5 pairs" in capsys.readouterr().err


def test_join_of_two_sets_prints_a_table(settings, capsys):
    write_store(settings, "queries", ["q.jpg"], [[0, 0, 1]])
    assert cli(settings, "join", "queries", "pets", "--range", "0.2", "--metric", "cosine") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[2:] == ["q.jpg", "      0.242535  dogs/3.jpg", "1 pair for 1 image"]


def test_join_with_unindexed_set_exits_2(settings, capsys):
    assert cli(settings, "join", "pets", "birds", "--knn", "1") == 2
    assert "there is no image set 'birds'" in capsys.readouterr().err
    (settings.image_sets / "birds").mkdir(parents=True)
    assert cli(settings, "join", "pets", "birds", "--knn", "1") == 2
    assert f"`{settings.command('index birds')}` first" in capsys.readouterr().err


def write_qe_store(settings):
    (settings.image_sets / "qepets").mkdir(parents=True, exist_ok=True)
    # Fifteen images: query expansion is only applied to sets of at least five times its neighbours.
    fillers = np.random.default_rng(3).random((9, 3)).astype(np.float32)
    names = [*NAMES, "copy/cats-1.jpg", *(f"more/{i}.jpg" for i in range(9))]
    vectors = np.vstack([VECTORS, VECTORS[:1], fillers])
    write_store(settings, "qepets", names, vectors, descriptor="gap+l2+qe3")


def test_the_key_and_its_exact_copy_score_one_with_and_without_expansion(settings, capsys):
    write_qe_store(settings)
    argv = ("query", "qepets/cats/1.jpg", "--set", "qepets", "--knn", "2", "--format", "json",
            "--include-self")
    for extra, expansion in (((), 3), (("--no-expansion",), 0)):
        assert cli(settings, *argv, *extra) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["expansion"] == expansion
        assert [r["score"] for r in data["results"]] == pytest.approx([1.0, 1.0], abs=1e-6)
        assert {r["image"] for r in data["results"]} == {"cats/1.jpg", "copy/cats-1.jpg"}


def test_tables_say_whether_query_expansion_was_used(settings, capsys):
    write_qe_store(settings)
    assert cli(settings, "query", "qepets/cats/1.jpg", "--set", "qepets", "--knn", "2") == 0
    out = capsys.readouterr().out
    assert "averaged with its 3 nearest images (query expansion)" in out and "without" not in out
    assert cli(settings, "query", "qepets/cats/1.jpg", "--set", "qepets", "--knn", "2", "--no-expansion") == 0
    out = capsys.readouterr().out
    assert "Query: 2 nearest by cosine similarity, without query expansion" in out
    assert "Query expansion is off for this query" in out
    assert cli(settings, "join", "qepets", "qepets", "--knn", "1") == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "with query expansion (each key averaged with its 3 nearest images)" in first
    assert cli(settings, "join", "qepets", "qepets", "--knn", "1", "--no-expansion") == 0
    lines = capsys.readouterr().out.splitlines()
    assert "without query expansion" in lines[0]
    assert lines[2:4] == ["cats/1.jpg", "      1.000000  copy/cats-1.jpg"]


@pytest.mark.parametrize("content", [b"hello\n", b"", b"\x89PNG\r\n\x1a\n broken"])
def test_a_key_file_that_is_no_image_gives_one_line_and_exit_code_2(settings, tmp_path, capsys, content):
    # Every kind of unreadable key file (text, empty, a damaged image) is the user's bad input: one line,
    # exit code 2 like a bad set name, never a traceback and never "cannot compute the descriptor".
    key = tmp_path / "notes.txt"
    key.write_bytes(content)
    assert cli(settings, "query", str(key), "--set", "pets") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"simages: error: {key} is not an image SIMages can read (")
    assert err.count("\n") == 1


def test_query_without_a_predicate_is_knn_10(settings, capsys):
    assert cli(settings, "query", "pets/cats/1.jpg", "--set", "pets", "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["predicate"], data["param"]) == ("knn", DEFAULT_KNN) and len(data["results"]) == 4


def test_duplicates_intent_defaults_to_the_duplicate_threshold_and_says_when_none_passes(settings, capsys):
    from simages.nearest.core.intents import DUPLICATES
    from simages.nearest.duplicates.exact import duplicate_threshold

    assert cli(settings, "query", "pets/cats/1.jpg", "--set", "pets", "--intent", "duplicates",
               "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["predicate"] == "range"
    pets = open_set(settings, "pets", DUPLICATES)  # 5 images: too few to whiten, so 0.9
    assert data["param"] == pytest.approx(duplicate_threshold("cosine", pets), abs=1e-6)
    passed = data["passed"]
    assert cli(settings, "query", "pets/cats/1.jpg", "--set", "pets", "--intent", "duplicates") == 0
    out = capsys.readouterr().out
    assert ("No duplicate of this photo in pets." in out) == (passed == 0)
    assert cli(settings, "join", "pets", "pets", "--intent", "duplicates", "--output", "-") == 0
    assert capsys.readouterr().out.startswith("a,b,score")
    assert cli(settings, "join", "pets", "pets") == 0
    assert "Join of pets against pets: 10 nearest" in capsys.readouterr().out


def _index_real_files(settings, names):
    """The pets store with real files behind NAMES, each stored with the fingerprint indexing would keep."""
    fingerprints = []
    for name in names:
        path = settings.image_sets / "pets" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4), (len(name), 0, 0)).save(path, "PNG")
        fingerprints.append(Fingerprint.of(path.stat(), path))
    save_store(settings.store_path("pets"), FeatureStore(list(names), fingerprints, VECTORS,
                                                         {"descriptor": "gap+l2"}))


@pytest.mark.parametrize("state", ["indexed", "not indexed yet", "changed since"])
def test_a_key_path_to_an_image_of_a_set_uses_its_stored_descriptor_while_it_is_that_file(
        settings, monkeypatch, capsys, state):
    """`query image_sets/SET/IMAGE` answers as `query SET/IMAGE` does, from the stored descriptor, while the
    store's entry is of this very file (the check indexing makes); otherwise it is described, and stderr
    says why before the work."""
    described = []

    def describe_file(path, _settings):
        described.append(path)
        return VECTORS[0]

    monkeypatch.setitem(sys.modules, "simages.extraction.describe",
                        types.SimpleNamespace(describe_file=describe_file))
    _index_real_files(settings, NAMES)
    key = settings.image_sets / "pets" / "cats" / "1.jpg"
    if state == "not indexed yet":
        key = settings.image_sets / "pets" / "cats" / "new.jpg"
        Image.new("RGB", (4, 4)).save(key, "PNG")
    elif state == "changed since":
        Image.new("RGB", (6, 6)).save(key, "PNG")
    assert cli(settings, "query", str(key.relative_to(settings.root.parent)), "--set", "pets", "--knn", "2",
               "--format", "json") == 0
    captured = capsys.readouterr()
    names = [r["image"] for r in json.loads(captured.out)["results"]]
    if state == "indexed":
        assert described == [] and captured.err == ""
        assert names == ["cats/2.jpg", "dogs/2.jpg"]  # the key itself left out, as for pets/cats/1.jpg
    else:
        assert len(described) == 1
        assert f"{state}" in captured.err and captured.err.rstrip().endswith("describing it")
        assert names[0] == "cats/1.jpg"


def _copies_root(settings):
    """archive: three photos; inbox: a byte copy of a.png, b.png enlarged (the same stored vector: a score
    of 1 is not the same pixels) and another photo; mixed: all of them, for a self-join; extra: one more."""
    def save(set_name, name, image):
        path = settings.image_sets / set_name / name
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, "PNG")

    photos = {n: Image.new("RGB", (8, 6), colour) for n, colour in
              (("a.png", (200, 10, 10)), ("b.png", (10, 200, 10)), ("c.png", (10, 10, 200)))}
    vector = {"a.png": [1, 0, 0, 0], "b.png": [0, 1, 0, 0], "c.png": [0, 0, 1, 0]}
    inbox = {"copy.png": (photos["a.png"], vector["a.png"]), "bigger.png": (photos["b.png"].resize((16, 12)),
             vector["b.png"]), "other.png": (Image.new("RGB", (8, 6), (90, 90, 90)), [0, 0, 0, 1])}
    for name, image in photos.items():
        save("archive", name, image)
        save("mixed", name, image)
    for name, (image, _) in inbox.items():
        save("inbox", name, image)
        save("mixed", name, image)
    save("extra", "d.png", Image.new("RGB", (8, 6), (0, 0, 0)))
    write_store(settings, "archive", list(vector), list(vector.values()))
    write_store(settings, "inbox", list(inbox), [v for _, v in inbox.values()])
    mixed = {**vector, **{n: v for n, (_, v) in inbox.items()}}
    write_store(settings, "mixed", list(mixed), list(mixed.values()))
    write_store(settings, "extra", ["d.png"], [[0.5, 0.5, 0.5, 0.5]])


@pytest.mark.parametrize(("sets", "lines"), [
    (["inbox", "archive"], ["Exact copy   a.png", "Edited copy  b.png"]),
    (["inbox", "archive", "extra"], ["Exact copy   archive/a.png", "Edited copy  archive/b.png"]),
    (["mixed", "mixed"], ["Exact copy   a.png  copy.png", "Edited copy  b.png  bigger.png"]),
])
def test_a_duplicates_join_names_its_intent_and_each_pairs_level(settings, capsys, sets, lines):
    """Walk 3: `join --intent duplicates` printed neither, unlike `simages duplicates` and /join; exact
    only for the same pixels, as they decide."""
    _copies_root(settings)
    assert cli(settings, "join", *sets, "--intent", "duplicates", "--threshold", "0.9") == 0
    out = capsys.readouterr().out
    assert "Intent: Duplicates: copies of the same photo" in out
    for line in lines:
        assert any(row.strip().endswith(line) for row in out.splitlines()), out
    assert cli(settings, "join", *sets, "--threshold", "0.9") == 0
    out = capsys.readouterr().out
    assert "Intent: Similar images" in out and "copy" not in out.replace("copy.png", "")


def test_a_duplicates_join_in_json_gives_each_pairs_level(settings, capsys):
    _copies_root(settings)
    assert cli(settings, "join", "inbox", "archive", "--intent", "duplicates", "--knn", "1",
               "--format", "json") == 0
    levels = {(p["a"], p["b"]): p["level"] for p in json.loads(capsys.readouterr().out)["pairs"]}
    assert levels[("inbox/copy.png", "archive/a.png")] == "exact"
    assert levels[("inbox/bigger.png", "archive/b.png")] == "edited"
    assert levels[("inbox/other.png", "archive/a.png")] == "new"
