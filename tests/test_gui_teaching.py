"""The teaching panel on the results page, and the picture behind it."""

from __future__ import annotations

import numpy as np
import pytest
from nicegui import ui

from simages.gui.widgets.teaching_panel import (
    bounds_scatter_options,
    cost_bar_options,
    mount_join_request_panel,
    mount_join_teaching_panel,
    small_set_text,
    summary_text,
)
from simages.nearest import QuerySpec, SetIndex, key_join
from simages.nearest.core.distribution import default_threshold
from simages.nearest.core.intents import intent_named
from simages.nearest.teaching.pruning import estimate_join_cost, explain_pruning
from simages.nearest.teaching.query_cost import IndexChoice, explained_set_join
from simages.nearest.teaching.reduced import pair_share, reduced_index
from tests.gui_fixtures import demo_root, gui_app, only, write_store

KEY = "/similar?key_set=animals&image=ani001.png&set=animals"


def clustered_index(n: int = 400, d: int = 64) -> SetIndex:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, d))
    low_rank = centres[np.arange(n) % 8] + 0.2 * rng.normal(size=(n, d))
    return SetIndex("c", [f"c{i % 8}/{i:03d}.jpg" for i in range(n)], low_rank.astype(np.float32), "gap+l2")


def test_the_picture_accounts_for_every_image_and_matches_brute_force():
    index = clustered_index()
    key = index.names[5]
    spec = QuerySpec("cosine", "knn", 10)
    picture = explain_pruning(index, index.raw_vector(key), spec, key, pivots=16)
    assert picture.identical and picture.images_total == 399 and len(picture.images) == 399
    counts = {s: int((picture.status == s).sum()) for s in ("pivot", "answer", "computed", "pruned")}
    assert counts["answer"] == 10 and 0 < counts["pivot"] <= picture.pivot.pivots
    assert counts["pivot"] + counts["answer"] + counts["computed"] == picture.pivot.computed
    assert counts["pruned"] == picture.pivot.pruned
    answers = [m.image for m in key_join(index, index.raw_vector(key), spec, exclude=key).matches]
    assert sorted(np.array(picture.images)[picture.status == "answer"]) == sorted(answers)
    # Bounds never exceed true distances; every pruned image lies above the final k-th distance.
    assert np.all(picture.lower_bounds <= picture.true_distances + 1e-5)
    assert np.all(picture.lower_bounds[picture.status == "pruned"] > picture.cutoff)
    options = bounds_scatter_options(picture)
    drawn = sum(len(s["data"]) for s in options["series"] if s["type"] == "scatter")
    assert drawn == 399
    bar = cost_bar_options(picture)
    used = picture.pivot.pivots
    pivot_bar = [s["data"][1] for s in bar["series"]]
    assert pivot_bar == [used, picture.pivot.computed - used, picture.pivot.pruned]
    assert "ruled out" in summary_text(picture) and "same answer" in summary_text(picture)


def test_pruning_collapses_as_the_dimension_grows():
    index = clustered_index()
    key = index.names[0]
    spec = QuerySpec("euclidean", "knn", 10)
    low = explain_pruning(index, index.raw_vector(key), spec, key, pivots=16, dimension=4)
    high = explain_pruning(index, index.raw_vector(key), spec, key, pivots=16, dimension=64)
    assert low.dimension == 4 and high.dimension == 64
    assert low.pivot.computed < high.pivot.computed
    assert low.rho.rho < high.rho.rho and low.identical and high.identical


def test_a_range_query_in_a_pca_view_asks_the_same_share_of_pairs_and_says_so():
    index = clustered_index()
    key = index.names[0]
    threshold = round(default_threshold(index, "cosine", 0.05), 2)  # about 5% of the pairs pass
    picture = explain_pruning(index, index.raw_vector(key), QuerySpec("cosine", "range", threshold), key,
                              pivots=8, dimension=8)
    view = reduced_index(index, 8)
    searched_share = pair_share(index, "cosine", threshold)
    assert 0.01 < searched_share < 0.2
    assert pair_share(view, "cosine", picture.spec.param, expand=False) == pytest.approx(searched_share,
                                                                                       abs=0.002)
    assert picture.spec.param != threshold and f"as pass {threshold:g} in the searched space" in picture.note
    assert picture.identical and not picture.spec.expand


def test_large_sets_are_sampled_for_drawing_but_keep_every_answer():
    index = clustered_index(n=600, d=16)
    key = index.names[1]
    picture = explain_pruning(index, index.raw_vector(key), QuerySpec("cosine", "knn", 30), key,
                              pivots=8, max_points=100)
    assert len(picture.images) == 100 and (picture.status == "answer").sum() == 30


