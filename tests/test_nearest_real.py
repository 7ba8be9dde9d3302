"""Real VGG-16 descriptors on Corel-1k: a dinosaur key must find dinosaurs before horses.

Uses the real weights (`$SIMAGES_WEIGHTS` or ../shared/weights) and two Corel-1k classes, indexed with the
default descriptor; skipped with the reason when either is missing. About 20 s.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from simages.nearest import DescriptorCache, QuerySpec, key_join, set_join
from simages.settings import Settings

CATEGORIES = ("dinosaurs", "horses")


@pytest.fixture(scope="module")
def corel(tmp_path_factory, weights_path: Path, corel_path: Path):
    from simages.jobs.indexer import index_set

    root = tmp_path_factory.mktemp("corel-root")
    for category in CATEGORIES:
        shutil.copytree(corel_path / category, root / "image_sets" / "corel" / category)
    settings = Settings(root=root, weights=weights_path)
    index_set(settings, "corel")
    return settings, DescriptorCache().get(settings, "corel")


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_dinosaur_key_returns_dinosaurs_first(corel, metric):
    _, index = corel
    assert len(index) == sum(100 for c in CATEGORIES)
    key = sorted(name for name in index.names if name.startswith("dinosaurs/"))[0]
    result = key_join(index, index.raw_vector(key), QuerySpec(metric, "knn", 20), exclude=key)
    assert [m.image.split("/")[0] for m in result.matches] == ["dinosaurs"] * 20


def test_uploaded_copy_of_an_image_finds_that_image_first(corel):
    from simages.extraction.describe import describe_file

    settings, index = corel
    key = sorted(name for name in index.names if name.startswith("horses/"))[0]
    vector = np.asarray(describe_file(settings.image_sets / "corel" / key, settings), np.float32)
    result = key_join(index, vector, QuerySpec("cosine", "knn", 5))
    assert result.matches[0].image == key
    # Query expansion (the default) never lowers the key's own similarity: the copy scores 1.
    assert result.matches[0].score >= 0.999
    # The descriptor itself is the stored one, computed again by the same fp32 path.
    assert np.dot(vector, index.raw_vector(key)) > 0.99999


def test_self_join_pairs_images_within_their_category(corel):
    _, index = corel
    join = set_join(index, index, QuerySpec("cosine", "knn", 5))
    same = [a.split("/")[0] == m.image.split("/")[0] for a, matches in join.groups.items() for m in matches]
    assert np.mean(same) > 0.9
