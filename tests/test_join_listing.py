"""How `simages join` lists pairs: a range self-join each pair of images once (review finding 8), and
every row naming its set unless B is A, with several sets B accepted (finding 9)."""

from __future__ import annotations

import csv
import io
import random

import numpy as np
import pytest

from simages.cli import main
from simages.cli.common import open_set
from simages.nearest import QuerySpec
from simages.nearest.core.display import format_score
from simages.nearest.core.results import Match
from simages.nearest.joins.join import iter_set_join
from simages.nearest.joins.pairs_once import PairsOnce
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store


def write_store(settings: Settings, set_name: str, vectors: np.ndarray, descriptor: str = "gap+l2") -> None:
    names = [f"{set_name[:2]}{i:02d}.jpg" for i in range(len(vectors))]
    store = FeatureStore(names, [Fingerprint(1, 1)] * len(names), np.asarray(vectors, np.float32),
                         {"descriptor": descriptor})
    save_store(settings.store_path(set_name), store)
    folder = settings.image_sets / set_name
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


@pytest.fixture
def settings(tmp_path):
    settings = Settings(root=tmp_path / "root")
    rng = np.random.default_rng(5)
    centre = rng.standard_normal(16)
    # 30 images with query expansion (scores of x ~ y and y ~ x differ), and two small sets.
    write_store(settings, "big", centre + 0.6 * rng.standard_normal((30, 16)), "gap+l2+qe3")
    write_store(settings, "one", centre + 0.6 * rng.standard_normal((4, 16)), "gap+l2+qe3")
    write_store(settings, "two", centre + 0.6 * rng.standard_normal((3, 16)), "gap+l2+qe3")
    return settings


def run(settings: Settings, capsys, *argv: str) -> str:
    capsys.readouterr()
    assert main(["--root", str(settings.root), "join", *argv]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def rows_of(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["a", "b", "score"]
    return rows[1:]


@pytest.mark.parametrize("metric,threshold", [("cosine", "0.6"), ("cosine", "0.3"), ("euclidean", "1.6")])
def test_a_range_self_join_lists_each_pair_of_images_once(settings, capsys, metric, threshold):
    rows = rows_of(run(settings, capsys, "big", "big", "--metric", metric, "--range", threshold,
                       "--output", "-"))
    # What the join finds in either direction, each pair with the better of its two scores.
    big = open_set(settings, "big")
    spec = QuerySpec.parse(metric, "range", threshold)
    better = max if spec.higher_is_better else min
    expected: dict[tuple[str, str], float] = {}
    directed: dict[tuple[str, str], float] = {}
    for a, matches in iter_set_join(big, big, spec):
        for m in matches:
            directed[a, m.image] = m.score
            key = (min(a, m.image), max(a, m.image))
            expected[key] = better(expected.get(key, m.score), m.score)
    # Query expansion makes x ~ y and y ~ x score differently, some pairs pass from one end only.
    assert metric != "cosine" or any(directed.get((y, x)) != s for (x, y), s in directed.items())
    assert len(rows) == len(expected) > 3
    assert all(a < b for a, b, _ in rows)
    assert {(a, b): s for a, b, s in rows} == {k: format_score(v, metric) for k, v in expected.items()}
    table = run(settings, capsys, "big", "big", "--metric", metric, "--range", threshold)
    assert "each pair of images once" in table.splitlines()[0]
    assert table.splitlines()[-1] == f"{len(rows)} pairs of images of the {30 * 29 // 2} among 30 images"


def test_a_knn_self_join_stays_directed_and_says_so(settings, capsys):
    rows = rows_of(run(settings, capsys, "big", "big", "--knn", "2", "--output", "-"))
    assert len(rows) == 60  # each image's own 2 nearest
    assert "directed" in run(settings, capsys, "big", "big", "--knn", "2").splitlines()[0]


def test_rows_name_their_sets_unless_b_is_a(settings, capsys):
    own = rows_of(run(settings, capsys, "one", "one", "--knn", "1", "--output", "-"))
    assert all("/" not in a and "/" not in b for a, b, _ in own)
    for bs in (["big"], ["big", "two"]):
        rows = rows_of(run(settings, capsys, "one", *bs, "--knn", "2", "--output", "-"))
        assert len(rows) == 8
        for a, b, _ in rows:
            assert (settings.image_sets / a).is_file() and (settings.image_sets / b).is_file()
            assert a.startswith("one/") and b.split("/")[0] in bs
    table = run(settings, capsys, "one", "big", "two", "--knn", "2")
    assert table.startswith("Join of one against big, two:")


@pytest.mark.parametrize("argv,message", [
    (["one", "one", "big"], "cannot be both A and one of several sets B"),
    (["one", "big", "big"], "each set B may be named once"),
    (["one", "big", "two", "--index", "pivots"], "--index and --explain take one set B"),
])
def test_several_sets_b_refuse_what_they_cannot_do(settings, capsys, argv, message):
    assert main(["--root", str(settings.root), "join", *argv, "--knn", "1"]) == 2
    assert message in capsys.readouterr().err


def test_pairs_once_does_not_depend_on_the_order_rows_come_in():
    rng = random.Random(3)
    names = [f"{i}.jpg" for i in range(12)]
    directed = {(x, y): rng.random() for x in names for y in names if x != y and rng.random() < 0.4}
    rows = [(x, sorted((Match(y, s) for (a, y), s in directed.items() if a == x), key=lambda m: -m.score))
            for x in names]
    expected: dict[tuple[str, str], float] = {}
    for (x, y), s in directed.items():
        key = (min(x, y), max(x, y))
        expected[key] = max(expected.get(key, s), s)
    for _ in range(5):
        rng.shuffle(rows)
        once = PairsOnce(higher_is_better=True)
        got = [p for image, matches in rows for p in once.add(image, matches)] + once.rest()
        assert {(p.a, p.b): p.score for p in got} == pytest.approx(expected)
        assert len(got) == len(expected) == once.count
