"""The atlas: maps kept and reused, new images placed without a new fit, a join's layer equal to its pairs."""

from __future__ import annotations

import numpy as np
import pytest

from simages.atlas import cache as atlas_cache
from simages.atlas.cache import load_map, map_path, model_path, refresh_map
from simages.atlas.projection import Reduction, UmapMap, learn_reduction, pca_map
from simages.nearest import QuerySpec, SetIndex, set_join
from simages.operations.atlas import build_set_atlas, join_atlas, nearest_to_selection, set_atlas
from simages.settings import Settings


class LinearModel:
    """A stand-in for a fitted UMAP model (picklable): transform is a fixed linear map."""

    def transform(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows[:, :2], dtype=np.float32) * 10.0


def counting_fit(calls: list[int]):
    def fit(rows: np.ndarray) -> UmapMap:
        calls.append(len(rows))
        reduction = learn_reduction(rows, 4)
        return UmapMap(LinearModel().transform(reduction.apply(rows)), reduction, LinearModel())
    return fit


@pytest.fixture
def fake_umap(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(atlas_cache, "umap_map", counting_fit(calls))
    monkeypatch.setattr(atlas_cache, "umap_available", lambda: True)
    return calls


def clustered(n: int, seed: int = 0, d: int = 16) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, d))
    rows = centres[np.arange(n) % 4] + 0.1 * rng.normal(size=(n, d))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return [f"c{i % 4}/{seed}_{i:04d}.jpg" for i in range(n)], rows.astype(np.float32)


def test_a_map_is_kept_and_reused_while_nothing_changed(tmp_path, fake_umap):
    names, rows = clustered(120)
    first, done = refresh_map(tmp_path, "s", names, rows)
    assert first.method == "umap" and fake_umap == [120] and "120 images" in done
    stamp = map_path(tmp_path, "s").stat().st_mtime_ns
    again, done = refresh_map(tmp_path, "s", list(reversed(names)), rows[::-1].copy())  # same content
    assert done == "" and fake_umap == [120]  # no new fit
    assert map_path(tmp_path, "s").stat().st_mtime_ns == stamp
    assert np.array_equal(again.coords, first.coords)


def test_new_images_are_placed_on_the_stored_map_and_a_new_fit_comes_when_too_many_were(tmp_path, fake_umap):
    names, rows = clustered(100)
    first, _ = refresh_map(tmp_path, "s", names, rows)
    extra_names, extra = clustered(5, seed=1)
    # Five new images and two removed: the others stay put, the new ones are placed, nothing refitted.
    kept_names, kept_rows = names[2:], rows[2:]
    updated, done = refresh_map(tmp_path, "s", kept_names + extra_names, np.vstack([kept_rows, extra]))
    assert fake_umap == [100] and updated.placed == 5 and "5 images placed" in done
    assert np.array_equal(updated.coords[:98], first.coords[2:])
    model = atlas_cache.load_model(model_path(tmp_path, "s"))
    assert model is not None and np.allclose(updated.coords[98:], model.place(extra), atol=1e-5)
    # Past 20% placed, the map is fitted again.
    many_names, many = clustered(30, seed=2)
    refresh_map(tmp_path, "s", kept_names + extra_names + many_names, np.vstack([kept_rows, extra, many]))
    assert fake_umap == [100, 133]


def test_a_model_file_others_may_write_is_not_unpickled(tmp_path, fake_umap):
    names, rows = clustered(110)
    refresh_map(tmp_path, "s", names, rows)
    model_path(tmp_path, "s").chmod(0o666)
    assert atlas_cache.load_model(model_path(tmp_path, "s")) is None
    extra_names, extra = clustered(3, seed=4)
    refresh_map(tmp_path, "s", names + extra_names, np.vstack([rows, extra]))
    assert fake_umap == [110, 113]  # no trusted model: a new fit instead of placing


def test_without_umap_a_small_set_gets_a_final_pca_map(tmp_path, monkeypatch):
    monkeypatch.setattr(atlas_cache, "umap_available", lambda: False)
    names, rows = clustered(8)
    found, _ = refresh_map(tmp_path, "s", names, rows)
    assert found.method == "pca" and found.coords.shape == (8, 2)
    assert np.allclose(found.coords, pca_map(rows), atol=1e-5)
    assert load_map(map_path(tmp_path, "s")).content == found.content


