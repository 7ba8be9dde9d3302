"""The join page's state and decisions (gui/state/join.py), without drawing: a JoinTab per browser tab,
what the pickers describe, what "Join" does, the views and pages, and the waiting and progress lines."""

from __future__ import annotations

from types import SimpleNamespace

from simages.gui.context import GuiContext
from simages.gui.join.views import GROUPS_PER_PAGE, PAIRS_PER_PAGE
from simages.gui.pages import join as join_page
from simages.gui.state import join as state
from simages.gui.state.join import ALL_OTHERS, VIEW_LABELS, JoinTab
from simages.gui.urls.join import JoinState, join_url
from simages.nearest.core.query_spec import QuerySpec
from tests.gui_fixtures import demo_root, gui_app, new_user, only

LISTED = JoinState("animals", "plants", predicate="knn", param="3", view="knn", page=2)


def test_the_pickers_describe_a_join_before_it_is_applied():
    assert state.picked(LISTED, "plants", ALL_OTHERS, "duplicates", None, False) == LISTED.with_(
        a="plants", b=None, intent="duplicates")
    assert state.picked(LISTED, None, "animals", "similar", "", True, page=1) == LISTED.with_(
        b="animals", head=None, page=1)  # no set A picked: the listed one
    assert state.picked(LISTED.with_(head="mine"), "animals", "plants", "similar", None, False).head == "mine"
    assert state.picked(LISTED, "animals", "plants", "similar", "mine", True).head == "mine"
    assert state.b_of(ALL_OTHERS) is None and state.b_of("plants") == "plants"
    options = {"plants": "plants", ALL_OTHERS: "All other sets"}
    assert state.b_value(LISTED, options) == "plants"
    assert state.b_value(LISTED.with_(b=None), options) == ALL_OTHERS
    assert state.b_value(LISTED.with_(b="gone"), options) is None


def test_join_runs_in_place_or_opens_the_new_joins_page_and_groups_fall_back_where_they_mean_nothing():
    assert state.applied(LISTED, LISTED) == (LISTED, None)
    other = LISTED.with_(param="5")
    assert state.applied(LISTED, other) == (other, join_url(other))
    knn_groups = LISTED.with_(view="groups")  # a kNN join of two sets: groups would link everything
    assert state.applied(LISTED, knn_groups)[0].view == "pairs"
    self_groups = LISTED.with_(b="animals", view="groups")
    assert state.applied(LISTED, self_groups)[0].view == "groups"
    assert state.groups_apply(LISTED.with_(predicate="range"))


def test_the_view_toggle_offers_groups_only_where_they_apply():
    options, shown = state.view_choices(LISTED.with_(view="groups"))
    assert "groups" not in options and shown == "pairs"
    options, shown = state.view_choices(LISTED.with_(b="animals", view="groups"))
    assert options == VIEW_LABELS and shown == "groups"


def test_the_listed_page_stays_within_the_pages_of_its_view():
    outcome = SimpleNamespace(pairs=SimpleNamespace(distinct=list(range(PAIRS_PER_PAGE + 1))),
                              groups=[["a", "b"]] * (GROUPS_PER_PAGE * 2))
    spec = QuerySpec("cosine", "range", 0.5)
    assert state.view_page(LISTED.with_(view="pairs", page=9), outcome, spec) == state.ViewPage(2, 2)
    assert state.view_page(LISTED.with_(view="groups", page=1), outcome, spec) == state.ViewPage(1, 2)


def test_each_finished_job_is_drawn_once_and_a_new_job_again():
    tab = JoinTab(LISTED)
    first, second = object(), object()
    tab.started(first)  # type: ignore[arg-type]
    assert tab.to_draw(first) and not tab.to_draw(first)  # type: ignore[arg-type]
    tab.started(second)  # type: ignore[arg-type]
    assert tab.job is second and tab.to_draw(second)  # type: ignore[arg-type]


def test_waiting_and_progress_lines():
    assert state.waiting_summary(("animals",)) == "animals is not indexed yet"
    assert state.waiting_summary(("animals", "plants")) == "animals, plants are not indexed yet"
    job = SimpleNamespace(total=1200, done=300, request=SimpleNamespace(a="animals"), phase="loading")
    assert state.progress_text(job) == "Joining: 300 of 1,200 images of animals"
    job.total = 0
    assert state.progress_text(job) == "Loading…"


async def test_two_tabs_get_their_own_state(tmp_path, monkeypatch):
    made: list[JoinTab] = []

    def recorded(listed: JoinState) -> JoinTab:
        made.append(JoinTab(listed))
        return made[-1]

    monkeypatch.setattr(join_page, "JoinTab", recorded)
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, first):
        second = new_user(first)
        await first.open("/join?a=animals&b=animals&predicate=knn&param=2")
        await second.open("/join?a=plants&b=plants&predicate=knn&param=2")
        await first.should_see(marker="histogram", retries=50)
        await second.should_see(marker="histogram", retries=50)
        assert len(made) == 2 and made[0] is not made[1] and made[0].teaching is not made[1].teaching
        assert made[0].job is not made[1].job and made[0].resolved.request.a == "animals"
        assert made[1].resolved.request.a == "plants"
        with first:
            only(first, "view").value = "pairs"  # a view switched in the first tab only
        assert made[0].listed.view == "pairs" and made[1].listed.view == "pairs"
        with first:
            only(first, "view").value = "knn"
        assert made[0].listed.view == "knn" and made[1].listed.view == "pairs"


async def test_a_join_waits_for_a_set_being_indexed_and_starts_by_itself(tmp_path):
    settings, manager = demo_root(tmp_path)
    store = settings.store_path("plants")
    kept = store.read_bytes()
    store.unlink()
    manager.set("plants", state="indexing", done=2, total=7)
    ctx = GuiContext(settings, manager)
    assert not state.sets_ready(ctx, ("plants",)) and state.sets_ready(ctx, ("animals",))
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=animals&b=plants&predicate=knn&param=2")
        await user.should_see(marker="waiting", retries=50)
        await user.should_see("plants is not indexed yet")
        await user.should_see("The join starts by itself as soon as the sets are ready.")
        store.write_bytes(kept)  # indexed meanwhile
        manager.set("plants", state="indexed", count=7)
        await user.should_see(marker="histogram", retries=300)
        await user.should_not_see(marker="waiting")
