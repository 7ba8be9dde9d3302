"""The shipped demo set: every image documented (source and licence), and with the real weights it shows
what the README promises: a near-duplicate pair far above everything else, portraits nearest each other."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from simages.naming import is_image_name
from tests.conftest import REPO

DEMO = REPO / "image_sets" / "demo"


def demo_images() -> list[str]:
    return sorted(p.relative_to(DEMO).as_posix() for p in DEMO.rglob("*") if is_image_name(p.name))


def test_every_demo_image_has_its_source_and_licence_in_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## The demo set"):readme.index("## Tests")]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([^`]+)` \|.*$", section, re.M)}
    images = demo_images()
    assert len(images) >= 8 and len({name.split("/")[0] for name in images}) >= 3  # a few kinds, several each
    assert sorted(rows) == images
    for name, row in rows.items():
        licence = row.rstrip(" |").rsplit("|", 1)[-1]
        assert re.search(r"public domain|CC0|CC BY", licence), (name, licence)
    assert sum(DEMO.joinpath(name).stat().st_size for name in images) < 3_000_000  # still small


@pytest.mark.slow
def test_demo_joins_show_the_near_duplicate_and_the_portraits(tmp_path, weights_path):
    from simages.jobs.indexer import index_set
    from simages.nearest.core.query_spec import QuerySpec
    from simages.nearest.joins.join import iter_set_join
    from simages.nearest.sets.cache import DescriptorCache
    from simages.settings import Settings

    shutil.copytree(DEMO, tmp_path / "image_sets" / "demo")
    settings = Settings(root=tmp_path, weights=Path(weights_path))
    index_set(settings, "demo")
    index = DescriptorCache().get(settings, "demo")
    joined = dict(iter_set_join(index, index, QuerySpec.parse("cosine", "knn", 2)))  # a self-join
    nearest = {key: [(m.image, m.score) for m in matches] for key, matches in joined.items()}
    assert nearest["cats/chelsea.jpg"][0][0] == "cats/chelsea_edited.jpg"
    duplicate_score = nearest["cats/chelsea.jpg"][0][1]
    others = [s for key, found in nearest.items() for image, s in found if "chelsea" not in key + image]
    assert duplicate_score > 0.9 > max(others)
    for portrait in ("astronaut", "cameraman", "grace_hopper"):
        assert {image.split("/")[0] for image, _ in nearest[f"people/{portrait}.jpg"]} == {"people"}
