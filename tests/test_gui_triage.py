"""Simulated-user tests of the triage page (`/triage`): headline and buckets with set badges, copy groups
with the suggested keeper, marking, apply and undo through the journal, decisions, the compare view."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from simages.store.npz_store import load_store
from simages.triage.decisions import Decisions
from tests.gui_fixtures import FakeManager, gui_app
from tests.test_triage_cli import snapshot, triage_root, write_store


def _root(tmp_path: Path):
    settings = triage_root(tmp_path)
    manager = FakeManager(settings)
    for name in ("coll", "new"):
        manager.set(name, state="indexed")
    return settings, manager


def _texts(user, marker: str) -> list[str]:
    return [element.text for element in user.find(marker=marker).elements]


async def test_triage_page_shows_the_headline_buckets_and_badges(tmp_path: Path) -> None:
    settings, manager = _root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/triage?new=new")
        await user.should_see("3 of 5 new photos are already in your collection (1 exact, 2 edited)",
                              marker="triage-headline", retries=50)
        await user.should_see(marker="bucket-exact")
        assert len(user.find(marker="triage-tile").elements) == 1  # the exact bucket: one pair
        assert {e.text for e in user.find(marker="badge-new").elements} >= {"new · new"}
        assert any(t.startswith("in collection · coll") for t in _texts(user, "badge-in-collection"))
        user.find(marker="bucket-edited").click()
        await user.should_see("Edited copy: ", retries=20)
        assert len(user.find(marker="triage-tile").elements) == 2
        reasons = _texts(user, "keeper-reason")
        assert len(reasons) == 3
        assert "Suggested keeper: coll/p05.jpg — in the collection" in reasons
        # The rule is said once above the groups, not on each card (walk 5).
        assert _texts(user, "keeper-rule") == [
            "The collection's photo is always suggested as the keeper: a new copy replaces it only if you "
            "choose it."]


async def _mark_all_and_apply(user) -> None:
    """Open /triage on the new photos, mark every copy group of the page and press Apply."""
    await user.open("/triage?new=new")
    await user.should_see(marker="triage-group", retries=50)
    user.find(marker="mark-page").click()
    await user.should_see("marked: 3", retries=20)
    user.find(marker="triage-apply").click()


async def test_mark_apply_then_undo_restores_the_folders_byte_identical(tmp_path: Path) -> None:
    settings, manager = _root(tmp_path)
    before = snapshot(settings.image_sets)
    async with gui_app(settings, manager) as (_, user):
        await _mark_all_and_apply(user)
        # Apply asks first, saying how many files move where; Cancel moves nothing.
        await user.should_see("Move 3 files of 3 groups to the quarantine folder?", retries=50)
        await user.should_see("Undo last apply” brings them back", retries=5)
        user.find(marker="triage-cancel").click()
        await user.should_not_see("Move 3 files of 3 groups to the quarantine folder?", retries=20)
        assert snapshot(settings.image_sets) == before and not (settings.root / "quarantine").exists()
        user.find(marker="triage-apply").click()
        await user.should_see(marker="triage-confirm", retries=50)
        user.find(marker="triage-confirm").click()
        await user.should_see("3 of 3 files moved to the quarantine folder", retries=100)
        assert not (settings.image_sets / "new" / "same_p03.jpg").exists()
        assert not (settings.image_sets / "new" / "big_p05.jpg").exists()
        assert (settings.image_sets / "coll" / "p05.jpg").exists()  # the collection's photo is kept
        await user.should_see("None of the 2 new photos is already in your collection", retries=50)
        user.find(marker="triage-undo").click()
        await user.should_see("3 of 3 files restored to their places", retries=100)
        await user.should_see("3 of 5 new photos are already in your collection", retries=50)
    assert snapshot(settings.image_sets) == before


async def test_the_apply_question_survives_a_redraw_of_the_groups(tmp_path: Path) -> None:
    """CI: the groups were redrawn (what changed in each copy had just been read) while Apply asked its
    question; the question vanished with them and nothing could be confirmed."""
    from nicegui import ui

    settings, manager = _root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await _mark_all_and_apply(user)
        await user.should_see(marker="triage-confirm", retries=50)
        user.find(kind=ui.button, content=">").click()  # the page's arrows redraw the groups
        await user.should_see(marker="triage-group", retries=50)
        await user.should_see("Move 3 files of 3 groups to the quarantine folder?", retries=5)
        user.find(marker="triage-confirm").click()
        await user.should_see("3 of 3 files moved to the quarantine folder", retries=100)
    assert not (settings.image_sets / "new" / "same_p03.jpg").exists()


async def test_compare_shows_exif_side_by_side_and_not_a_duplicate_is_remembered(tmp_path: Path) -> None:
    settings, manager = _root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/triage?new=new")
        await user.should_see(marker="triage-group", retries=50)
        user.find(marker="compare-0").click()
        await user.should_see(marker="triage-compare", retries=20)
        table = user.find(marker="triage-compare").elements.pop()
        facts = [row["fact"] for row in table.rows]
        assert {"size", "camera", "date taken", "orientation"} <= {f.split(" (")[0] for f in facts}
        first = user.find(marker="keeper-reason").elements
        user.find(marker="not-duplicate-0").click()
        await user.should_see("2 of 5 new photos are already in your collection", retries=50)
        assert len(user.find(marker="triage-group").elements) == 2
        assert first  # the groups were shown before the decision
    decisions = Decisions(settings.root).all()
    assert len(decisions) == 1 and decisions[0].kind == "not-duplicate"
    # Remembered across a restart: a new app on the same root leaves the pair out too.
    async with gui_app(settings, manager) as (_, user):
        await user.open("/triage?new=new")
        await user.should_see("2 of 5 new photos are already in your collection", retries=50)


async def test_an_open_page_follows_moves_made_elsewhere(tmp_path: Path) -> None:
    """Another tab or the CLI applies a plan: the open page answers again by itself (no click)."""
    from simages.cli import main as cli_main

    settings, manager = _root(tmp_path)
    plan = tmp_path / "plan.json"
    async with gui_app(settings, manager) as (_, user):
        await user.open("/triage?new=new")
        await user.should_see("3 of 5 new photos are already in your collection", retries=50)
        assert cli_main(["--root", str(settings.root), "triage", "new", "--plan", str(plan)]) == 0
        assert cli_main(["--root", str(settings.root), "triage", "--apply", str(plan)]) == 0
        await user.should_see("None of the 2 new photos is already in your collection", retries=100)
        assert cli_main(["--root", str(settings.root), "triage", "--undo"]) == 0
        await user.should_see("3 of 5 new photos are already in your collection", retries=100)


async def test_remembered_decisions_are_listed_on_the_page_and_can_be_forgotten(tmp_path: Path) -> None:
    settings, manager = _root(tmp_path)
    Decisions(settings.root).add("not-duplicate", ["new/big_p05.jpg", "coll/p05.jpg"])
    async with gui_app(settings, manager) as (_, user):
        await user.open("/triage?new=new")
        await user.should_see("2 of 5 new photos are already in your collection", retries=50)
        await user.should_see(marker="decision")
        assert len(user.find(marker="decision").elements) == 1
        user.find(marker="forget").click()
        await user.should_see("3 of 5 new photos are already in your collection", retries=50)
        await user.should_not_see(marker="decision")
    assert Decisions(settings.root).all() == []


def _key(user, name: str) -> None:
    """One key press as the browser's keyboard element reports it."""
    from nicegui import ui

    for action in ("keydown", "keyup"):
        user.find(kind=ui.keyboard).trigger("key", {
            "action": action, "key": name, "code": f"Key{name.upper()}", "location": 0, "repeat": False,
            "altKey": False, "ctrlKey": False, "metaKey": False, "shiftKey": False})


