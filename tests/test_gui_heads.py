"""The results page's trained-descriptor picker: a head chosen there ranks as the CLI's cache does."""

from __future__ import annotations

import numpy as np

from simages.nearest import DescriptorCache, QuerySpec, key_join
from simages.nearest.core.distribution import key_threshold
from simages.training import registry
from tests.gui_fixtures import DIM, demo_root, gui_app, make_images, only, write_store

KEY = "/similar?key_set=animals&image=ani001.png&set=animals"


def _root_with_head(tmp_path):
    settings, manager = demo_root(tmp_path, {})
    names = make_images(tmp_path, "animals", 12, prefix="ani")
    write_store(settings, "animals", names, descriptor="gap+l2")
    manager.set("animals", state="indexed", count=12)
    rng = np.random.default_rng(3)
    projection = rng.normal(size=(DIM, DIM)).astype(np.float32)  # far from the identity: rankings change
    registry.save_head(settings.features, "h", projection, {
        "base_descriptor": "gap+l2", "set": "animals",
        "metrics": {"baseline": {"mAP": 0.5}, "trained": {"mAP": 0.4}}, "beats_baseline": False,
    })
    return settings, manager


async def test_head_chosen_on_the_page_ranks_as_the_cli_does(tmp_path):
    settings, manager = _root_with_head(tmp_path)
    spec = registry.resolve_descriptor("head:h", settings.features)
    index = DescriptorCache().get(settings, "animals", spec)
    expected = key_join(index, index.raw_vector("ani001.png"), QuerySpec("cosine", "knn", 10),
                        exclude="ani001.png")
    untrained_index = DescriptorCache().get(settings, "animals")
    untrained = key_join(untrained_index, untrained_index.raw_vector("ani001.png"),
                         QuerySpec("cosine", "knn", 10), exclude="ani001.png")
    assert [m.image for m in expected.matches] != [m.image for m in untrained.matches]
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see(marker="head")
        select = only(user, "head")
        assert "not better than untrained" in str(select.options)
        await user.open(KEY + "&head=h")
        await user.should_see(marker="results-grid")
        for match in expected.matches:
            await user.should_see(marker=f"result:{match.image}")
        scores = sorted((float(label.text) for label in user.find(marker="score").elements), reverse=True)
        assert np.allclose(scores, [round(m.score, 3) for m in expected.matches], atol=1.5e-3)
        # A range search without a threshold uses the key's own suggestion in the head's space.
        await user.open(KEY + "&head=h&predicate=range")
        await user.should_see(marker="results-grid")
        threshold = key_threshold(index, index.raw_vector("ani001.png"), "cosine", "ani001.png")
        ranged = sorted((float(label.text) for label in user.find(marker="score").elements), reverse=True)
        assert ranged and min(ranged) >= threshold - 1e-3


async def test_unknown_head_in_a_link_says_so(tmp_path):
    settings, manager = _root_with_head(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY + "&head=nope")
        await user.should_see("no trained head 'nope'")


async def test_join_page_joins_with_the_chosen_head_as_the_cli_does(tmp_path):
    settings, manager = _root_with_head(tmp_path)
    spec = registry.resolve_descriptor("head:h", settings.features)
    index = DescriptorCache().get(settings, "animals", spec)
    nearest = QuerySpec("cosine", "knn", 1)
    best = max(key_join(index, index.raw_vector(name), nearest, exclude=name).matches[0].score
               for name in index.names)
    plain = DescriptorCache().get(settings, "animals")
    untrained = max(key_join(plain, plain.raw_vector(name), nearest, exclude=name).matches[0].score
                    for name in plain.names)
    assert abs(best - untrained) > 0.01  # the page can only match `best` by applying the head
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=animals&b=animals&predicate=knn&param=3&head=h")
        await user.should_see(marker="pairs-view", retries=50)
        await user.should_see(marker="head")
        assert only(user, "head").value == "h"
        shown = sorted((float(e.text.split()[-1]) for e in user.find(marker="pair-score").elements),
                       reverse=True)
        assert abs(shown[0] - best) < 1.5e-3
        await user.open("/join?a=animals&b=animals&predicate=knn&param=3&head=nope")
        await user.should_see("no trained head 'nope'", retries=50)
