"""How well the duplicate threshold works on the user's own photos, where duplicate answers are read.

The estimate (simages.copies.calibration) is measured in the background after indexing; this note says it
("Threshold 0.5, tested on 40 copies of your photos with everyday edits ...") or, honestly, that it is being
measured or not yet, which duplicates space the scores are in, and follows the background work every few
seconds: when the space is learned again (copy-aware, after the app made edited copies of the photos)
while the page is open, it says first that the scores shown are out of date.
"""

from __future__ import annotations

from nicegui import ui

from simages.copies.calibration import EVERYDAY_EDITS, CalibrationStatus, status
from simages.gui.context import GuiContext

# How often a note that is not measured yet looks again (seconds): one small JSON read and the cached space.
POLL_SECONDS = 3.0


def calibration_status(ctx: GuiContext) -> CalibrationStatus:
    """The estimate's status for the collection's current duplicates space (never raises for a
    collection that cannot be read: then "absent")."""
    try:
        return status(ctx.settings, ctx.descriptors)
    except (OSError, ValueError, LookupError):
        return CalibrationStatus("absent")


def _failure(ctx: GuiContext) -> str:
    """Why the app's last background estimate failed ("" when it did not, or there is none)."""
    reader = getattr(ctx.manager, "calibration", None)
    if reader is None:
        return ""
    state, message = reader()
    return message if state == "failed" else ""


def sentence_for(ctx: GuiContext, found: CalibrationStatus, drawn: str | None = None) -> str:
    """The status's sentence, why the last background estimate failed, and, when the duplicates space is
    no longer the one whose fingerprint is `drawn` (the scores on the page were drawn in), that they moved."""
    text = found.sentence()
    failure = _failure(ctx) if found.state == "absent" else ""
    if failure:
        text += f" (The last attempt failed: {failure}.)"
    now = found.space.fingerprint if found.space is not None else None
    if drawn is not None and now != drawn:
        text = f"{MOVED} {text}"
    return text


# Said first on a page whose scores were drawn in a space since learned again (the app learns the copy-aware
# space in the background after indexing): the scores it shows are not today's.
MOVED = ("The duplicates space was learned again since this page was drawn: the scores shown here are out of "
         "date (search again, or reload the page).")


def calibration_note(ctx: GuiContext) -> ui.row:
    """A line with an icon: the estimate, or what is happening to it; marked `calibration` with the state
    as `calibration-<state>` on the text."""
    found = calibration_status(ctx)
    drawn = found.space.fingerprint if found.space is not None else None
    row = ui.row().classes("items-start no-wrap gap-1").mark("calibration")
    with row:
        icon = ui.icon("fact_check" if found.state == "measured" else "hourglass_empty", color="primary",
                       size="xs").classes("q-mt-xs")
        text = ui.label(sentence_for(ctx, found)).classes("text-caption text-grey-8")
        text.mark(f"calibration-{found.state}")
        text.tooltip(f"Copies of a sample of your own photos, each with one everyday edit "
                     f"({EVERYDAY_EDITS}), are searched among all your indexed photos: the share of them "
                     "whose score passes the default duplicate threshold, and the share of passing pairs "
                     "that are real copies. Some of your photos are also left out of the learning "
                     "and searched as new ones.")

    def follow() -> None:
        fresh = calibration_status(ctx)
        text.text = sentence_for(ctx, fresh, drawn)
        text.mark(f"calibration-{fresh.state}")
        moved = drawn is not None and (fresh.space.fingerprint if fresh.space is not None else None) != drawn
        measured = "fact_check" if fresh.state == "measured" else "hourglass_empty"
        icon.name = "sync_problem" if moved else measured
        if moved:
            text.mark(f"calibration-{fresh.state}", "scores-moved")

    # Kept following once measured too: the app may learn the space again (copy-aware) while the page is open.
    ui.timer(POLL_SECONDS, follow)
    return row
