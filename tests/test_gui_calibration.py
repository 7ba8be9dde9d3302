"""Where a curator reads duplicate answers (join page, results page, triage page) the app says how well the
duplicate threshold works on their own photos, or honestly that it is being measured or not yet; and the
score histograms of duplicates answers mark the exact / edited / look-alike thresholds, labelled."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from simages.copies.calibration import Calibration, lock_path, save_calibration
from simages.copies.levels import DEFAULT_THRESHOLDS
from simages.store.lock import exclusive_lock
from tests.gui_fixtures import demo_root, gui_app, make_images, only, vectors_for, write_store


def collection(tmp_path: Path):
    """`animals` (24 images: a duplicates space is learned) and `mine` (an exact copy of one of them)."""
    settings, manager = demo_root(tmp_path, {"animals": 24})
    folder = settings.image_sets / "animals"
    animals = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    write_store(settings, "animals", animals, descriptor="gap+l2")  # a descriptor the space is learned for
    names = make_images(tmp_path, "mine", 2, prefix="min")
    write_store(settings, "mine", names, np.stack([vectors_for(animals)[0], -vectors_for(animals)[1]]),
                descriptor="gap+l2")
    manager.set("mine", state="indexed", count=2)
    return settings, manager, names


def measured(ctx, settings) -> Calibration:
    (space,) = ctx.descriptors.duplicates_spaces(settings).values()
    calibration = Calibration(space.fingerprint, DEFAULT_THRESHOLDS.edited, 24, 26, 0.95, 1, 0.97,
                              time.time())
    save_calibration(settings, calibration)
    return calibration


@contextmanager
def measuring(settings):
    settings.model_cache.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(lock_path(settings)):
        yield


def level_lines(chart) -> list[tuple[float, str]]:
    """(x, label) of the histogram's level marks (its second series)."""
    series = chart.options["series"]
    assert len(series) == 2, "no level marks"
    return [(d["xAxis"], d["label"]["formatter"]) for d in series[1]["markLine"]["data"]]


async def test_the_join_page_says_the_estimate_follows_it_and_marks_the_levels(tmp_path):
    settings, manager, _ = collection(tmp_path)
    async with gui_app(settings, manager) as (ctx, user):
        await user.open("/join?a=mine&b=animals&intent=duplicates")
        await user.should_see(marker="histogram", retries=50)
        await user.should_see("is not estimated yet")
        # Measured meanwhile (the app's indexer, or the CLI): the open page follows by itself.
        with measuring(settings):
            await user.should_see("is being estimated now", retries=60)
        measured(ctx, settings)
        await user.should_see("95% were found by their score alone; about 97% of the pairs that passed "
                              "were real copies", retries=60)
        await user.should_see("found by their keypoints instead (marked *)")
        lines = level_lines(only(user, "histogram"))
        assert [x for x, _ in lines] == [DEFAULT_THRESHOLDS.exact, DEFAULT_THRESHOLDS.edited,
                                         DEFAULT_THRESHOLDS.look_alike]
        # Named as score thresholds, not as levels (a level comes from the keypoints too).
        assert [label for _, label in lines] == [
            f"score ≥ {DEFAULT_THRESHOLDS.exact:g}: same pixels",
            f"score ≥ {DEFAULT_THRESHOLDS.edited:g} passes",
            f"score ≥ {DEFAULT_THRESHOLDS.look_alike:g}: look-alikes"]
        # Euclidean: the same levels as distances between unit vectors.
        await user.open("/join?a=mine&b=animals&intent=duplicates&metric=euclidean")
        await user.should_see(marker="histogram", retries=50)
        xs = [x for x, _ in level_lines(only(user, "histogram"))]
        assert np.allclose(xs, np.sqrt(2 - 2 * np.array([0.9999, 0.5, 0.3])))
        assert level_lines(only(user, "histogram"))[2][1].endswith(": look-alikes")
        assert level_lines(only(user, "histogram"))[2][1].startswith("distance ≤ ")
        # Similar images: no levels, no estimate.
        await user.open("/join?a=mine&b=animals&intent=similar")
        await user.should_see(marker="histogram", retries=50)
        assert len(only(user, "histogram").options["series"]) == 1
        await user.should_not_see(marker="calibration")


async def test_the_results_page_for_duplicates_shows_the_estimate_and_the_levels(tmp_path):
    settings, manager, mine = collection(tmp_path)
    async with gui_app(settings, manager) as (ctx, user):
        measured(ctx, settings)
        await user.open(f"/similar?key_set=mine&image={mine[0]}&set=animals&intent=duplicates")
        await user.should_see(marker="histogram", retries=50)
        await user.should_see("about 97% of the pairs that passed were real copies")
        assert [x for x, _ in level_lines(only(user, "histogram"))][1] == DEFAULT_THRESHOLDS.edited
        await user.open(f"/similar?key_set=mine&image={mine[0]}&set=animals")
        await user.should_see(marker="histogram", retries=50)
        assert len(only(user, "histogram").options["series"]) == 1
        await user.should_not_see(marker="calibration")


async def test_a_collection_too_small_to_estimate_says_so(tmp_path):
    settings, manager = demo_root(tmp_path, {"animals": 12})
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=animals&b=animals&intent=duplicates")
        await user.should_see(marker="histogram", retries=50)
        await user.should_see("fewer than 20 photos")


async def test_the_triage_page_shows_the_estimate(tmp_path):
    settings, manager, _ = collection(tmp_path)
    async with gui_app(settings, manager) as (ctx, user):
        measured(ctx, settings)
        await user.open("/triage?new=mine")
        user.find(marker="triage-check").click()
        await user.should_see(marker="triage-headline", retries=50)
        await user.should_see("about 97% of the pairs that passed were real copies", retries=60)