def test_the_page_view_is_the_cached_map_or_an_instant_pca(tmp_path, fake_umap, monkeypatch):
    monkeypatch.setattr("simages.operations.atlas.umap_available", lambda: True)
    settings = Settings(root=tmp_path)
    names, rows = clustered(120)
    index = SetIndex("s", names, rows, "gap+l2")
    instant = set_atlas(settings, index)
    assert instant.method == "pca" and not instant.final and fake_umap == []
    built, _ = build_set_atlas(settings, index)
    shown = set_atlas(settings, index)
    assert shown.method == "umap" and shown.final and np.array_equal(shown.coords, built.coords)
    assert shown.folders[:4] == ["c0", "c1", "c2", "c3"]


def test_the_join_layer_edges_are_the_join_pairs_and_new_in_b_matches_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(atlas_cache, "umap_available", lambda: False)
    monkeypatch.setattr("simages.operations.atlas.umap_available", lambda: False)
    settings = Settings(root=tmp_path)
    a_names, a_rows = clustered(30, seed=5)
    b_names, b_rows = clustered(25, seed=6)
    b_rows[:3] = a_rows[:3] + 0.001  # three copies of A's images in B
    b_rows[20:] = -b_rows[20:]  # five images unlike anything in A
    a, b = SetIndex("a", a_names, a_rows, "gap+l2"), SetIndex("b", b_names, b_rows, "gap+l2")
    spec = QuerySpec("cosine", "range", 0.98)
    drawn = join_atlas(settings, a, b, spec)
    pairs = set_join(a, b, spec).pairs()
    layer = drawn.layer
    assert [(layer.a_names[i], layer.b_names[j], s) for i, j, s in layer.edges] == [
        (p.a, p.b, pytest.approx(p.score)) for p in pairs]
    matched = {p.b for p in pairs}
    assert {layer.b_names[j] for j in layer.new_in_b} == set(b_names) - matched
    assert set(range(20, 25)) <= set(layer.new_in_b)
    # Every group is a connected set of pairs: each member is in an edge.
    in_edges = {("a", i) for i, _, _ in layer.edges} | {("b", j) for _, j, _ in layer.edges}
    assert all(member in in_edges for group in layer.groups for member in group)
    assert layer.a_coords.shape == (30, 2) and layer.b_coords.shape == (25, 2)


def test_a_self_join_is_drawn_on_the_sets_own_map(tmp_path, monkeypatch):
    monkeypatch.setattr(atlas_cache, "umap_available", lambda: False)
    settings = Settings(root=tmp_path)
    names, rows = clustered(20)
    index = SetIndex("s", names, rows, "gap+l2")
    drawn = join_atlas(settings, index, index, QuerySpec("cosine", "knn", 1))
    assert np.array_equal(drawn.layer.a_coords, drawn.layer.b_coords)
    assert len(drawn.layer.edges) == 20


def test_a_key_set_finds_the_images_most_like_any_of_its_members():
    names, rows = clustered(40)
    index = SetIndex("s", names, rows, "gap+l2")
    found = nearest_to_selection(index, [names[0], names[1]], k=10)
    assert all(n not in (names[0], names[1]) for n, _ in found)
    assert {n.split("/")[0] for n, _ in found} <= {"c0", "c1"}  # the two selected clusters
    with pytest.raises(ValueError, match="select at least one"):
        nearest_to_selection(index, [])


def test_a_reduction_keeps_at_most_what_the_rows_span():
    rows = np.random.default_rng(0).normal(size=(5, 20)).astype(np.float32)
    reduction = learn_reduction(rows, 50)
    assert isinstance(reduction, Reduction) and reduction.components.shape == (20, 4)


def test_the_cli_writes_a_png_and_coordinates_and_the_indexing_hook_keeps_the_map(tmp_path, capsys):
    import json

    from simages.cli import main
    from simages.jobs.derived import refresh_atlas
    from tests.gui_fixtures import make_images, write_store

    settings = Settings(root=tmp_path)
    names = make_images(tmp_path, "demo", 12)
    write_store(settings, "demo", names)
    assert "atlas map (PCA) of 12 images" in refresh_atlas(settings, "demo")
    assert refresh_atlas(settings, "demo") == ""  # nothing changed: nothing computed
    assert main(["--root", str(tmp_path), "atlas", "demo", "--output", str(tmp_path / "map.png")]) == 0
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(["--root", str(tmp_path), "atlas", "demo", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "pca" and sorted(i["image"] for i in out["images"]) == names
    assert {i["folder"] for i in out["images"]} == {"sub", "(top level)"}
    assert main(["--root", str(tmp_path), "atlas", "nope"]) == 2
