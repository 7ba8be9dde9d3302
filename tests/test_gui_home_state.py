"""The start page's state and decisions (gui/state/home.py), without drawing: a HomeTab per browser tab,
the rule that the searched set follows the key set, the shuffle order, the grid page and the URL."""

from __future__ import annotations

import random
from urllib.parse import parse_qs, urlparse

import pytest

from simages.gui.pages import home as home_page
from simages.gui.state import home
from simages.gui.state.home import PAGE_SIZE, HomeTab
from tests.gui_fixtures import demo_root, gui_app, new_user, only

SETS = ["animals", "plants", "trips"]


def test_a_link_restores_the_tab_and_unknown_values_fall_back():
    tab = HomeTab.from_params({"key_set": "plants", "set": "trips", "shuffle": "77", "page": "3"}, SETS)
    assert (tab.key_set, tab.join_set, tab.pinned, tab.seed, tab.page) == ("plants", "trips", True, 77, 3)
    fresh = HomeTab.from_params({"key_set": "gone", "page": "-2", "shuffle": "x"}, SETS, random.Random(1))
    assert (fresh.key_set, fresh.join_set, fresh.pinned, fresh.page) == ("animals", "animals", False, 1)
    assert 1 <= fresh.seed < 1 << 30
    assert HomeTab.from_params({}, []).key_set is None
    assert home.shuffled_link({"shuffle": "77"}) and not home.shuffled_link({"shuffle": "0"})
    assert not home.shuffled_link({})


def test_the_searched_set_follows_the_key_set_until_picked_by_hand():
    tab = HomeTab.from_params({"key_set": "animals"}, SETS)
    assert tab.choose_key_set("plants") and tab.join_set == "plants" and not tab.offers_follow()
    assert tab.follow_hint() == "The set searched follows the key set, unless you pick another."
    tab.choose_join_set("trips")
    assert tab.pinned and tab.offers_follow()
    assert tab.follow_hint() == "Searching trips with keys from plants, until you pick the key set again."
    tab.page = 4
    assert not tab.choose_key_set("animals") and tab.join_set == "trips" and tab.page == 1  # pinned stays
    assert tab.follow_key_set() == "animals" and not tab.pinned
    tab.choose_join_set("animals")
    assert not tab.pinned and not tab.offers_follow()


def test_the_grid_page_stays_within_the_pages_there_are():
    tab = HomeTab.from_params({"page": "9"}, SETS)
    shown = tab.grid_page(PAGE_SIZE + 5)
    assert (shown.page, shown.pages, shown.start, shown.stop) == (2, 2, PAGE_SIZE, PAGE_SIZE + 5)
    assert tab.page == 2
    tab.page = 1
    assert tab.grid_page(3) == home.GridPage(1, 1, 0, 3)


def test_the_shuffle_order_is_the_tabs_own_and_a_new_one_starts_at_page_one():
    names = [f"{i:03d}.jpg" for i in range(30)]
    tab = HomeTab.from_params({"shuffle": "5", "page": "2"}, SETS)
    assert tab.ordered(names, shuffled=False) == names
    once = tab.ordered(names, shuffled=True)
    assert once == tab.ordered(names, shuffled=True) and sorted(once) == names and once != names
    tab.reshuffle(random.Random(3))
    assert tab.page == 1 and tab.ordered(names, shuffled=True) != once


def test_the_url_carries_the_tab_and_the_settings():
    tab = HomeTab("plants", "trips", True, 77, 2)
    query = parse_qs(urlparse(tab.url("euclidean", "range", "0.5", False, shuffled=True)).query)
    assert {k: v[0] for k, v in query.items()} == {
        "key_set": "plants", "set": "trips", "metric": "euclidean", "predicate": "range", "param": "0.5",
        "expand": "0", "page": "2", "shuffle": "77"}
    plain = parse_qs(urlparse(HomeTab("plants", "plants", False, 77, 1).url("cosine", "knn", "", True,
                                                                            shuffled=False)).query)
    assert "page" not in plain and "shuffle" not in plain and "expand" not in plain


def test_removed_sets_are_named_once_in_order():
    tab = HomeTab("trips", "trips", False, 1)
    assert tab.gone(["animals"]) == ["trips"]
    assert HomeTab("trips", "plants", True, 1).gone(["animals"]) == ["trips", "plants"]
    assert HomeTab("animals", "plants", True, 1).gone(SETS) == []


@pytest.mark.parametrize(("state", "indexed", "note"), [
    ("indexed", True, None), (None, True, None), ("indexing", True, "indexing"),
    ("waiting", False, "indexing"),
    ("failed", False, "failed"), ("not indexed", False, "not indexed"), ("indexed", False, "not indexed"),
])
def test_which_note_a_key_set_gets(state, indexed, note):
    assert home.key_set_note(state, indexed) == note


async def test_two_tabs_get_their_own_state(tmp_path, monkeypatch):
    made: list[HomeTab] = []
    original = HomeTab.from_params

    def recorded(params, sets, rng=None) -> HomeTab:
        made.append(original(params, sets, rng))
        return made[-1]

    monkeypatch.setattr(home_page.HomeTab, "from_params", staticmethod(recorded))
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, first):
        second = new_user(first)
        await first.open("/")
        await second.open("/")
        assert len(made) == 2 and made[0] is not made[1]
        with first:
            only(first, "key-set").value = "plants"  # the first tab only
        await first.should_see(marker="thumb:pla001.png")
        assert (made[0].key_set, made[0].join_set) == ("plants", "plants")
        assert (made[1].key_set, made[1].join_set) == ("animals", "animals")
        await second.should_see(marker="thumb:ani001.png")
