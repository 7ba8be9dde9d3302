"""Simulated-user tests of what a new user ran into (issue 14): tiles that are links, history that keeps
each query and the start page as it was, set pickers that follow a stated rule, results that say when
they are stale, plain words first, tab titles naming the key, alt text."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import numpy as np
from nicegui import ui
from nicegui.functions.navigate import History

from simages.gui.pages.common import loose_images
from simages.gui.widgets.metric_note import metrics_rank_alike
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import key_join
from tests.gui_fixtures import current_query, demo_root, gui_app, make_images, only, vectors_for, write_store

KEY = "/similar?key_set=animals&image=ani001.png&set=animals"


def query_of(url: str) -> dict[str, str]:
    parsed = urlparse(url)
    return {k: v[0] for k, v in parse_qs(parsed.query).items()} | {"path": parsed.path}


def tiles(user, prefix: str) -> list:
    links = user.find(kind=ui.link).elements
    return sorted((e for e in links if any(m.startswith(prefix) for m in e._markers)), key=lambda e: e.id)


def unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


async def test_every_tile_is_a_link_to_its_search_with_the_current_settings(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        await user.should_see(marker="key-grid")
        keys = tiles(user, "thumb:")
        assert len(keys) == 12
        for tile in keys:
            name = tile._markers[0].removeprefix("thumb:")
            assert query_of(tile.props["href"]) == {"path": "/similar", "key_set": "animals", "image": name,
                                                    "set": "animals", "metric": "cosine", "predicate": "knn",
                                                    "param": "10"}
            (img,) = [e for e in tile.descendants() if e.tag == "img"]
            assert img.props["alt"] == name  # what a screen reader says
        # The links follow the settings as they change (a middle-click must open what a click would).
        with user:
            only(user, "metric").value = "euclidean"
            only(user, "param").value = "4"
            only(user, "join-set").value = "plants"
        href = query_of(tiles(user, "thumb:")[0].props["href"])
        assert (href["metric"], href["param"], href["set"]) == ("euclidean", "4", "plants")

        await user.open(KEY)
        await user.should_see(marker="results-grid")
        results = tiles(user, "result:")
        assert len(results) == 10
        for tile in results:
            name = tile._markers[0].removeprefix("result:")
            # A result's link is its own search: the same settings with it as the key.
            assert query_of(tile.props["href"]) == {"path": "/similar", "key_set": "animals", "image": name,
                                                    "set": "animals", "metric": "cosine", "predicate": "knn"}
            (img,) = [e for e in tile.descendants() if e.tag == "img"]
            assert img.props["alt"].startswith(f"{name}, similarity ")
        key_link = only(user, "key-link")
        # The full-size image of this version of the key's file (the URL changes when the file does).
        href = query_of(key_link.props["href"])
        assert href.pop("v").isalnum()
        assert href == {"path": "/image", "set": "animals", "name": "ani001.png", "size": "full"}
        (key_img,) = [e for e in key_link.descendants() if e.tag == "img"]
        assert key_img.props["alt"] == "animals / ani001.png"


async def test_each_query_is_a_history_entry_and_back_restores_it(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see("The 10 most similar of 11 images in animals, by cosine similarity")
        with user:
            only(user, "metric").value = "euclidean"
            only(user, "param").value = "3"
        user.find(marker="rerun").click()
        await user.should_see("The 3 nearest of 11 images in animals, by Euclidean distance", retries=10)
        assert [query_of(url)["path"] for url in user.back_history] == ["/similar", "/similar"]
        assert query_of(user.back_history[-1])["param"] == "3"
        # Back: the previous query, with its own settings in the panel.
        user.navigate.back()
        await user.should_see("The 10 most similar of 11 images in animals, by cosine similarity", retries=10)
        assert only(user, "metric").value == "cosine" and only(user, "param").value == "10"


async def test_back_to_the_start_page_keeps_sets_and_settings(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/similar?key_set=plants&image=pla001.png&set=animals&metric=euclidean"
                        "&predicate=range&param=0.7&expand=0")
        await user.should_see(marker="summary")
        user.find(marker="home-link").click()
        await user.should_see(marker="key-grid", retries=10)
        expected = {"path": "/", "key_set": "plants", "set": "animals", "metric": "euclidean",
                    "predicate": "range", "param": "0.7", "expand": "0"}
        assert current_query(user) == expected
        assert only(user, "key-set").value == "plants" and only(user, "join-set").value == "animals"
        assert only(user, "metric").value == "euclidean" and only(user, "predicate").value == "range"
        assert only(user, "param").value == "0.7" and only(user, "expand").value is False


async def test_start_page_keeps_its_state_in_the_url_for_back(tmp_path, monkeypatch):
    settings, manager = demo_root(tmp_path, {"big": 60, "plants": 7})
    replaced: list[str] = []  # the simulation does not apply history.replaceState: record it
    monkeypatch.setattr(History, "replace", lambda _history, url: replaced.append(url))
    async with gui_app(settings, manager) as (_, user):
        await user.open("/?key_set=big&page=2&shuffle=12345&metric=euclidean&param=4")
        await user.should_see("Images of big (60)")
        assert only(user, "shuffle").value is True and only(user, "metric").value == "euclidean"
        assert only(user, "param").value == "4"
        shown = [e._markers[0] for e in tiles(user, "thumb:")]
        assert len(shown) == 12  # page 2 of 60
        # The same URL shows the same page of the same shuffled order (what Back relies on).
        await user.open("/?key_set=big&page=2&shuffle=12345&metric=euclidean&param=4")
        await user.should_see("Images of big (60)")
        assert [e._markers[0] for e in tiles(user, "thumb:")] == shown
        # Every change is written into the URL in place.
        with user:
            only(user, "key-set").value = "plants"
        assert query_of(replaced[-1]) == {"path": "/", "key_set": "plants", "set": "plants",
                                          "metric": "euclidean", "predicate": "knn", "param": "4",
                                          "shuffle": "12345"}
        with user:
            only(user, "key-set").value = "big"
        (pagination,) = user.find(kind=ui.pagination).elements
        assert "page" not in query_of(replaced[-1])  # another key set starts on page 1
        with user:
            pagination.value = 2
        assert query_of(replaced[-1])["page"] == "2"


async def test_searched_set_follows_the_key_set_until_picked(tmp_path):
    settings, manager = demo_root(tmp_path, {"animals": 12, "plants": 7, "stones": 5})
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        await user.should_see("The set searched follows the key set, unless you pick another.")
        await user.should_not_see(marker="follow")
        with user:
            only(user, "key-set").value = "plants"
        assert only(user, "join-set").value == "plants"  # follows
        with user:
            only(user, "join-set").value = "stones"  # picked explicitly: stays
            only(user, "key-set").value = "animals"
        assert only(user, "join-set").value == "stones"
        await user.should_see("Searching stones with keys from animals")
        href = query_of(tiles(user, "thumb:")[0].props["href"])
        assert (href["key_set"], href["set"]) == ("animals", "stones")
        user.find(marker="follow").click()
        assert only(user, "join-set").value == "animals"
        with user:
            only(user, "key-set").value = "plants"
        assert only(user, "join-set").value == "plants"


async def test_changed_settings_mark_the_results_stale_until_applied(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see(marker="results-grid")
        await user.should_not_see(marker="stale")
        with user:
            only(user, "param").value = "10"  # the default it already shows: nothing changed
        await user.should_not_see(marker="stale")
        with user:
            only(user, "metric").value = "euclidean"
        await user.should_see(marker="stale")
        await user.should_see("The settings were changed: the results below are still for the previous ones.")
        grid_column = only(user, "results-grid").parent_slot.parent
        assert "results-stale" in grid_column.classes
        with user:
            only(user, "metric").value = "cosine"
        await user.should_not_see(marker="stale")
        assert "results-stale" not in grid_column.classes
        with user:
            only(user, "join-set").value = "plants"
        await user.should_see(marker="stale")
        user.find(marker="stale-apply").click()
        await user.should_see("The 7 most similar of 7 images in plants", retries=10)
        await user.should_not_see(marker="stale")


async def test_plain_words_first_titles_and_set_order(tmp_path):
    settings, manager = demo_root(tmp_path, {"dogs": 6, "Cats": 6, "beach": 6})
    names = make_images(tmp_path, "beach", 6, prefix="bea")
    write_store(settings, "beach", names, unit(vectors_for(names)), descriptor="gap+l2+pca128+qe10")
    (settings.image_sets / "stray photo.jpg").write_bytes(b"not even a picture")
    (settings.image_sets / "notes.txt").write_text("not an image name")
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        assert list(only(user, "key-set").options) == ["beach", "Cats", "dogs"]
        await user.should_see("1 image file lies directly in image_sets/ (stray photo.jpg) and so belongs "
                              "to no set: move it into a folder there")
        assert loose_images(settings.image_sets) == ["stray photo.jpg"]
        await user.open("/similar?key_set=beach&image=bea001.png&set=beach")
        await user.should_see(marker="results-grid")
        assert user.client.title == "bea001.png — similar images in beach · SIMages"
        # A plain sentence is shown; the descriptor's code only behind the Details click.
        assert only(user, "plain").text.startswith("Each image is described by what VGG-16")
        details = only(user, "details")
        assert details.value is False
        code = only(user, "descriptor-code")
        assert code.parent_slot.parent is details or details in code.ancestors()
        assert "gap+l2" in code.text
        for label in user.find(kind=ui.label).elements:
            if "gap+l2" in label.text:
                assert details in label.ancestors(), label.text


async def test_the_page_says_when_cosine_and_euclidean_must_agree(tmp_path):
    settings, manager = demo_root(tmp_path, {"unit": 12, "raw": 12})
    for name in ("unit", "raw"):
        names = make_images(tmp_path, name, 12, prefix=name[:3])
        vectors = vectors_for(names, seed=3) * np.linspace(0.5, 3, 12)[:, None].astype(np.float32)
        write_store(settings, name, names, unit(vectors) if name == "unit" else vectors)
    async with gui_app(settings, manager) as (ctx, user):
        for name in ("unit", "raw"):
            index = ctx.descriptors.get(settings, name)
            key = index.raw_vector(index.names[0])
            order = {}
            for metric in ("cosine", "euclidean"):
                spec = QuerySpec.parse(metric, "knn", 11)
                order[metric] = [m.image for m in key_join(index, key, spec, key="k", exclude=index.names[0],
                                                           limit=11).matches]
            # The note is right exactly when the two orders coincide.
            assert metrics_rank_alike(index) == (order["cosine"] == order["euclidean"]), name
            assert metrics_rank_alike(index) == (name == "unit")
        await user.open("/similar?key_set=unit&image=uni001.png&set=unit&metric=euclidean")
        await user.should_see(marker="metrics-note")
        await user.should_see("Cosine similarity and Euclidean distance list unit in the same order")
        demo = only(user, "differing-demo")
        assert "--descriptor flat" in demo.content and "unit/uni001.png" in demo.content
        await user.open("/similar?key_set=raw&image=raw001.png&set=raw&metric=euclidean")
        await user.should_see(marker="results-grid")
        await user.should_not_see(marker="metrics-note")


def test_metrics_rank_alike_on_unit_and_raw_vectors():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(20, 8)).astype(np.float32) * rng.uniform(0.2, 5, (20, 1)).astype(np.float32)
    names = [f"{i}.png" for i in range(20)]
    assert not metrics_rank_alike(SetIndex("raw", names, raw, ""))
    assert metrics_rank_alike(SetIndex("unit", names, unit(raw), ""))
