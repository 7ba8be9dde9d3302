"""The join page says what changed between the two images of each copy pair (duplicates intent), from the
files' headers and bytes, and nothing for look-alikes or similar-images joins."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from tests.gui_fixtures import demo_root, gui_app, make_images, vectors_for, write_store


def collection(tmp_path):
    """`animals` (24 images) and `mine`: a half-size copy of animals' first image (the same descriptor), and
    an unrelated image."""
    settings, manager = demo_root(tmp_path, {"animals": 24})
    folder = settings.image_sets / "animals"
    animals = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    write_store(settings, "animals", animals, descriptor="gap+l2")
    names = make_images(tmp_path, "mine", 2, prefix="min")
    Image.open(folder / animals[0]).resize((30, 20)).save(settings.image_sets / "mine" / names[0])
    write_store(settings, "mine", names, np.stack([vectors_for(animals)[0], -vectors_for(animals)[1]]),
                descriptor="gap+l2")
    manager.set("mine", state="indexed", count=2)
    return settings, manager, animals[0], names


async def test_a_copy_pair_says_it_is_smaller(tmp_path):
    settings, manager, first, mine = collection(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=mine&b=animals&intent=duplicates")
        await user.should_see(marker="pairs-view", retries=50)
        (card,) = user.find(marker=f"pair:{mine[0]}|animals/{first}").elements
        said = [e.text for e in card.descendants() if "pair-changed" in e._markers]
        assert said == [f"changed: mine/{mine[0]} is smaller (30×20 vs 60×40), resized"]
        await user.open("/join?a=mine&b=animals&intent=similar")
        await user.should_see(marker="pairs-view", retries=50)
        await user.should_not_see(marker="pair-changed")


@pytest.mark.parametrize("checked", [True, False], ids=["keypoints-checked", "while-checking"])
async def test_compare_gives_the_pairs_level_its_meaning_and_what_changed(tmp_path, monkeypatch, checked):
    from nicegui import ui
    from nicegui.testing.user_interaction import UserInteraction

    from simages.copies.levels import Level
    from simages.jobs import join_runner

    release = threading.Event()
    if not checked:  # the keypoint check (a background step) still running while the pair is compared
        check = join_runner.join_pair_levels
        monkeypatch.setattr(join_runner, "join_pair_levels",
                            lambda *args, **kwargs: release.wait(30) and check(*args, **kwargs))
    settings, manager, first, mine = collection(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=mine&b=animals&intent=duplicates")
        await user.should_see(marker="pairs-view", retries=50)
        (card,) = user.find(marker=f"pair:{mine[0]}|animals/{first}").elements
        (images,) = [e for e in card.descendants() if "pair-images" in e._markers]
        dialog = user.find(kind=ui.dialog).elements.pop()
        UserInteraction(user, {images}, None).click()
        assert dialog.value
        caption = user.find(marker="viewer-caption").elements.pop().text
        assert f"{Level.EDITED.title}: {Level.EDITED.meaning}" in caption  # a resize: not the same pixels
        assert f"changed: mine/{mine[0]} is smaller (30×20 vs 60×40), resized" in caption
        release.set()