async def test_results_page_panel_opens_and_follows_its_controls(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see("How was this computed?")
        await user.should_not_see(marker="teaching-summary")  # closed: nothing computed
        with user:
            only(user, "teaching-panel").value = True
        await user.should_see(marker="teaching-summary")
        text = only(user, "teaching-summary").text
        assert "Brute force computed all 11 distances" in text and "same answer" in text
        # 12 images: the default is about sqrt(12) pivots, not 32 (every image a pivot), and the panel
        # says the set is too small to show pruning, naming a larger set.
        assert only(user, "teaching-pivots").value == 3
        await user.should_see(marker="teaching-small-set")
        assert "too small to show pruning" in only(user, "teaching-small-set").text
        scatter = only(user, "teaching-scatter")
        assert sum(len(s["data"]) for s in scatter.options["series"] if s["type"] == "scatter") == 11
        with user:
            only(user, "teaching-pivots").value = 2
        await user.should_see("2 to its pivots")
        await user.should_see(marker="teaching-rho")
        # A new search keeps the panel open with its settings.
        user.find(marker="rerun").click()
        await user.should_see("2 to its pivots")


def test_join_cost_estimate_matches_the_join_and_samples_large_sets():
    a, b = clustered_index(n=60, d=16), clustered_index(n=120, d=16)
    spec = QuerySpec("cosine", "knn", 5)
    whole = estimate_join_cost(a, b, spec, pivots=8)
    groups, tally = explained_set_join(a, b, spec, IndexChoice("pivots", 8))
    list(groups)
    assert whole.identical and whole.keys == whole.keys_total == 60
    assert (whole.pivot.computed, whole.pivot.total) == (tally.cost.computed, tally.cost.total)
    assert whole.brute.computed == whole.brute.total == 60 * 120
    assert whole.pivot_distances == 8 * 60
    selfjoin = estimate_join_cost(b, b, spec, pivots=8, max_keys=30)
    assert selfjoin.keys == 30 and selfjoin.keys_total == 120 and selfjoin.brute.total == 30 * 119


async def test_join_panel_shows_the_whole_join_and_one_chosen_key(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (ctx, user):

        @ui.page("/teaching-join")
        def page() -> None:
            a = ctx.descriptors.get(ctx.settings, "animals")
            b = ctx.descriptors.get(ctx.settings, "plants")
            mount_join_teaching_panel(ctx, {}, ui.column(), a, b, QuerySpec("euclidean", "knn", 2))

        await user.open("/teaching-join")
        with user:
            only(user, "teaching-panel").value = True
        await user.should_see(marker="teaching-join-summary")
        text = only(user, "teaching-join-summary").text
        assert "join of animals against plants" in text and "all 84 distances" in text
        assert "same pairs" in text
        first = only(user, "teaching-key").value
        await user.should_see(f"For one key of animals, {first}:")
        with user:
            only(user, "teaching-key").value = "ani002.png"
        await user.should_see("For one key of animals, ani002.png:")
        assert "all 7 distances" in only(user, "teaching-summary").text


async def test_join_page_mounts_the_panel_for_one_searched_set_only(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=animals&b=plants&predicate=knn&param=2")
        await user.should_see(marker="teaching-panel", retries=50)
        with user:
            only(user, "teaching-panel").value = True
        await user.should_see(marker="teaching-join-summary", retries=50)
        assert "all 84 distances" in only(user, "teaching-join-summary").text
    settings, manager = demo_root(tmp_path / "other", {"animals": 12, "plants": 7, "rocks": 5})
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=animals&others=1&predicate=knn&param=2")  # B: all other sets
        await user.should_see(marker="summary", retries=50)
        await user.should_see(marker="histogram", retries=50)
        await user.should_not_see(marker="teaching-panel")


async def test_join_panel_reads_the_sets_as_the_joins_intent_does(tmp_path):
    settings, manager = demo_root(tmp_path)
    for name in ("animals", "plants"):  # stores that name their descriptor, so the intents differ
        index_names = sorted(p.relative_to(settings.image_sets / name).as_posix()
                             for p in (settings.image_sets / name).rglob("*.png"))
        write_store(settings, name, index_names, descriptor="gap+l2")
    async with gui_app(settings, manager) as (ctx, user):
        mounted = {}

        @ui.page("/teaching-intent")
        def page() -> None:
            spec = QuerySpec("cosine", "range", 0.9)
            for intent in ("similar", "duplicates"):
                mounted[intent] = mount_join_request_panel(ctx, {}, ui.column(), "animals", ("plants",), spec,
                                                           intent)
            mounted["several"] = mount_join_request_panel(ctx, {}, ui.column(), "animals",
                                                          ("plants", "animals"), spec)

        await user.open("/teaching-intent")
        similar, duplicates = mounted["similar"].index, mounted["duplicates"].index
        reading = ctx.descriptors.get(ctx.settings, "plants", intent_named("duplicates"))
        plain = ctx.descriptors.get(ctx.settings, "plants", intent_named("similar"))
        assert np.array_equal(duplicates.vectors, reading.vectors)
        assert not np.array_equal(duplicates.vectors, similar.vectors)
        assert np.array_equal(similar.vectors, plain.vectors)
        assert mounted["several"] is None


def test_small_set_sentence_only_where_pruning_cannot_show():
    index = clustered_index()
    spec = QuerySpec.parse("euclidean", "knn", "5")
    big = explain_pruning(index, index.raw_vector(index.names[0]), spec, index.names[0], 20)
    assert big.pivot.pruned > 0 and small_set_text(len(index), big) == ""
    tiny = SetIndex("t", [f"{i}.jpg" for i in range(9)], index.vectors[:9].copy(), "gap+l2")
    every = explain_pruning(tiny, tiny.raw_vector("0.jpg"), spec, "0.jpg", 32)
    assert "every image is a pivot" in small_set_text(len(tiny), every)
    assert "larger set" in small_set_text(len(tiny), every)
