"""The start page's notes: the missing-weights banner, the line above the grid while the key set cannot
be searched yet, and what to do when there is no set at all."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from simages.gui.widgets.status_panel import describe_status, loose_note
from simages.naming import display_name


def weights_banner(problem: str) -> None:
    """Descriptors cannot be computed (the network weights are missing): why, and what still works."""
    banner = ui.card().classes("w-full bg-orange-1").props("flat bordered").mark("weights-banner")
    with banner, ui.row().classes("items-center no-wrap gap-3"):
        ui.icon("warning", color="warning", size="md")
        with ui.column().classes("gap-0"):
            ui.label("Descriptors cannot be computed: the network weights are missing").classes(
                "text-weight-medium"
            )
            ui.label(problem).classes("text-body2")
            ui.label("Sets indexed earlier can still be searched.").classes("text-caption")


def key_set_note_row(key_set: str, note: str, status: Any) -> None:
    """The line above the grid for a key set that cannot be searched yet (gui.state.home.key_set_note's
    `note`: "indexing", "failed" or "not indexed"): its images can still be browsed."""
    with ui.row().classes("items-center no-wrap gap-2 q-py-xs").mark("not-indexed"):
        if note == "indexing":
            ui.spinner(size="sm")
            text = display_name(f"{key_set} is {describe_status(status)}. You can pick a key image "
                                "already: its search starts as soon as the set is ready.")
            ui.label(text).classes("text-body2 text-grey-8")
        elif note == "failed":
            ui.icon("error", color="negative", size="sm")
            reason = f": {status.message}" if status.message else ""
            failed = display_name(f"{key_set} could not be indexed{reason}")
            ui.label(failed).classes("text-body2 text-negative")
        else:
            ui.icon("hourglass_empty", color="grey-7", size="sm")
            waiting = f"{display_name(key_set)} is not indexed yet; its images can be browsed already."
            ui.label(waiting).classes("text-body2 text-grey-8")


def no_sets_message(loose: list[str]) -> None:
    """There is no set yet: how to make one, and the image files lying loose in image_sets/, if any."""
    ui.label("Put a folder of images into image_sets/; it appears here and is indexed "
             "without restarting the app.").classes("text-grey-8")
    note = loose_note(loose)
    if note:
        ui.label(note).classes("text-body2 text-warning").mark("loose-files-main")
