"""The atlas page's state (gui/state/atlas.py), without drawing: an AtlasTab per browser tab, a lasso
event read against the map drawn, and the key's answers as `simages query` gives them."""

from __future__ import annotations

import json

from simages.cli import main
from simages.gui.context import GuiContext
from simages.gui.pages import atlas as atlas_page
from simages.gui.state.atlas import KEY_ANSWERS, AtlasTab, key_answers
from tests.gui_fixtures import demo_root, gui_app, new_user


def test_a_lasso_event_names_images_of_the_map_drawn_once_each_and_stale_entries_are_ignored():
    tab = AtlasTab(series_names=[["a.jpg", "b.jpg", "c.jpg"], ["sub/d.jpg"]])
    assert tab.selection_of([[1, [0]], [0, [2, 0]], [0, [0]]]) == ["a.jpg", "c.jpg", "sub/d.jpg"]
    assert tab.selection_of([[5, [0]], [0, [9]], ["x", [0]], [0, "no"], None]) == []
    assert tab.selection_of(None) == []


def test_the_keys_answers_are_simages_querys(tmp_path, capsys):
    settings, manager = demo_root(tmp_path)
    ctx = GuiContext(settings, manager)
    names = ctx.descriptors.get(settings, "animals").names
    found = key_answers(ctx, "animals", "ani001.png", names)
    capsys.readouterr()
    assert main(["--root", str(tmp_path), "query", "animals/ani001.png", "--set", "animals", "--knn",
                 str(KEY_ANSWERS), "--format", "json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert found == [row["name"].removeprefix("animals/") for row in cli["results"]]
    assert len(found) == KEY_ANSWERS and "ani001.png" not in found
    assert key_answers(ctx, "animals", "nowhere.png", names) is None


async def test_two_tabs_get_their_own_state(tmp_path, monkeypatch):
    made: list[AtlasTab] = []

    def recorded() -> AtlasTab:
        made.append(AtlasTab())
        return made[-1]

    monkeypatch.setattr(atlas_page, "AtlasTab", recorded)
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, first):
        second = new_user(first)
        await first.open("/atlas?set=animals")
        await second.open("/atlas?set=plants")
        await first.should_see(marker="atlas-chart", retries=300)
        await second.should_see(marker="atlas-chart", retries=300)
        assert len(made) == 2 and made[0] is not made[1]
        assert sum(map(len, made[0].series_names)) == 12 and sum(map(len, made[1].series_names)) == 7
        first_series = made[0].series_names
        first.find(marker="atlas-chart").trigger("chart:brushselected", [[0, [0, 1]]])
        await first.should_see(marker="selection-count")
        assert made[0].selected == sorted(first_series[0][:2]) and made[1].selected == []
