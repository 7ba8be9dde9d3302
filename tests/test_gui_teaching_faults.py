"""What a teacher hit at once on the results page: the kNN -> range switch, a descriptor under which the two
metrics differ, one unit for the k-th value, and PCA dimensions the set can have."""

from __future__ import annotations

import numpy as np

from simages.gui.widgets.teaching_panel import AS_SEARCHED, cutoff_label
from simages.nearest import QuerySpec, SetIndex, key_join
from simages.nearest.core.display import format_score_short, passes, threshold_from_score
from simages.nearest.sets.cache import get_set_index
from simages.nearest.teaching.pruning import explain_pruning
from simages.nearest.teaching.views import unscaled_index
from simages.settings import Settings
from tests.gui_fixtures import FakeManager, demo_root, gui_app, make_images, only, vectors_for, write_store

KEY = "/similar?key_set=animals&image=ani001.png&set=animals"


def unit_root(tmp_path, count: int = 30) -> tuple[Settings, FakeManager]:
    """A set whose stored descriptors all have length 1, as SIMages' own descriptors do."""
    settings = Settings(root=tmp_path)
    manager = FakeManager(settings)
    names = make_images(tmp_path, "unit", count, prefix="u")
    rng = np.random.default_rng(3)
    vectors = vectors_for(names) + rng.normal(0, 0.3, (count, 8)).astype(np.float32)
    write_store(settings, "unit", names, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    manager.set("unit", state="indexed", count=count)
    return settings, manager


def shown(user) -> list[str]:
    return [m.removeprefix("result:") for e in user.find(marker="results-grid").elements
            for child in e.descendants() for m in child._markers if m.startswith("result:")]


async def test_switching_knn_to_range_starts_from_the_kth_score_shown_and_gives_the_same_images(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY + "&param=4")
        await user.should_see(marker="results-grid")
        knn = shown(user)
        assert len(knn) == 4
        kth_text = only(user, "histogram").options["series"][0]["markLine"]["label"]["formatter"]
        with user:
            only(user, "predicate").value = "range"
        threshold = only(user, "param").value
        # The k-th score, as a threshold that keeps the k-th image, not the best score (one image).
        assert kth_text.startswith("k-th: similarity ")
        index = user_index(settings, "animals")
        everything = QuerySpec("cosine", "knn", 11)
        matches = key_join(index, index.raw_vector("ani001.png"), everything, exclude="ani001.png").matches
        scores = {m.image: m.score for m in matches}
        kth = scores[knn[-1]]
        assert threshold == threshold_from_score(kth, "cosine")
        assert passes(np.array([kth]), float(threshold), "cosine")[0]
        user.find(marker="rerun").click()
        await user.should_see(marker="results-grid")
        assert shown(user) == knn


def user_index(settings: Settings, name: str) -> SetIndex:
    return get_set_index(settings, name)


async def test_the_teaching_descriptor_makes_cosine_and_euclidean_disagree_and_says_why(tmp_path):
    settings, manager = unit_root(tmp_path)
    base = "/similar?key_set=unit&image=u001.png&set=unit&param=8"
    orders = {}
    async with gui_app(settings, manager) as (_, user):
        for view in ("", "unscaled"):
            for metric in ("cosine", "euclidean"):
                await user.open(f"{base}&metric={metric}" + (f"&view={view}" if view else ""))
                await user.should_see(marker="results-grid")
                orders[view, metric] = shown(user)
                if view:
                    await user.should_see(marker="view-note")
                    assert "keep their own lengths" in list(only(user, "view-note").descendants())[-1].text
                    await user.should_not_see(marker="metrics-note")
                else:
                    await user.should_see(marker="metrics-note")
        # Unit length: the same list either way; the teaching descriptor: two lists.
        assert orders["", "cosine"] == orders["", "euclidean"]
        assert orders["unscaled", "cosine"] != orders["unscaled", "euclidean"]
        # Choosing the descriptor in the settings marks the results stale and opens its own link.
        await user.open(base)
        await user.should_see(marker="results-grid")
        with user:
            only(user, "view").value = "unscaled"
        await user.should_see(marker="stale-apply")
        user.find(marker="rerun").click()
        await user.should_see(marker="view-note")


def test_the_unscaled_view_keeps_euclidean_distances_of_a_set_without_pca():
    names = [f"x{i}.png" for i in range(20)]
    rng = np.random.default_rng(1)
    raw = rng.normal(size=(20, 6)).astype(np.float32)
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    index = SetIndex("s", names, raw, "")
    view = unscaled_index(index)
    assert unscaled_index(index) is view  # remembered with the index
    lengths = np.linalg.norm(view.vectors, axis=1)
    assert lengths.max() - lengths.min() > 0.1  # lengths kept: no longer all 1
    # Centring moves no distance: Euclidean distances are those of the searched vectors.
    d_view = np.linalg.norm(view.vectors[0] - view.vectors[1:], axis=1)
    d_index = np.linalg.norm(index.vectors[0] - index.vectors[1:], axis=1)
    assert np.allclose(d_view, d_index, atol=1e-5)


async def test_pca_dimensions_stop_at_what_the_set_allows_and_the_kth_line_names_both_units(tmp_path):
    settings, manager = demo_root(tmp_path)  # 12 animals: a PCA spans at most 11 directions
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        with user:
            only(user, "teaching-panel").value = True
        await user.should_see(marker="teaching-summary", retries=300)  # computed off the event loop
        offered = set(only(user, "teaching-dimension").options)
        assert offered == {AS_SEARCHED, 8}
        scatter = only(user, "teaching-scatter").options
        (line,) = [s["markLine"] for s in scatter["series"] if "markLine" in s]
        label = line["label"]["formatter"]
        assert "distance" in label and "= similarity" in label
        # The similarity named is the histogram's k-th score (same query, same unit-length space).
        kth_text = only(user, "histogram").options["series"][0]["markLine"]["label"]["formatter"]
        assert label.split("= similarity ")[1] == kth_text.removeprefix("k-th: similarity ")


def test_the_kth_label_converts_the_distance_to_the_similarity_of_the_same_vectors():
    rng = np.random.default_rng(2)
    raw = rng.normal(size=(40, 5)).astype(np.float32)
    index = SetIndex("s", [f"{i:02d}" for i in range(40)], raw, "gap+l2")
    picture = explain_pruning(index, index.raw_vector("00"), QuerySpec("cosine", "knn", 5), "00", pivots=4)
    answer = key_join(index, index.raw_vector("00"), QuerySpec("cosine", "knn", 5), exclude="00")
    kth = answer.matches[-1].score
    similarity = format_score_short(kth, "cosine")
    assert cutoff_label(picture) == f"k-th: distance {picture.cutoff:.3f} = similarity {similarity}"
