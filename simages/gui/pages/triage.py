"""The triage page (`/triage?new=SET`): which new photos are already in the collection, and acting on it.

The curator picks the new set(s) (A) and the collection (B: sets, or every other set). The page shows the
headline, the buckets (exact / edited / look-alike / new, each browsable, every tile with its set's badge
and whether it is new or in the collection), and the copy groups, paged, each with its suggested keeper
and the reason. Groups are marked (click, `m`, or in bulk for the page or a level), then applied through
the same plan and journal as `simages triage --apply` (simages.triage.quarantine); Undo reverts the last
apply. Keys: j / k (or arrows) next / previous group, m mark, c compare, a apply.
Each tab has its own TriageTab (gui/state/triage.py, made by `build_triage`); nothing is module-level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nicegui import ui

from simages.copies.levels import BELOW_THRESHOLD_NOTE, Level
from simages.gui.context import GuiContext
from simages.gui.offload import in_thread
from simages.gui.pages.common import page_header
from simages.gui.state.sets import known_sets, set_choices
from simages.gui.state.triage import TriageTab
from simages.gui.widgets.calibration_note import calibration_note
from simages.gui.widgets.triage_views import compare_table, outcome_lines, tile
from simages.naming import display_name
from simages.nearest.sets.cache import store_version
from simages.operations.triage import CopyGroup, TriageAnswer, TriageRequest, plan_for, triage
from simages.triage.decisions import Decisions
from simages.triage.keeper import KEEP_EXISTING, KEEPER_RULE
from simages.triage.quarantine import Outcome, TriageError, apply_plan, undo_last
from simages.triage.stores import drop_moved, restore_moved
from simages.wording import plural

FOLLOW_SECONDS = 2.0


def build_triage(ctx: GuiContext, params: dict[str, str]) -> None:
    """The page for one tab; `params` from the URL (`new`, `against`: set names)."""
    page_header("Already in my collection?")
    sets = known_sets(ctx)
    tab = TriageTab()
    with ui.column().classes("w-full q-px-lg q-py-md gap-2"):
        with ui.row().classes("items-end gap-4 w-full"):
            new_pick = ui.select(set_choices(sets), multiple=True, label="New photos (sets)",
                                 value=[params["new"]] if params.get("new") in sets else []
                                 ).classes("min-w-[220px]").mark("triage-new")
            against_pick = ui.select(set_choices(sets), multiple=True,
                                     label="Collection (empty: all other sets)",
                                     value=[params["against"]] if params.get("against") in sets else []
                                     ).classes("min-w-[260px]").mark("triage-against")
            ui.button("Check", on_click=lambda: check()).props("unelevated").mark("triage-check")
            if ctx.read_only:
                ui.label("Served read-only (simages serve --read-only): this page shows what is already in "
                         "the collection and moves nothing.").classes("text-caption text-grey-8"
                                                                      ).mark("triage-read-only")
            else:
                ui.button("Undo last apply", on_click=lambda: undo()).props("flat").mark("triage-undo")
        headline = ui.label("").classes("text-h6").mark("triage-headline")
        calibration_box = ui.column().classes("w-full gap-0")
        left_out = ui.label("").classes("text-caption text-grey-8").mark("triage-left-out")
        outcome_box = ui.column().classes("w-full gap-0").mark("triage-outcome")
        buckets = ui.row().classes("gap-2")
        tiles = ui.row().classes("w-full gap-2")
        ui.separator()
        bulk = ui.row().classes("items-center gap-2")
        groups_box = ui.column().classes("w-full gap-2")
        ui.separator()
        with ui.expansion("Remembered decisions", icon="bookmark").classes("w-full").mark("decisions"):
            decisions_box = ui.column().classes("w-full gap-1")

    async def check() -> None:
        tab.restart()
        outcome_box.clear()
        await refresh()

    async def refresh() -> None:
        new = tuple(new_pick.value or ())
        if not new:
            headline.set_text("Pick the set(s) of new photos, then Check.")
            return
        headline.set_text("Checking the new photos against the collection...")
        try:
            request = TriageRequest(new, tuple(against_pick.value or ()))
            # Off the event loop: thousands of groups read thousands of file headers (EXIF, sizes).
            answer = await in_thread(triage, ctx.settings, request, ctx.descriptors, False)
        except (ValueError, LookupError) as error:
            headline.set_text(f"Cannot check: {error}")
            tab.answered(None)
            draw()
            return
        tab.answered(answer, versions(answer))
        headline.set_text(answer.headline() + ".")
        reading = not answer.changes_read
        calibration_box.clear()
        with calibration_box:  # how far the levels can be trusted on this collection
            calibration_note(ctx)
        notes = [f"Not checked against {display_name(name)}: {why}" for name, why in answer.left_out.items()]
        if answer.within_new:
            shown = " | ".join(", ".join(map(display_name, group)) for group in answer.within_new[:20])
            more = len(answer.within_new) - 20
            notes.append(f"Copies among the new photos: {shown}" + (f" (and {more} more groups)" if more > 0
                                                                     else ""))
        left_out.set_text("; ".join(notes))
        draw()
        if reading and tab.answer is answer:
            # What changed in each copy reads its pixels (about 30 ms a copy): the cards are drawn first,
            # with their levels and scores, and say it once it is read.
            await in_thread(answer.changes)
            if tab.answer is answer:
                draw_buckets()
                draw_groups()

    def versions(answer: TriageAnswer) -> tuple:
        return tuple(store_version(ctx.settings, name) for name in (*answer.new_sets, *answer.against))

    async def follow() -> None:
        """Another tab, the CLI or the indexer changed a store: answer again (marks kept)."""
        answer = tab.answer
        if answer is None or tab.busy or versions(answer) == tab.versions:
            return
        tab.busy = True
        try:
            await refresh()
        finally:
            tab.busy = False

    def draw() -> None:
        draw_buckets()
        draw_groups()
        draw_decisions()

    def draw_buckets() -> None:
        buckets.clear()
        tiles.clear()
        answer = tab.answer
        if answer is None:
            return
        counts = answer.counts()
        with buckets:
            for level in Level:
                chosen = tab.bucket == level
                ui.button(f"{level.title} ({counts[level.value]})",
                          on_click=lambda level=level: pick_bucket(level)
                          ).props("unelevated" if chosen else "outline").mark(f"bucket-{level.value}")
        shown = tab.tiles()
        with tiles:
            for row in shown.rows[shown.start:shown.stop]:
                with ui.card().classes("q-pa-xs").mark("triage-tile"):
                    with ui.row().classes("gap-1 no-wrap"):
                        tile(row.image, existing=False)
                        if row.match:
                            tile(row.match, existing=True)
                    if row.score is not None:
                        said = ui.label(f"{tab.bucket.title}: {row.score:.3f}"
                                        + (" *" if row.below_threshold else "")).classes("text-caption")
                        said.mark("tile-score")
                        if row.below_threshold:
                            said.tooltip(BELOW_THRESHOLD_NOTE)
                        changed = answer.changed_of(row.image)
                        if changed:
                            ui.label(changed).classes("text-caption max-w-[220px]").mark("tile-summary")
            if any(row.below_threshold for row in shown.rows[shown.start:shown.stop]):
                ui.label(BELOW_THRESHOLD_NOTE).classes("text-caption text-grey-8").mark("below-note")
            if shown.paged:
                with ui.row().classes("items-center gap-2"):
                    ui.button("Previous", on_click=lambda: tile_page(-1)).props("flat dense")
                    ui.label(f"{shown.start + 1}-{shown.stop} of {len(shown.rows)}")
                    ui.button("Next", on_click=lambda: tile_page(1)).props("flat dense")

    def pick_bucket(level: Level) -> None:
        tab.pick_bucket(level)
        draw_buckets()

    def tile_page(step: int) -> None:
        tab.step_tiles(step)
        draw_buckets()

    def draw_groups() -> None:
        bulk.clear()
        groups_box.clear()
        answer = tab.answer
        if answer is None or not answer.groups:
            return
        with bulk:
            ui.label(f"Copy groups: {len(answer.groups)}; marked: {len(tab.marked)}").mark("triage-marked")
            if not ctx.read_only:
                draw_bulk(answer)
            ui.button("<", on_click=lambda: go_page(-1)).props("flat dense")
            ui.label(f"page {tab.page + 1} of {tab.pages()}")
            ui.button(">", on_click=lambda: go_page(1)).props("flat dense")
        with groups_box:
            if any(group.reason == KEEP_EXISTING for group in tab.page_groups()):  # said once, not per card
                ui.label(KEEPER_RULE).classes("text-body2 text-grey-8").mark("keeper-rule")
            for number, group in enumerate(tab.page_groups()):
                draw_group(group, number, number == tab.focus)
            rows = [answer.row_of(member) for group in tab.page_groups() for member in group.members]
            if any(row is not None and row.below_threshold for row in rows):
                ui.label(BELOW_THRESHOLD_NOTE).classes("text-caption text-grey-8").mark("groups-below-note")

    def draw_bulk(answer: TriageAnswer) -> None:
        ui.button("Keep suggested in this page", on_click=lambda: mark_many(tab.page_groups())
                  ).props("outline dense").mark("mark-page")
        for level in (Level.EXACT, Level.EDITED):
            ui.button(f"... in all {level.value} groups",  # plural-ok: a level's name, not a count
                      on_click=lambda level=level: mark_many(
                          [g for g in answer.groups if g.level == level])
                      ).props("outline dense").mark(f"mark-{level.value}")
        ui.button(f"Apply ({plural(len(tab.marked), 'group')})", on_click=lambda: apply()
                  ).props("unelevated color=negative").mark("triage-apply")

    def draw_group(group: CopyGroup, number: int, focused: bool) -> None:
        keeper = tab.keeper(group)
        marked = tab.is_marked(group)
        border = "border-2 border-primary" if focused else ""
        with ui.card().classes(f"w-full q-pa-sm {border}").mark("triage-group"):
            with ui.row().classes("items-center gap-2 w-full"):
                levels = {tab.answer.member_level(m) for m in group.members} if tab.answer else set()
                title = " + ".join(level.title for level in Level if level in levels) or group.level.title
                colour = "primary" if group.level == Level.EXACT else "orange"
                ui.badge(title, color=colour).mark("group-level")
                ui.label(f"Suggested keeper: {display_name(group.keeper)} — {group.reason}"
                         ).classes("text-body2").mark("keeper-reason")
                ui.space()
                if not ctx.read_only:
                    ui.checkbox("move the others", value=marked,
                                on_change=lambda e, g=group: mark(g, e.value)).mark("group-mark")
                ui.button("Compare", on_click=lambda g=group: compare(g)
                          ).props("flat dense").mark("compare", f"compare-{number}")
                if not ctx.read_only:
                    ui.button("Not a duplicate", on_click=lambda g=group: decide(g, "not-duplicate")
                              ).props("flat dense").mark("not-duplicate", f"not-duplicate-{number}")
                    ui.button("Keep both", on_click=lambda g=group: decide(g, "keep-both")
                              ).props("flat dense").mark("keep-both", f"keep-both-{number}")
            with ui.row().classes("gap-3"):
                for member in group.members:
                    with ui.column().classes("items-center gap-0"):
                        tile(member, existing=member == group.existing)
                        summary = tab.answer.summary_of(member) if tab.answer else ""
                        if summary:
                            ui.label(summary).classes("text-caption max-w-[220px] text-center"
                                                      ).mark("member-level")
                        if member == keeper:
                            ui.label("kept").classes("text-weight-bold text-positive").mark("kept")
                        elif not ctx.read_only:
                            ui.button("keep this", on_click=lambda g=group, m=member: choose(g, m)
                                      ).props("flat dense no-caps").mark("keep-this")
            if tab.compared == group.existing and tab.answer is not None:
                compare_table(group, tab.answer.what_each_is(group))

    def mark(group: CopyGroup, value: bool) -> None:
        if ctx.read_only:
            return
        tab.mark(group, value)
        draw_groups()

    def choose(group: CopyGroup, member: str) -> None:
        tab.choose(group, member)
        draw_groups()

    def mark_many(groups: list[CopyGroup]) -> None:
        tab.mark_many(groups)
        draw_groups()

    def compare(group: CopyGroup) -> None:
        tab.toggle_compare(group)
        draw_groups()

    def draw_decisions() -> None:
        """The root's remembered "not a duplicate" / "keep both" decisions, each with Forget."""
        decisions_box.clear()
        try:
            remembered = Decisions(ctx.settings.root).all()
        except ValueError as error:
            with decisions_box:
                ui.label(str(error)).classes("text-negative")
            return
        with decisions_box:
            if not remembered:
                ui.label("None: pairs marked “Not a duplicate” or “Keep both” are listed here.").classes(
                    "text-caption text-grey-8")
            for decision in remembered:
                with ui.row().classes("items-center gap-2").mark("decision"):
                    ui.badge(decision.kind, color="grey-8")
                    ui.label(", ".join(map(display_name, decision.images))).classes("text-body2")
                    if not ctx.read_only:
                        ui.button("Forget", on_click=lambda d=decision.id: forget(d)).props(
                            "flat dense").mark("forget")

    async def forget(decision_id: str) -> None:
        if ctx.read_only:
            return
        try:
            gone = Decisions(ctx.settings.root).forget(decision_id)
        except LookupError as error:
            ui.notify(str(error))
        else:
            ui.notify(f"Forgot: {gone.kind} for {', '.join(map(display_name, gone.images))}")
        await refresh()

    async def decide(group: CopyGroup, kind: str) -> None:
        if ctx.read_only:
            return
        decision = Decisions(ctx.settings.root).add(kind, list(group.members))
        ui.notify(f"Remembered: {kind} ({decision.id}); `simages triage --forget {decision.id}` undoes it")
        tab.mark(group, False)
        await refresh()

    def go_page(step: int) -> None:
        tab.go_page(step)
        draw_groups()

    def move_focus(step: int) -> None:
        if tab.move_focus(step):
            draw_groups()

    async def apply() -> None:
        if ctx.read_only:
            return
        to_apply = tab.to_apply()
        if to_apply is None:
            ui.notify("Mark at least one copy group first")
            return
        chosen, chosen_keepers = to_apply
        plan = await in_thread(plan_for, ctx.settings, chosen, chosen_keepers)
        if not await _confirmed(ctx.settings.root, plan, len(chosen.groups)):
            return
        outcome_box.clear()
        with outcome_box:
            working = ui.label(f"Applying {plural(len(chosen.groups), 'group')}: checking each file, then "
                               "moving it through the journal").classes("text-body1").mark("outcome-working")
        tab.busy = True
        try:
            with _progress_shown(working, "Moving") as progress:
                outcome = await in_thread(_apply_and_follow, ctx, plan, progress)
        except TriageError as error:
            show_outcome(None, str(error))
            return
        finally:
            tab.busy = False
        tab.marked = {}
        show_outcome(outcome)
        await refresh()

    async def undo() -> None:
        if ctx.read_only:
            return
        outcome_box.clear()
        with outcome_box:
            working = ui.label("Undoing the last apply...").classes("text-body1").mark("outcome-working")
        tab.busy = True
        try:
            with _progress_shown(working, "Restoring") as progress:
                outcome = await in_thread(_undo_and_follow, ctx, progress)
        except TriageError as error:
            show_outcome(None, str(error))
            return
        finally:
            tab.busy = False
        show_outcome(outcome)
        await refresh()

    def show_outcome(outcome: Outcome | None, problem: str = "") -> None:
        outcome_box.clear()
        with outcome_box:
            outcome_lines(ctx.settings.root, outcome, problem)
        # The groups list below may have scrolled the line out of view: bring it back, and say it once.
        outcome_box.run_method("scrollIntoView", {"block": "center"})
        ui.notify(problem if outcome is None else outcome.summary(),
                  type="negative" if outcome is None else "positive")

    def key(event: Any) -> None:
        if not event.action.keydown or event.modifiers.ctrl or event.modifiers.alt:
            return
        name = str(event.key)
        current = tab.focused()
        if name in ("j", "ArrowDown"):
            move_focus(1)
        elif name in ("k", "ArrowUp"):
            move_focus(-1)
        elif name == "m" and current is not None:
            mark(current, not tab.is_marked(current))
        elif name == "c" and current is not None:
            compare(current)
        elif name == "a":
            ui.timer(0, apply, once=True)

    ui.keyboard(on_key=key, ignore=["input", "select", "textarea"])
    # Pages follow the moves live: a store file's identity is one stat per set.
    ui.timer(FOLLOW_SECONDS, follow)
    if new_pick.value:
        ui.timer(0, refresh, once=True)


