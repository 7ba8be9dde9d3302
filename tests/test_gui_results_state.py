"""The results page's state and decisions (gui/state/results.py), without drawing: one ResultsTab per
browser tab, the search through operations.query (so the page and `simages query` give one answer), and
the small choices the page shows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simages.cli import main
from simages.gui.context import GuiContext
from simages.gui.pages import results as results_page
from simages.gui.state import results as state
from simages.gui.urls.query import QueryState, results_url
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.core.results import KeyResult, Match
from simages.nearest.duplicates.exact import duplicate_threshold
from simages.operations.query import QueryRequest, StoredKey, VectorKey, run_query
from tests.gui_fixtures import demo_root, gui_app, new_user, only

KEY = QueryState("animals", key_set="animals", image="ani001.png")


@pytest.fixture
def ctx(tmp_path) -> GuiContext:
    settings, manager = demo_root(tmp_path)
    return GuiContext(settings, manager)


def cli_json(ctx: GuiContext, capsys, *argv: str) -> dict:
    capsys.readouterr()
    assert main(["--root", str(ctx.settings.root), "query", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def pairs(result: KeyResult) -> list[tuple[str, float]]:
    return [(m.image, round(m.score, 6)) for m in result.matches]


@pytest.mark.parametrize(("query", "argv"), [
    (KEY, ["animals/ani001.png", "--set", "animals"]),
    (KEY.with_(join_set="plants", metric="euclidean", param="3"),
     ["animals/ani001.png", "--set", "plants", "--metric", "euclidean", "--knn", "3"]),
    (KEY.with_(predicate="range", param="0.5"),
     ["animals/ani001.png", "--set", "animals", "--threshold", "0.5"]),
    (KEY.with_(intent=DUPLICATES.name, predicate="range"),
     ["animals/ani001.png", "--set", "animals", "--intent", "duplicates"]),
])
def test_the_page_and_simages_query_give_one_answer(ctx, capsys, query, argv):
    answered = state.search(ctx, query)
    assert isinstance(answered, state.Answered)
    cli = cli_json(ctx, capsys, *argv)
    assert [(m["name"], round(m["score"], 6)) for m in cli["results"]] == [
        (f"{query.join_set}/{image}", score) for image, score in pairs(answered.result)]
    assert cli["predicate"] == answered.spec.predicate and cli["param"] == pytest.approx(answered.spec.param)


def test_an_uploaded_key_is_searched_by_its_vector_like_the_stored_image(ctx):
    stored = state.search(ctx, KEY.with_(join_set="plants"))
    vector = ctx.descriptors.get(ctx.settings, "animals").raw_vector("ani001.png")
    item = ctx.uploads.add("holiday.png", vector, b"")
    uploaded = state.search(ctx, QueryState("plants", upload=item.id))
    assert isinstance(stored, state.Answered) and isinstance(uploaded, state.Answered)
    assert pairs(uploaded.result) == pairs(stored.result) and uploaded.exclude is None


def test_an_upload_that_is_gone_or_a_set_not_indexed_is_said_not_raised(ctx):
    assert state.search(ctx, QueryState("plants", upload="0" * 32)) == state.Problem(
        "the uploaded image is no longer available")
    ctx.settings.store_path("plants").unlink()
    assert state.search(ctx, KEY.with_(join_set="plants")) == state.Waiting("plants")
    with pytest.raises(ValueError) as bad_k:
        KEY.with_(param="0").spec()
    assert state.search(ctx, KEY.with_(param="0")) == state.Problem(str(bad_k.value))


def test_request_for_resolves_the_pages_defaults_into_the_clis_request(ctx):
    spec = KEY.with_(predicate="range").spec(0.123456789)
    request = state.request_for(ctx, KEY.with_(predicate="range", head="mine", exact=True), spec)
    assert request == QueryRequest(StoredKey("animals", "ani001.png"), "animals",
                                   range_threshold=repr(0.123456789), limit=state.RESULT_LIMIT, exact=True,
                                   head="mine", apply_chosen=False)
    duplicates = KEY.with_(intent=DUPLICATES.name, head="mine")
    assert state.request_for(ctx, duplicates, duplicates.spec()).head is None  # heads are for similar images
    item = ctx.uploads.add("x.png", np.ones(4, np.float32), b"")
    key = state.request_for(ctx, QueryState("plants", upload=item.id), KEY.spec()).key
    assert isinstance(key, VectorKey) and key.name == "x.png" and key.vector.tolist() == [1, 1, 1, 1]


def test_the_default_threshold_answers_the_question_asked(ctx):
    index = ctx.descriptors.get(ctx.settings, "animals", DUPLICATES)
    vector = index.raw_vector("ani001.png")
    duplicates = KEY.with_(intent=DUPLICATES.name, predicate="range")
    assert state.default_threshold(duplicates, index, vector) == duplicate_threshold("cosine", index)
    similar = ctx.descriptors.get(ctx.settings, "animals")
    own = state.default_threshold(KEY.with_(predicate="range"), similar, vector)
    assert own != duplicate_threshold("cosine", similar)  # the key's own top 1%, not the copy threshold


def test_a_vector_key_of_run_query_is_never_a_path(ctx):
    answer = run_query(QueryRequest(VectorKey("/etc/passwd", np.ones(8, np.float32) / 4), "animals"),
                       ctx.settings, ctx.descriptors)
    assert answer.result.key == "/etc/passwd" and len(answer.result.matches) == 10


PANEL = state.PanelChoice("animals", True, False, "similar", "", None, False)


@pytest.mark.parametrize(("change", "stale"), [
    ({}, False),
    ({"join_set": "plants"}, True),
    ({"join_set": None}, True),
    ({"settings_shown": False}, True),
    ({"exact": True}, True),
    ({"intent": "duplicates"}, True),
    ({"view": "unscaled"}, True),
    ({"head": "mine"}, False),  # no head picker: there is no head to compare
    ({"head": "mine", "has_head_picker": True}, True),
    ({"has_head_picker": True}, False),
])
def test_results_are_stale_when_the_panel_differs_from_the_listed_query(change, stale):
    from dataclasses import replace

    assert state.is_stale(KEY, replace(PANEL, **change)) is stale


def test_search_again_reruns_in_place_or_opens_the_new_querys_page():
    assert state.next_page(KEY, KEY) is None
    other = KEY.with_(metric="euclidean")
    assert state.next_page(KEY, other) == results_url(other)


def test_what_an_empty_answer_means_and_which_links_show():
    empty = KeyResult("k", "animals", "cosine", "range", 0.9, [], 0, 11)
    assert state.no_duplicate_found(KEY.with_(intent=DUPLICATES.name), empty)
    assert not state.no_duplicate_found(KEY, empty)
    found = KeyResult("k", "animals", "cosine", "range", 0.9, [Match("ani002.png", 0.95)], 1, 11)
    assert not state.no_duplicate_found(KEY.with_(intent=DUPLICATES.name), found)
    assert state.atlas_link_text(KEY) == "Show the key and its answers on the atlas"
    assert state.atlas_link_text(KEY.with_(join_set="plants")) == "Show this set on the atlas"
    assert state.side_by_side_settings(QueryState("plants", upload="0" * 32)) is None
    mine, other = state.side_by_side_settings(KEY.with_(predicate="range", param="0.5"))
    assert (mine.metric, other.metric, mine.param, mine.view) == ("cosine", "euclidean", "", "unscaled")
    assert state.excluded(KEY) == "ani001.png" and state.excluded(KEY.with_(join_set="plants")) is None


async def test_two_tabs_get_their_own_state_and_keep_it_across_searches(tmp_path, monkeypatch):
    made: list[state.ResultsTab] = []

    def recorded(listed: QueryState) -> state.ResultsTab:
        made.append(state.ResultsTab(listed))
        return made[-1]

    monkeypatch.setattr(results_page, "ResultsTab", recorded)
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, first):
        second = new_user(first)
        await first.open(results_url(KEY))
        await second.open(results_url(KEY))
        await first.should_see(marker="teaching-panel")
        await second.should_see(marker="teaching-panel")
        assert len(made) == 2 and made[0] is not made[1] and made[0].teaching is not made[1].teaching
        with first:
            only(first, "teaching-panel").value = True  # opened in the first tab only
        await first.should_see(marker="teaching-summary")
        assert made[0].teaching.open and not made[1].teaching.open
        for user in (first, second):  # a new search in place keeps each tab's own panel
            user.find(marker="rerun").click()
        await first.should_see(marker="teaching-summary")
        assert only(first, "teaching-panel").value is True
        assert only(second, "teaching-panel").value is False
        assert len(made) == 2  # searching again in place made no new state
