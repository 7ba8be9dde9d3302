"""The triage page's pieces: a photo's tile with its badge, a copy group's facts side by side, and what an
apply or undo did."""

from __future__ import annotations

from pathlib import Path

from nicegui import ui

from simages.gui.pages.common import name_caption, thumbnail_img
from simages.gui.urls.image import thumb_url
from simages.naming import display_name
from simages.operations.triage import CopyGroup
from simages.triage.exif import differences
from simages.triage.quarantine import Outcome

_BADGE = {True: ("in collection", "grey-8"), False: ("new", "positive")}


def tile(qualified: str, existing: bool) -> None:
    """A thumbnail of `set/image` with its badge: new, or already in the collection, and its set."""
    set_name, _, image = qualified.partition("/")
    word, colour = _BADGE[existing]
    with ui.column().classes("gap-0 items-center"):
        thumbnail_img(thumb_url(set_name, image), "w-[96px] h-[72px] object-contain", display_name(image))
        badge = ui.badge(f"{word} · {display_name(set_name)}", color=colour)
        badge.mark(f"badge-{word.replace(' ', '-')}")
        name_caption(image)


def compare_table(group: CopyGroup, what: dict[str, str] | None = None) -> None:
    """The facts of every member of a copy group side by side, those that differ said so, after what each
    member is (`what`: "Edited copy: 0.18 · a.jpg is b.jpg turned 90° clockwise", "in the collection")."""
    first = group.facts[group.members[0]]
    differing: set[str] = set()
    for member in group.members[1:]:
        differing |= set(differences(first, group.facts[member]))
    columns = [{"name": "fact", "label": "", "field": "fact", "align": "left"}]
    columns += [{"name": str(i), "label": display_name(m), "field": str(i), "align": "left"}
                for i, m in enumerate(group.members)]
    rows = []
    if what:
        rows.append({"fact": "copy", **{str(i): what[m] for i, m in enumerate(group.members)}})
    for fact in first.rows():
        row = {"fact": fact + (" (differs)" if fact in differing else "")}
        row.update({str(i): group.facts[m].rows()[fact] for i, m in enumerate(group.members)})
        rows.append(row)
    ui.table(columns=columns, rows=rows).props("dense flat").classes("w-full").mark("triage-compare")


def outcome_lines(root: Path, outcome: Outcome | None, problem: str = "") -> None:
    """What an apply or undo did (or the problem that stopped it), and where the moved files went."""
    if outcome is None:
        ui.label(problem).classes("text-negative").mark("outcome-summary")
        return
    ui.label(outcome.summary()).classes("text-body1").mark("outcome-summary")
    for move, reason in outcome.skipped:
        ui.label(f"left {display_name(move.qualified)}: {reason}").classes("text-caption")
    if outcome.kind == "apply" and outcome.done:
        ui.label(f"Moved to {root / 'quarantine' / outcome.plan_id}/; "
                 "“Undo last apply” brings them back.").classes("text-caption")