async def test_the_keyboard_moves_marks_compares_and_applies(tmp_path: Path) -> None:
    settings, manager = _root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/triage?new=new")
        await user.should_see(marker="triage-group", retries=50)
        _key(user, "j")  # the second group
        _key(user, "m")
        await user.should_see("marked: 1", retries=20)
        _key(user, "c")
        await user.should_see(marker="triage-compare", retries=20)
        _key(user, "k")  # back to the first
        _key(user, "m")
        await user.should_see("marked: 2", retries=20)
        _key(user, "a")
        await user.should_see(marker="triage-confirm", retries=50)
        user.find(marker="triage-confirm").click()
        await user.should_see("2 of 2 files moved to the quarantine folder", retries=100)
    assert len(list((settings.root / "quarantine").rglob("*.jpg"))) == 2


async def test_a_group_with_an_exact_and_an_edited_copy_says_which_is_which(tmp_path: Path) -> None:
    """Walk 3: an "Exact copy" group showed an upscaled (edited) copy as if it were exact."""
    settings, manager = _root(tmp_path)
    new = settings.image_sets / "new"
    with Image.open(settings.image_sets / "coll" / "p03.jpg") as original:
        original.resize((192, 128)).save(new / "up_p03.jpg", quality=95)
    store = load_store(settings.store_path("new"))
    row = store.names.index("same_p03.jpg")
    write_store(settings, "new", [*store.names, "up_p03.jpg"], np.vstack([store.vectors, store.vectors[row]]))
    async with gui_app(settings, manager) as (_, user):
        await user.open("/triage?new=new")
        await user.should_see("Exact copy + Edited copy", retries=50)
        labels = [text.split(":")[0] for text in _texts(user, "member-level")]  # "Edited copy: 0.98 · ..."
        assert labels.count("Exact copy") == 1 and labels.count("Edited copy") == 3
