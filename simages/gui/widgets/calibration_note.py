"""How well the duplicate threshold works on the user's own photos, where duplicate answers are read.

The estimate (simages.copies.calibration) is measured in the background after indexing; this note says it
("At the default threshold (0.5): about 97% of pairs are copies, ...") or, honestly, that it is being
measured or not yet, and follows the background work: while it is not measured it looks again every
few seconds.
"""

from __future__ import annotations

from nicegui import ui

from simages.copies.calibration import CalibrationStatus, status
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


def sentence_for(ctx: GuiContext, found: CalibrationStatus) -> str:
    text = found.sentence()
    failure = _failure(ctx) if found.state == "absent" else ""
    return f"{text} (The last attempt failed: {failure}.)" if failure else text


def calibration_note(ctx: GuiContext) -> ui.row:
    """A line with an icon: the estimate, or what is happening to it; marked `calibration` with the state
    as `calibration-<state>` on the text."""
    found = calibration_status(ctx)
    row = ui.row().classes("items-start no-wrap gap-1").mark("calibration")
    with row:
        icon = ui.icon("fact_check" if found.state == "measured" else "hourglass_empty", color="primary",
                       size="xs").classes("q-mt-xs")
        text = ui.label(sentence_for(ctx, found)).classes("text-caption text-grey-8")
        text.mark(f"calibration-{found.state}")
        text.tooltip("Edited copies of a sample of your own photos are searched among all of them: the share "
                     "of passing pairs that are true copies, and the share of copies found, at the default "
                     "duplicate threshold.")

    def follow() -> None:
        fresh = calibration_status(ctx)
        text.text = sentence_for(ctx, fresh)
        text.mark(f"calibration-{fresh.state}")
        icon.name = "fact_check" if fresh.state == "measured" else "hourglass_empty"
        if fresh.state in ("measured", "small"):
            timer.active = False

    timer = ui.timer(POLL_SECONDS, follow, active=found.state not in ("measured", "small"))
    return row
