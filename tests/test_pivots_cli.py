"""`simages query/join --index pivots[:P] --explain` and `simages bench pivots` from the command line."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pytest

from simages.cli import main
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store


def write_store(settings: Settings, name: str, vectors: np.ndarray, descriptor: str = "gap+l2") -> list[str]:
    names = [f"c{i % 4}/{i:03d}.jpg" for i in range(len(vectors))]
    store = FeatureStore(names, [Fingerprint(1, 1)] * len(names), vectors.astype(np.float32),
                         {"descriptor": descriptor})
    save_store(settings.store_path(name), store)
    (settings.image_sets / name).mkdir(parents=True, exist_ok=True)
    return names


@pytest.fixture
def clustered(settings: Settings) -> list[str]:
    """120 points around four centres in 6 dimensions: a set where pivots prune well."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 6)) * 5
    vectors = centres[np.arange(120) % 4] + rng.normal(size=(120, 6)) * 0.3
    return write_store(settings, "pts", vectors)


def run(settings: Settings, capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["--root", str(settings.root), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("metric,predicate", [("cosine", "--knn"), ("euclidean", "--range")])
def test_query_with_pivots_gives_the_brute_force_answer_and_its_cost(settings, clustered, capsys, metric,
                                                                     predicate):
    param = "7" if predicate == "--knn" else "1.0"
    base = ["query", "pts/" + clustered[5], "--set", "pts", predicate, param, "--metric", metric,
            "--format", "json", "--explain"]
    code, brute_out, _ = run(settings, capsys, *base)
    assert code == 0
    code, pivot_out, _ = run(settings, capsys, *base, "--index", "pivots:8")
    assert code == 0
    brute, pivots = json.loads(brute_out), json.loads(pivot_out)
    assert pivots["results"] == brute["results"] and pivots["results"]
    assert brute["cost"]["computed"] == brute["cost"]["total"] == 119 and brute["cost"]["pivots"] == 0
    cost = pivots["cost"]
    assert cost["pivots"] <= 8 and cost["total"] == 119 and cost["computed"] < 60
    assert isinstance(cost["ms"], float)
    assert (settings.features / ".pivots" / f"pts.{metric}.npz").is_file()


def test_query_table_says_what_it_cost_and_json_without_explain_has_no_cost(settings, clustered, capsys):
    code, out, _ = run(settings, capsys, "query", "pts/" + clustered[0], "--set", "pts", "--knn", "3",
                       "--index", "pivots", "--explain")
    assert code == 0 and "Cost:" in out
    # `--index pivots` without a count: the set's default, about sqrt(120) = 11 (the key's own pivot
    # may be left out), never 32 pivots for 120 images.
    assert re.search(r"computed \d+ of 119 distances .*pruned by 1[01] pivots", out)
    code, out, _ = run(settings, capsys, "query", "pts/" + clustered[0], "--set", "pts", "--knn", "3",
                       "--format", "json")
    assert code == 0 and "cost" not in json.loads(out)


def test_a_bad_index_value_is_a_user_error(settings, clustered, capsys):
    code, _, err = run(settings, capsys, "query", "pts/" + clustered[0], "--set", "pts", "--knn", "3",
                       "--index", "pivots:0")
    assert code == 2 and "pivots" in err and "Traceback" not in err


def test_join_with_pivots_writes_the_same_pairs_and_reports_the_cost(settings, clustered, capsys, tmp_path):
    brute_csv, pivot_csv = tmp_path / "brute.csv", tmp_path / "pivots.csv"
    code, _, _ = run(settings, capsys, "join", "pts", "pts", "--knn", "3", "--output", str(brute_csv))
    assert code == 0
    code, _, err = run(settings, capsys, "join", "pts", "pts", "--knn", "3", "--output", str(pivot_csv),
                       "--index", "pivots:8", "--explain")
    assert code == 0 and pivot_csv.read_text() == brute_csv.read_text()
    assert "of 14,280 distances" in err and "pivots" in err
    rows = list(csv.reader(io.StringIO(pivot_csv.read_text())))
    assert rows[0] == ["a", "b", "score"] and len(rows) == 1 + 120 * 3
    code, out, _ = run(settings, capsys, "join", "pts", "pts", "--range", "0.99", "--index", "pivots:4",
                       "--explain")
    assert code == 0 and out.strip().splitlines()[-1].startswith("Cost: computed")


def test_bench_pivots_prints_the_table_and_checks_every_answer(settings, capsys):
    rng = np.random.default_rng(3)
    write_store(settings, "big", rng.normal(size=(200, 32)))
    code, out, _ = run(settings, capsys, "bench", "pivots", "big", "--dims", "32,4", "--pivots", "4,16",
                       "--queries", "12", "--format", "json")
    assert code == 0
    report = json.loads(out)
    rows = report["rows"]
    assert len(rows) == 2 * 2 * 2 and all(r["identical"] for r in rows)
    assert 0 <= report["duplicate_pair_share"] <= 1 and report["duplicate_threshold"] > 0
    share = {(r["dimension"], r["predicate"], r["pivots"]): r["computed_share"] for r in rows}
    assert share[(4, "knn", 16)] < share[(32, "knn", 16)]
    rho = {r["dimension"]: r["rho"] for r in rows}
    assert rho[4] < rho[32]
    code, out, _ = run(settings, capsys, "bench", "pivots", "big", "--dims", "8", "--pivots", "4",
                       "--queries", "5")
    assert code == 0 and "| 8 |" in out and "identical to brute force" in out and "CPU:" in out
    code, _, err = run(settings, capsys, "bench", "pivots", "big", "--dims", "x")
    assert code == 2 and "--dims" in err


def test_default_pivot_count_follows_the_set_size_and_leaves_images_to_rule_out():
    from simages.nearest.pivots.store import DEFAULT_PIVOTS, default_pivot_count

    for images in (1, 2, 3, 9, 10, 50, 120, 1000, 10_000, 1_000_000):
        count = default_pivot_count(images)
        assert 1 <= count <= DEFAULT_PIVOTS
        if images >= 2:
            assert count < images  # some image is left for the table to rule out
    assert default_pivot_count(9) == 3 and default_pivot_count(1000) == 32
