"""The results page asks either question about one key (an image of a set or an upload): similar images,
or "is this photo already in the set?" (review finding 3). The intent is part of the /similar URL."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from simages.gui.urls.query import InvalidQuery, QueryState, from_params, results_url, to_params
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.duplicates.exact import duplicate_threshold
from tests.gui_fixtures import demo_root, gui_app, make_images, only, vectors_for, write_store


def test_the_intent_is_part_of_the_url_and_duplicates_default_to_a_range_query():
    state = from_params({"set": "s", "key_set": "s", "image": "a.jpg", "intent": "duplicates"})
    assert (state.intent, state.predicate) == ("duplicates", "range")
    assert from_params(to_params(state)) == state
    assert "intent=duplicates" in results_url(state)
    # A kNN asked for explicitly stays kNN; no intent is similar images, as before.
    knn = from_params({"set": "s", "image": "a.jpg", "intent": "duplicates", "predicate": "knn"})
    assert knn.predicate == "knn"
    assert from_params({"set": "s", "image": "a.jpg"}).intent == "similar"
    assert "intent" not in to_params(QueryState("s", key_set="s", image="a.jpg"))
    with pytest.raises(InvalidQuery, match="intent"):
        from_params({"set": "s", "image": "a.jpg", "intent": "copies"})


def collection_with_a_copy(tmp_path):
    """`animals` (12 images) and `mine`: an exact copy of animals' first image and an unrelated one."""
    settings, manager = demo_root(tmp_path)
    animals = sorted(p.relative_to(settings.image_sets / "animals").as_posix()
                     for p in (settings.image_sets / "animals").rglob("*.png"))
    names = make_images(tmp_path, "mine", 2, prefix="min")
    # The copy is the same file (an exact copy is the same pixels, not only the same descriptor).
    shutil.copyfile(settings.image_sets / "animals" / animals[0], settings.image_sets / "mine" / names[0])
    vectors = np.stack([vectors_for(animals)[0], -vectors_for(animals)[1]])
    write_store(settings, "mine", names, vectors)
    manager.set("mine", state="indexed", count=2)
    return settings, manager, animals[0], names


async def test_duplicates_of_one_key_at_the_duplicate_threshold_with_a_plain_answer(tmp_path):
    settings, manager, first, mine = collection_with_a_copy(tmp_path)
    async with gui_app(settings, manager) as (ctx, user):
        # The copy is found in the collection ...
        await user.open(f"/similar?key_set=mine&image={mine[0]}&set=animals&intent=duplicates")
        await user.should_see(marker=f"result:{first}")
        assert only(user, "intent").value == "duplicates"
        # Its level: the same pixels (identical descriptor) are an exact copy.
        await user.should_see(marker="pair-level:exact")
        assert only(user, "predicate").value == "range"
        animals = ctx.descriptors.get(settings, "animals", DUPLICATES)
        threshold = float(only(user, "param").value)
        assert threshold == pytest.approx(duplicate_threshold("cosine", animals), abs=1e-3)
        # ... and a photo with no copy gets a plain no, not the key's own top 1%.
        await user.open(f"/similar?key_set=mine&image={mine[1]}&set=animals&intent=duplicates")
        await user.should_see("No duplicate of this photo in animals.")
        # The same page as similar images lists the nearest images, as before.
        await user.open(f"/similar?key_set=mine&image={mine[1]}&set=animals")
        await user.should_see(marker="results-grid")
        assert only(user, "intent").value == "similar"
        await user.should_not_see(marker="pair-level:exact")  # likeness, not copying: no levels


async def test_switching_the_intent_makes_a_new_duplicates_query(tmp_path):
    settings, manager, _, mine = collection_with_a_copy(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(f"/similar?key_set=mine&image={mine[1]}&set=animals")
        await user.should_see(marker="results-grid")
        with user:
            only(user, "intent").value = "duplicates"
        assert only(user, "predicate").value == "range"
        await user.should_see(marker="stale")
        user.find(marker="rerun").click()
        await user.should_see("No duplicate of this photo in animals.")


async def test_a_result_is_an_exact_copy_only_when_its_file_has_the_keys_pixels(tmp_path):
    """Walk 3: the /similar chips gave "Exact copy" by the score alone, while the join pairs, the CLI and
    triage ask the files (simages.copies.pixels.same_pixels): an enlarged copy scoring 1 is an edited one."""
    settings, manager = demo_root(tmp_path)
    animals = sorted(p.relative_to(settings.image_sets / "animals").as_posix()
                     for p in (settings.image_sets / "animals").rglob("*.png"))
    folder = settings.image_sets / "mine"
    folder.mkdir(parents=True)
    shutil.copyfile(settings.image_sets / "animals" / animals[0], folder / "same.png")
    with Image.open(settings.image_sets / "animals" / animals[1]) as image:
        image.resize((120, 80)).save(folder / "bigger.png")
    write_store(settings, "mine", ["bigger.png", "same.png"],
                np.stack([vectors_for(animals)[1], vectors_for(animals)[0]]))  # each scores 1 with its own
    manager.set("mine", state="indexed", count=2)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/similar?key_set=mine&image=same.png&set=animals&intent=duplicates")
        await user.should_see(marker=f"result:{animals[0]}")
        await user.should_see(marker="pair-level:exact")
        await user.open("/similar?key_set=mine&image=bigger.png&set=animals&intent=duplicates")
        await user.should_see(marker=f"result:{animals[1]}")
        await user.should_see(marker="pair-level:edited")
        await user.should_not_see(marker="pair-level:exact")
