"""Index status of every set, polled from the index manager and redrawn only when something changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from simages.gui.context import ManagerLike
from simages.naming import display_name
from simages.wording import plural

_STATE_STYLE = {
    "indexed": ("positive", "check_circle"),
    "indexing": ("primary", "autorenew"),
    "waiting": ("grey-7", "schedule"),
    "failed": ("negative", "error"),
    "not indexed": ("grey-7", "radio_button_unchecked"),
}


def status_signature(status: Any) -> tuple:
    return (status.name, status.state, status.count, status.done, status.total, status.message,
            len(status.unreadable or {}), status.time_left)


def describe_status(status: Any) -> str:
    """One line for people, e.g. `indexed, 1,000 images` or `indexing 12 of 40`."""
    if status.state == "indexed":
        return f"indexed, {plural(status.count, 'image')}"
    if status.state == "indexing":
        if status.message and not status.done:  # e.g. the engine calibration of the first run
            return f"indexing: {status.message}"
        if not status.total:
            return "indexing…"
        left = status.time_left
        return f"indexing {status.done:,} of {status.total:,}" + (f", {left}" if left else "")
    if status.state == "failed":
        return f"failed: {status.message}" if status.message else "failed"
    if status.state == "waiting":
        return "waiting to be indexed"
    return status.message or "not indexed yet"


def loose_note(loose: list[str]) -> str:
    """What to do about image files lying directly in image_sets/ (empty when there are none)."""
    if not loose:
        return ""
    shown = ", ".join(loose[:3]) + (f" and {len(loose) - 3} more" if len(loose) > 3 else "")
    one = len(loose) == 1
    return (f"{len(loose)} image {'file lies' if one else 'files lie'} directly in image_sets/ ({shown}) and "
            f"so {'belongs' if one else 'belong'} to no set: move {'it' if one else 'them'} into a folder "
            "there (each folder is a set).")


class StatusPanel:
    """A card listing every set; `on_change(statuses)` runs whenever any status changes. `loose()` lists
    image files lying directly in image_sets/, which no set holds: the card says so."""

    def __init__(
        self,
        manager: ManagerLike,
        on_change: Callable[[list[Any]], None] | None = None,
        interval: float = 1.0,
        loose: Callable[[], list[str]] | None = None,
    ) -> None:
        self.manager = manager
        self.on_change = on_change
        self.loose = loose
        self._signature: tuple | None = None
        with ui.card().classes("w-full").props("flat bordered").mark("status-panel"):
            ui.label("Image sets").classes("text-subtitle1 text-weight-medium")
            self.rows = ui.column().classes("w-full gap-1")
        self.poll(notify=False)  # the page draws itself from the same state; only later changes matter
        ui.timer(interval, self.poll)

    def poll(self, notify: bool = True) -> None:
        statuses = sorted(self.manager.statuses(), key=lambda s: (s.name.casefold(), s.name))
        loose = self.loose() if self.loose is not None else []
        signature = (*(status_signature(s) for s in statuses), tuple(loose))
        if signature == self._signature:
            return
        self._signature = signature
        self._draw(statuses, loose)
        if notify and self.on_change is not None:
            self.on_change(statuses)

    def _draw(self, statuses: list[Any], loose: list[str]) -> None:
        self.rows.clear()
        with self.rows:
            if loose:
                with ui.row().classes("w-full items-start no-wrap gap-2").mark("loose-files"):
                    ui.icon("warning", color="warning", size="sm")
                    ui.label(loose_note(loose)).classes("text-caption text-grey-9").style(
                        "overflow-wrap: anywhere")
            if not statuses:
                hint = "No sets yet: put a folder of images into image_sets/ and it is indexed here."
                ui.label(hint).classes("text-grey-7 text-body2")
            for status in statuses:
                color, icon = _STATE_STYLE.get(status.state, ("grey-7", "help"))
                # The name has a line of its own: a long failure message below it can never squeeze it.
                with ui.column().classes("w-full gap-0").mark(f"status:{status.name}"):
                    with ui.row().classes("w-full items-center no-wrap gap-2"):
                        ui.icon(icon, color=color, size="sm")
                        shown = display_name(status.name)
                        name = ui.label(shown).classes("col text-weight-medium ellipsis status-name")
                        name.tooltip(shown)
                    with ui.column().classes("w-full gap-1 status-detail"):
                        state_text = display_name(describe_status(status))
                        ui.label(state_text).classes(f"text-caption text-{color}").mark(
                            f"state:{status.name}")
                        if status.state == "indexing" and status.total:
                            ui.linear_progress(status.done / status.total, show_value=False).props("rounded")
                        if status.unreadable:
                            text = f"{plural(len(status.unreadable), 'file')} could not be read"
                            with ui.label(text).classes("text-caption text-warning"):
                                first = list(status.unreadable.items())[:10]
                                detail = display_name("\n".join(f"{n}: {why}" for n, why in first))
                                ui.tooltip(detail).style("white-space: pre-line")
