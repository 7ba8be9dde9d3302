"""Simulated-user tests of the results page (`/similar`) and of the image route."""

from __future__ import annotations

from nicegui import ui

from tests.gui_fixtures import (
    current_query,
    demo_root,
    gui_app,
    make_images,
    new_user,
    only,
    write_store,
)

KEY = "/similar?key_set=animals&image=ani001.png&set=animals"


def scores(user) -> list[float]:
    return [float(label.text) for label in user.find(marker="score").elements]


async def test_results_ranked_with_scores_and_histogram(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see("The 10 most similar of 11 images in animals, by cosine similarity")
        await user.should_see(marker="key-image")
        await user.should_see("animals / ani001.png")
        await user.should_see(marker="histogram")
        values = scores(user)
        assert len(values) == 10
        # Tiles are created best first; element ids follow creation order.
        labels = sorted(user.find(marker="score").elements, key=lambda e: e.id)
        ordered = [float(label.text) for label in labels]
        assert ordered == sorted(ordered, reverse=True) and all(-1 <= v <= 1 for v in ordered)
        await user.should_not_see(marker="result:ani001.png")  # the key itself is not its own result
        await user.should_see(marker="result:ani002.png")
        (tile,) = user.find(marker="result:sub/ani003.png").elements
        caption = "".join(e.text for e in tile.descendants() if isinstance(e, ui.label) and "thumb-caption" in
                          " ".join(e.parent_slot.parent.classes))
        assert caption == "sub/ani003.png"  # the folder tells the class of a result
        chart = only(user, "histogram")
        marker = chart.options["series"][0]["markLine"]["data"][0]["xAxis"]
        # Shown similarities are rounded down (nearest.display): the k-th score lies within 0.001 above.
        assert min(values) <= marker < min(values) + 1e-3


async def test_range_query_counts_passed_images(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY + "&metric=euclidean&predicate=range&param=0.5")
        await user.should_see(marker="summary")
        text = only(user, "summary").text
        assert text.startswith(" of 11 images in animals have distance ≤ 0.5", text.index(" "))
        passed = int(text.split(" ")[0])
        assert passed == len(user.find(marker="score").elements) if passed else True
        assert all(v <= 0.5 for v in scores(user)) if passed else True
        chart = only(user, "histogram")
        assert chart.options["series"][0]["markLine"]["data"][0]["xAxis"] == 0.5


async def test_rerun_in_place_with_other_settings(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see(marker="results-grid")
        with user:
            only(user, "join-set").value = "plants"
            only(user, "metric").value = "euclidean"
            only(user, "param").value = "4"
        user.find(marker="rerun").click()
        await user.should_see("The 4 nearest of 7 images in plants, by Euclidean distance")
        # Invalid input is explained and the shown results stay.
        with user:
            only(user, "param").value = "abc"
        user.find(marker="rerun").click()
        await user.should_see("Please fix the query setting: k must be a positive integer, got 'abc'")
        await user.should_see("The 4 nearest of 7 images in plants, by Euclidean distance")


async def test_bad_links_give_friendly_pages(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/similar?key_set=animals&image=ani001.png&set=nothere")
        await user.should_see("No such image set")
        await user.open("/similar?key_set=animals&image=missing.png&set=animals")
        await user.should_see("No such image")
        await user.should_see("The set “animals” has no image named “missing.png”.")
        await user.open("/similar?key_set=animals&image=../plants/pla001.png&set=animals")
        await user.should_see("This link does not describe a search")
        await user.open("/similar?key_set=..&image=x.png&set=animals")
        await user.should_see("This link does not describe a search")
        await user.open("/similar?set=animals&upload=" + "0" * 32)
        await user.should_see("This uploaded image is no longer available")
        await user.open(KEY + "&metric=manhattan")
        await user.should_see("unknown metric 'manhattan'; choose cosine or euclidean")
        await user.open(KEY + "&param=abc")
        await user.should_see("This search cannot run")
        await user.should_see("K must be a positive integer, got 'abc'")
        await user.open(KEY + "&param=-3")
        await user.should_see("K must be a positive integer, got -3")
        await user.should_see(marker="home-link")


async def test_full_screen_viewer_keyboard_and_new_key(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see(marker="results-grid")
        dialog = user.find(kind=ui.dialog).elements.pop()
        assert not dialog.value
        user.find(marker="result:ani002.png").trigger("click")  # a plain click on the link opens the viewer
        assert dialog.value
        title = only(user, "viewer-title")
        assert title.text == "ani002.png"
        image = max(user.find(marker="viewer-image").elements, key=lambda e: e.id)  # right of the key
        assert "size=full" in image.props["src"] and "ani002.png" in image.props["src"]
        keyboard = user.find(kind=ui.keyboard).elements.pop()
        assert keyboard.active

        def press(key: str) -> None:
            args = {"action": "keydown", "repeat": False, "altKey": False, "ctrlKey": False, "metaKey": False,
                    "shiftKey": False, "key": key, "code": key, "location": 0}
            user.find(kind=ui.keyboard).trigger("key", args)

        press("ArrowRight")
        second = title.text
        assert second != "ani002.png"
        press("ArrowLeft")
        assert title.text == "ani002.png"
        press("ArrowLeft")  # wraps around to the last result
        press("ArrowRight")
        assert title.text == "ani002.png"
        press("Escape")
        assert not dialog.value
        user.find(marker="result:sub/ani003.png").trigger("click")
        user.find(marker="make-key").click()
        await user.should_see("animals / sub/ani003.png", retries=10)
        query = current_query(user)
        assert query["image"] == "sub/ani003.png" and query["key_set"] == "animals"
        assert query["path"] == "/similar"


async def test_waits_for_a_set_that_is_not_indexed_yet(tmp_path):
    settings, manager = demo_root(tmp_path)
    names = make_images(tmp_path, "late", 4, prefix="late")
    manager.set("late", state="waiting")
    async with gui_app(settings, manager) as (_, user):
        await user.open("/similar?key_set=animals&image=ani001.png&set=late")
        await user.should_see(marker="waiting")
        await user.should_see("late: waiting to be indexed.")
        manager.set("late", state="indexing", done=1, total=4)
        await user.should_see("late: indexing 1 of 4.", retries=30)
        write_store(settings, "late", names)
        manager.set("late", state="indexed", count=4)
        await user.should_see("The 4 most similar of 4 images in late, by cosine similarity", retries=30)


async def test_two_tabs_run_independent_queries(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, first):
        await first.open(KEY)
        second = new_user(first)
        await second.open("/similar?key_set=plants&image=pla002.png&set=plants&param=3")
        with first:
            only(first, "metric").value = "euclidean"
            only(first, "param").value = "2"
        first.find(marker="rerun").click()
        await first.should_see("The 2 nearest of 11 images in animals, by Euclidean distance")
        await second.should_see("The 3 most similar of 6 images in plants, by cosine similarity")
        assert len(second.find(marker="score").elements) == 3


async def test_image_route_serves_cached_thumbnails_and_validates_names(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        client = user.http_client
        response = await client.get("/image", params={"set": "animals", "name": "sub/ani000.png"})
        assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
        cached = list(settings.thumbnails.rglob("*.jpg"))
        assert len(cached) == 1
        stamp = cached[0].stat().st_mtime_ns
        again = await client.get("/image", params={"set": "animals", "name": "sub/ani000.png"})
        assert again.content == response.content and cached[0].stat().st_mtime_ns == stamp  # made once
        full = await client.get("/image", params={"set": "animals", "name": "ani001.png", "size": "full"})
        assert full.status_code == 200 and full.headers["content-type"] == "image/png"
        for params, status in (
            ({"set": "animals", "name": "../plants/pla001.png"}, 400),
            ({"set": "..", "name": "x.png"}, 400),
            ({"set": "animals", "name": "/etc/passwd"}, 400),
            ({"set": "animals", "name": "nope.png"}, 404),
            ({"set": "nope", "name": "ani001.png"}, 404),
            ({"set": "animals", "name": "ani001.png", "size": "huge"}, 400),
            ({"upload": "f" * 32}, 404),
        ):
            response = await client.get("/image", params=params)
            assert response.status_code == status, params
            assert "Traceback" not in response.text
        assert not any(p.is_relative_to(settings.image_sets) for p in settings.thumbnails.rglob("*"))


async def test_results_say_which_descriptor_and_query_expansion_made_the_scores(tmp_path):
    settings, manager = demo_root(tmp_path, {"animals": 12})
    names = make_images(tmp_path, "animals", 12, prefix="ani")
    write_store(settings, "animals", names, descriptor="gap+l2+qe2")
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see("The 10 most similar of 11 images in animals")
        (method,) = user.find(marker="method").elements
        assert "average-pooled" in method.text
        assert "averaged with its 2 nearest images (query expansion)" in method.text


async def test_query_expansion_switch_reruns_and_lives_in_the_url(tmp_path):
    settings, manager = demo_root(tmp_path, {"animals": 12, "plants": 7})
    names = make_images(tmp_path, "animals", 12, prefix="ani")
    write_store(settings, "animals", names, descriptor="gap+l2+qe2")
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see("The 10 most similar of 11 images in animals")
        await user.should_see(marker="expand")
        await user.should_see("Average the key with its 2 nearest images: better rankings; each image keeps "
                              "the better of its scores against the key and the expanded key.")
        assert only(user, "expand").value is True
        expanded = scores(user)
        with user:
            only(user, "expand").value = False
        user.find(marker="rerun").click()
        await user.should_see("Query expansion is off for this query", retries=10)
        assert "averaged with its 2 nearest images (query expansion)" not in only(user, "method").text
        assert current_query(user)["expand"] == "0"
        plain = scores(user)
        assert sorted(plain) != sorted(expanded)
        # Back on: `expand` leaves the URL (absent means on) and the expanded scores come back.
        with user:
            only(user, "expand").value = True
        user.find(marker="rerun").click()
        await user.should_see("averaged with its 2 nearest images (query expansion)", retries=10)
        assert "expand" not in current_query(user)
        assert sorted(scores(user)) == sorted(expanded)
        # A link with expand=0 opens with the switch off; plants has no qe, so the switch is hidden there.
        await user.open(KEY + "&expand=0")
        await user.should_see("Query expansion is off for this query")
        assert only(user, "expand").value is False
        assert sorted(scores(user)) == sorted(plain)
        with user:
            only(user, "join-set").value = "plants"
        await user.should_not_see(marker="expand")
        await user.open("/similar?key_set=plants&image=pla001.png&set=plants")
        await user.should_see("The 6 most similar of 6 images in plants")
        await user.should_not_see(marker="expand")
        with user:
            only(user, "join-set").value = "animals"
        await user.should_see(marker="expand")


async def test_bad_expand_parameter_gives_the_friendly_page(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        for value in ("abc", "2", "true"):
            await user.open(KEY + "&expand=" + value)
            await user.should_see("This link does not describe a search")
            await user.should_see("expand must be 0 (query expansion off) or 1 (on)")
        await user.open(KEY + "&expand=1")
        await user.should_see("The 10 most similar of 11 images in animals")


async def test_small_set_says_it_is_searched_without_pca_and_expansion(tmp_path):
    settings, manager = demo_root(tmp_path, {"animals": 12})
    names = make_images(tmp_path, "animals", 12, prefix="ani")
    write_store(settings, "animals", names, descriptor="gap+l2+pca128+qe10")
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see("The 10 most similar of 11 images in animals")
        text = only(user, "method").text
        assert "query expansion" not in text.split(" animals has too few")[0]
        assert "animals has too few images (12) to learn the rest of its descriptor" in text
        await user.should_not_see(marker="expand")


async def test_a_changed_image_gets_a_new_thumbnail_and_the_old_one_goes(tmp_path):
    import os

    from tests.gui_fixtures import png_bytes

    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        params = {"set": "animals", "name": "ani001.png"}
        first = await user.http_client.get("/image", params=params)
        source = settings.image_sets / "animals" / "ani001.png"
        source.write_bytes(png_bytes(64, 250))
        later = source.stat().st_mtime + 5
        os.utime(source, (later, later))
        second = await user.http_client.get("/image", params=params)
        assert second.status_code == 200 and second.content != first.content
        assert len(list(settings.thumbnails.rglob("*.jpg"))) == 1, "the old version's thumbnail stays behind"


def test_thumbnails_of_deleted_images_and_sets_are_pruned(tmp_path):
    import shutil

    from simages.gui.routes.thumbnails import ThumbnailCache

    settings, _ = demo_root(tmp_path)
    cache = ThumbnailCache(settings)
    kept = cache.thumbnail("animals", "ani001.png")
    gone = cache.thumbnail("animals", "ani002.png")
    other_set = cache.thumbnail("plants", "pla001.png")
    assert cache.prune() == 0 and kept.is_file() and gone.is_file()
    (settings.image_sets / "animals" / "ani002.png").unlink()
    shutil.rmtree(settings.image_sets / "plants")
    assert cache.prune() == 2
    assert kept.is_file() and not gone.exists() and not other_set.exists()


async def test_the_duplicates_question_shows_no_query_expansion_switch(tmp_path):
    # Duplicates compare the photos themselves: a set whose descriptor expands keys for "similar images"
    # does not for duplicates, so the switch is not offered there (it was shown on).
    settings, manager = demo_root(tmp_path, {"animals": 12, "plants": 7})
    names = make_images(tmp_path, "animals", 12, prefix="ani")
    write_store(settings, "animals", names, descriptor="gap+l2+qe2")
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see(marker="expand")
        with user:
            only(user, "intent").value = "duplicates"
        await user.should_not_see(marker="expand")
        await user.open(KEY + "&intent=duplicates")
        await user.should_see(marker="results-grid", retries=20)
        await user.should_not_see(marker="expand")