async def _confirmed(root: Path, plan: Any, groups: int) -> bool:
    """Ask before moving: how many files go where (the first few named), and that Undo brings them back.
    True when the user confirms."""
    count = len(plan.moves)
    files = plural(count, "file")
    # On the page itself, not in the groups area the Apply handler runs in: that area is redrawn when what
    # changed in each copy is known, and the redraw deleted an open question (and the apply with it).
    with ui.context.client.content, ui.dialog() as dialog, ui.card().mark("triage-confirm-dialog"):
        ui.label(f"Move {files} of {plural(groups, 'group')} to the quarantine folder?").classes("text-h6")
        ui.label(f"To {root / 'quarantine' / plan.id}/ -- moved, never deleted; “Undo last apply” brings "
                 "them back to their places.").classes("text-body2")
        for move in plan.moves[:_CONFIRM_LISTED]:
            ui.label(f"{move.set}/{move.image} (kept: {move.keeper})").classes("text-caption")
        if count > _CONFIRM_LISTED:
            ui.label(f"... and {count - _CONFIRM_LISTED} more").classes("text-caption")
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat").mark("triage-cancel")
            ui.button(f"Move {files}", on_click=lambda: dialog.submit(True)
                      ).props("unelevated color=negative").mark("triage-confirm")
    answer = await dialog
    dialog.delete()
    return bool(answer)


_CONFIRM_LISTED = 8


@contextmanager
def _progress_shown(label: ui.label, verb: str) -> Iterator[Callable[[int, int], None]]:
    """A progress callback for a worker thread, shown on `label` twice a second by a timer of the page
    (the callback only stores numbers: UI elements are updated from the event loop)."""
    counts = {"done": 0, "total": 0}

    def progress(done: int, total: int) -> None:
        counts["done"], counts["total"] = done, total

    def show() -> None:
        if counts["total"]:
            label.set_text(f"{verb}: {counts['done']:,} of {plural(counts['total'], 'file')} checked and "
                           "moved through the journal")

    timer = ui.timer(0.5, show)
    try:
        yield progress
    finally:
        timer.cancel()


def _apply_and_follow(ctx: GuiContext, plan: Any, progress: Callable[[int, int], None]) -> Outcome:
    outcome = apply_plan(ctx.settings.root, plan, progress=progress)
    drop_moved(ctx.settings, plan.id, outcome.done)
    return outcome


def _undo_and_follow(ctx: GuiContext, progress: Callable[[int, int], None]) -> Outcome:
    outcome = undo_last(ctx.settings.root, progress=progress)
    restore_moved(ctx.settings, outcome.plan_id, outcome.done)
    return outcome
