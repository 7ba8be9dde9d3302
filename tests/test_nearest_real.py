"""Real VGG-16 descriptors on Corel-1k: a dinosaur key must find dinosaurs before horses.

Runs once extraction (`simages.extraction.describe`) and indexing (`simages.jobs.indexer`) exist and the
weights file and Corel-1k are present next to the repository; otherwise it is skipped.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from simages.nearest import DescriptorCache, QuerySpec, key_join, set_join
from simages.settings import Settings

SHARED = Path(__file__).resolve().parents[2] / "shared"
WEIGHTS = SHARED / "weights" / "vgg16_imagenet_notop.h5"
COREL = SHARED / "data" / "corel1k"
CATEGORIES = ("dinosaurs", "horses")


def _missing() -> str | None:
    for module in ("simages.extraction.describe", "simages.jobs.indexer"):
        try:
            if importlib.util.find_spec(module) is None:
                return f"{module} is not available yet"
        except ModuleNotFoundError:
            return f"{module} is not available yet"
    if not WEIGHTS.is_file():
        return f"weights file {WEIGHTS} is absent"
    if not all((COREL / c).is_dir() for c in CATEGORIES):
        return f"Corel-1k categories {CATEGORIES} are absent under {COREL}"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_missing() is not None, reason=str(_missing()))]


@pytest.fixture(scope="module")
def corel(tmp_path_factory):
    from simages.jobs.indexer import index_set

    root = tmp_path_factory.mktemp("corel-root")
    for category in CATEGORIES:
        shutil.copytree(COREL / category, root / "image_sets" / "corel" / category)
    settings = Settings.from_env(root=root, weights=WEIGHTS)
    index_set(settings, "corel")
    return settings, DescriptorCache().get(settings, "corel")


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_dinosaur_key_returns_dinosaurs_first(corel, metric):
    _, index = corel
    assert len(index) == sum(len(list((COREL / c).iterdir())) for c in CATEGORIES)
    key = sorted(name for name in index.names if name.startswith("dinosaurs/"))[0]
    result = key_join(index, index.raw_vector(key), QuerySpec(metric, "knn", 20), exclude=key)
    assert [m.image.split("/")[0] for m in result.matches] == ["dinosaurs"] * 20


def test_uploaded_copy_of_an_image_finds_that_image_first(corel):
    from simages.extraction.describe import describe_file

    settings, index = corel
    key = sorted(name for name in index.names if name.startswith("horses/"))[0]
    vector = np.asarray(describe_file(COREL / key, settings), np.float32)
    result = key_join(index, vector, QuerySpec("cosine", "knn", 5))
    assert result.matches[0].image == key
    assert result.matches[0].score > 0.999


def test_self_join_pairs_images_within_their_category(corel):
    _, index = corel
    join = set_join(index, index, QuerySpec("cosine", "knn", 5))
    same = [a.split("/")[0] == m.image.split("/")[0] for a, matches in join.groups.items() for m in matches]
    assert np.mean(same) > 0.9
