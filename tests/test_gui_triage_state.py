"""The triage page's state (gui/state/triage.py), without drawing: a TriageTab per browser tab, marks and
keepers, group pages and the focus that walks across them, the buckets' tiles, what an apply acts on."""

from __future__ import annotations

from pathlib import Path

from simages.copies.levels import Level
from simages.gui.pages import triage as triage_page
from simages.gui.state.triage import GROUPS_PER_PAGE, TILES_PER_PAGE, TilePage, TriageTab
from simages.operations.triage import CopyGroup, TriageAnswer, TriageRow
from tests.gui_fixtures import gui_app, new_user
from tests.test_gui_triage import _root


def group(i: int, level: Level = Level.EXACT) -> CopyGroup:
    return CopyGroup(f"coll/{i:03d}.jpg", (f"new/{i:03d}.jpg",), level, keeper=f"coll/{i:03d}.jpg",
                     reason="the oldest")


def answer(groups: int, rows: int = 0) -> TriageAnswer:
    made = [group(i, Level.EXACT if i % 2 else Level.EDITED) for i in range(groups)]
    listed = [TriageRow(f"new/{i:03d}.jpg", Level.NEW, None, None) for i in range(rows)]
    return TriageAnswer(("new",), ("coll",), listed, made)


def test_marks_keep_their_keeper_and_only_groups_still_there_stay_marked():
    tab = TriageTab()
    tab.answered(answer(5), ("v1",))
    first, second, third = tab.page_groups()[:3]
    tab.mark(first, True)
    tab.choose(second, "new/001.jpg")
    assert tab.is_marked(first) and tab.keeper(first) == "coll/000.jpg"  # the suggested keeper
    assert tab.keeper(second) == "new/001.jpg" and tab.keeper(third) == "coll/002.jpg"
    tab.mark_many([first, second, third])
    assert tab.marked == {"coll/000.jpg": None, "coll/001.jpg": "new/001.jpg", "coll/002.jpg": None}
    tab.mark(third, False)
    smaller = answer(5)
    smaller.groups = smaller.groups[1:]  # the first group was moved or decided elsewhere
    tab.answered(smaller, ("v2",))
    assert tab.marked == {"coll/001.jpg": "new/001.jpg"} and tab.versions == ("v2",)
    chosen, keepers = tab.to_apply()
    assert [g.existing for g in chosen.groups] == ["coll/001.jpg"]
    assert keepers == {"coll/001.jpg": "new/001.jpg"}
    tab.answered(None)
    assert tab.answer is None and tab.to_apply() is None and tab.page_groups() == []


def test_the_focus_walks_across_group_pages():
    tab = TriageTab()
    tab.answered(answer(GROUPS_PER_PAGE * 2 + 3))
    assert tab.pages() == 3 and tab.focused().existing == "coll/000.jpg"
    assert not tab.move_focus(-1)  # before the first group: nothing
    tab.focus = GROUPS_PER_PAGE - 1
    assert tab.move_focus(1) and (tab.page, tab.focus) == (1, 0)
    assert tab.move_focus(-1) and (tab.page, tab.focus) == (0, GROUPS_PER_PAGE - 1)
    tab.go_page(5)
    assert (tab.page, tab.focus) == (2, 0) and len(tab.page_groups()) == 3
    tab.go_page(-9)
    assert tab.page == 0
    tab.restart()
    assert (tab.page, tab.focus, tab.tile_page, tab.marked) == (0, 0, 0, {})
    assert TriageTab().pages() == 1 and not TriageTab().move_focus(1)


def test_compare_toggles_and_buckets_page_their_tiles():
    tab = TriageTab()
    tab.answered(answer(3, rows=TILES_PER_PAGE + 4))
    tab.toggle_compare(group(1))
    assert tab.compared == "coll/001.jpg"
    tab.toggle_compare(group(1))
    assert tab.compared is None
    assert tab.tiles() == TilePage([], 0, 0) and not tab.tiles().paged  # no exact row
    tab.pick_bucket(Level.NEW)
    shown = tab.tiles()
    assert (shown.start, shown.stop, len(shown.rows)) == (0, TILES_PER_PAGE, TILES_PER_PAGE + 4)
    assert shown.paged
    tab.step_tiles(1)
    assert (tab.tiles().start, tab.tiles().stop) == (TILES_PER_PAGE, TILES_PER_PAGE + 4) and tab.tiles().paged
    tab.step_tiles(-5)
    assert tab.tile_page == 0
    tab.step_tiles(1)
    tab.pick_bucket(Level.EXACT)
    assert tab.tile_page == 0


async def test_two_tabs_get_their_own_state(tmp_path: Path, monkeypatch) -> None:
    made: list[TriageTab] = []

    def recorded() -> TriageTab:
        made.append(TriageTab())
        return made[-1]

    monkeypatch.setattr(triage_page, "TriageTab", recorded)
    settings, manager = _root(tmp_path)
    async with gui_app(settings, manager) as (_, first):
        second = new_user(first)
        await first.open("/triage?new=new")
        await second.open("/triage?new=new")
        for user in (first, second):
            await user.should_see(marker="triage-headline", retries=50)
            await user.should_see(marker="group-mark", retries=50)
        assert len(made) == 2 and made[0] is not made[1] and made[0].marked is not made[1].marked
        first.find(marker="mark-page").click()  # every group of the page marked, in the first tab only
        await first.should_see("marked: 3", retries=20)
        assert len(made[0].marked) == 3 and made[1].marked == {}
        await second.should_see("marked: 0")
