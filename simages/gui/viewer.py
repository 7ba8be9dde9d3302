"""Full-screen view of one result, with left/right to step through the results and Esc to close.

Only this view loads full images; the grid shows thumbnails. The keyboard listener is active only while
the dialog is open, so arrow keys keep their usual meaning on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nicegui import events, ui


@dataclass(frozen=True)
class ViewItem:
    name: str
    caption: str  # e.g. "similarity 0.873"
    url: str  # the full-size image
    can_be_key: bool = True


class Viewer:
    def __init__(self, on_make_key: Callable[[ViewItem], None]) -> None:
        self.items: list[ViewItem] = []
        self.position = 0
        self.on_make_key = on_make_key
        with ui.dialog().props("maximized") as self.dialog, ui.card().classes(
            "w-full h-full bg-grey-10 text-white items-center q-pa-md no-shadow"
        ).mark("viewer"):
            with ui.row().classes("w-full items-center no-wrap gap-2"):
                self.title = ui.label("").classes("text-subtitle1 ellipsis").mark("viewer-title")
                self.caption = ui.label("").classes("text-grey-4")
                ui.space()
                self.counter = ui.label("").classes("text-grey-5 text-caption")
                self.key_button = ui.button("Use as new key", icon="search", on_click=self._make_key).props(
                    "no-caps color=primary").mark("make-key")
                close = ui.button(icon="close", on_click=self.close).props("flat round color=white")
                close.mark("viewer-close")
            with ui.row().classes("w-full col items-center no-wrap"):
                ui.button(icon="chevron_left", on_click=lambda: self.step(-1)).props(
                    "flat round size=lg color=white").mark("viewer-prev")
                with ui.element("div").classes("col row justify-center items-center"):
                    self.image = ui.element("img").classes("viewer-image").mark("viewer-image")
                ui.button(icon="chevron_right", on_click=lambda: self.step(1)).props(
                    "flat round size=lg color=white").mark("viewer-next")
            ui.label("← → to browse, Esc to close").classes("text-grey-6 text-caption")
        # Not ignoring buttons: the dialog focuses its first button when it opens.
        self.keyboard = ui.keyboard(on_key=self._key, active=False, ignore=["input", "select", "textarea"])
        self.dialog.on_value_change(self._opened_or_closed)

    def _opened_or_closed(self, e: events.ValueChangeEventArguments) -> None:
        self.keyboard.active = bool(e.value)

    def open(self, items: list[ViewItem], position: int) -> None:
        self.items = items
        self.position = position
        self._show()
        self.dialog.open()

    def close(self) -> None:
        self.dialog.close()

    def step(self, delta: int) -> None:
        if self.items:
            self.position = (self.position + delta) % len(self.items)
            self._show()

    @property
    def current(self) -> ViewItem | None:
        return self.items[self.position] if self.items else None

    def _show(self) -> None:
        item = self.current
        if item is None:
            return
        self.title.text = item.name
        self.caption.text = item.caption
        self.counter.text = f"{self.position + 1} / {len(self.items)}"
        # Set as values, not parsed prop strings: image names may contain quotes or spaces.
        self.image.props["src"] = item.url
        self.image.props["alt"] = item.name
        self.image.update()
        self.key_button.set_visibility(item.can_be_key)

    def _make_key(self) -> None:
        item = self.current
        if item is not None:
            self.close()
            self.on_make_key(item)

    def _key(self, e: events.KeyEventArguments) -> None:
        if not e.action.keydown:
            return
        if e.key.arrow_left:
            self.step(-1)
        elif e.key.arrow_right:
            self.step(1)
        elif e.key.escape:
            self.close()
