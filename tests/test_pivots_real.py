"""The pivot table on real VGG-16 descriptors of Corel-1k images: the same answers as brute force, ties
included (exact copies of images under other names), and the curse of dimensionality visible in the costs.

Uses the real weights and Corel-1k (skipped with the reason when either is missing). The default test
indexes 2 x 12 images and 3 copies (about 10 s); the slow one indexes all of Corel-1k (`--run-slow`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from simages.nearest import DescriptorCache, QuerySpec, key_join
from simages.nearest.joins.join import iter_set_join
from simages.nearest.teaching.query_cost import IndexChoice, explained_key_join, explained_set_join
from simages.nearest.teaching.reduced import carried_threshold, reduced_index
from simages.settings import Settings


def index_corel(root: Path, corel_path: Path, weights_path: Path, per_class: int | None, classes=None):
    from simages.jobs.indexer import index_set

    target = root / "image_sets" / "corel"
    for folder in sorted(p for p in corel_path.iterdir() if p.is_dir()):
        if classes is not None and folder.name not in classes:
            continue
        files = sorted(folder.glob("*.jpg"))[:per_class]
        (target / folder.name).mkdir(parents=True)
        for file in files:
            shutil.copy(file, target / folder.name / file.name)
    # Exact copies under other names: their descriptors are identical, so their scores tie exactly.
    copies = target / "copies"
    copies.mkdir()
    for folder in sorted(p for p in target.iterdir() if p.is_dir() and p.name != "copies")[:3]:
        first = sorted(folder.glob("*.jpg"))[0]
        shutil.copy(first, copies / f"copy_of_{first.name}")
    settings = Settings(root=root, weights=weights_path)
    index_set(settings, "corel")
    return settings, DescriptorCache().get(settings, "corel")


def assert_all_keys_match(index, specs, pivots, settings=None):
    for spec in specs:
        for key in index.names:
            vector = index.raw_vector(key)
            brute = key_join(index, vector, spec, exclude=key).matches
            got, cost = explained_key_join(index, vector, spec, IndexChoice("pivots", pivots), exclude=key,
                                           settings=settings)
            assert got.matches == brute, (spec, key)
            assert cost.computed <= cost.total == len(index) - 1


def test_real_descriptors_with_ties_match_brute_force(tmp_path, corel_path, weights_path):
    settings, index = index_corel(tmp_path, corel_path, weights_path, 12, {"dinosaurs", "horses"})
    assert len(index) == 2 * 12 + 2
    copies = [n for n in index.names if n.startswith("copies/")]
    original = copies[0].removeprefix("copies/copy_of_")
    twin = next(n for n in index.names if n.endswith("/" + original) and not n.startswith("copies/"))
    assert np.array_equal(index.raw_vector(twin), index.raw_vector(copies[0]))
    specs = [QuerySpec(m, "knn", k) for m in ("cosine", "euclidean") for k in (1, 5, 40)]
    specs += [QuerySpec("cosine", "range", 0.8), QuerySpec("euclidean", "range", 0.6),
              QuerySpec("cosine", "range", 1.0)]
    assert_all_keys_match(index, specs, 4, settings)
    for view in (reduced_index(index, 4), reduced_index(index, 16)):
        threshold = carried_threshold(view, "euclidean", 0.05)
        assert_all_keys_match(view, [QuerySpec("cosine", "knn", 3, expand=False),
                                     QuerySpec("euclidean", "range", threshold, expand=False)], 3)
    spec = QuerySpec("cosine", "knn", 3)
    groups, _ = explained_set_join(index, index, spec, IndexChoice("pivots", 4))
    assert list(groups) == list(iter_set_join(index, index, spec))


@pytest.mark.slow
def test_corel1k_pruning_falls_with_the_dimension_and_answers_stay_exact(tmp_path, corel_path, weights_path):
    _, index = index_corel(tmp_path, corel_path, weights_path, None)
    shares = {}
    for dimension in (8, 32, 512):
        view = reduced_index(index, dimension)
        spec = QuerySpec("cosine", "knn", 10, expand=False)
        total = 0.0
        for key in view.names[::20]:
            brute = key_join(view, view.raw_vector(key), spec, exclude=key).matches
            got, cost = explained_key_join(view, view.raw_vector(key), spec, IndexChoice("pivots", 32),
                                           exclude=key)
            assert got.matches == brute
            total += cost.share()
        shares[dimension] = total / len(view.names[::20])
    assert shares[8] < 0.25 < shares[32] * 2 and shares[32] < shares[512] and shares[512] > 0.6
    # The searched space itself (default descriptor, query expansion) stays exact as well.
    assert_all_keys_match(index, [QuerySpec("cosine", "knn", 10)], 32)
