"""The full-screen image viewer, shared by the results page and the join page's Compare view.

It shows one image (optionally beside the key) or a pair of images side by side, with each image's name
and file information (pixel size, file size, date), zoom, and left/right to step through a list. Only this
view loads full images; grids show thumbnails. The keyboard listener is active only while it is open, so
arrow keys keep their usual meaning on the page, and the browser's Back button closes it (it pushes one
history entry when it opens), as people expect of a full-screen view.

    viewer = Viewer(ctx)
    viewer.open([ViewItem(...), ...], position, beside=key_item)     # results: one image, beside the key
    viewer.open([ViewPair(left, right, caption), ...], position)      # join: two images side by side
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from nicegui import events, ui

from simages.gui.context import GuiContext
from simages.gui.widgets.image_info import ImageInfo, describe_info, image_info
from simages.naming import display_name

# One listener per page, however many viewers it has: Back turns into a NiceGUI event each viewer checks.
_BACK_LISTENER = """<script>
if (!window.simagesBackListener) {
  window.simagesBackListener = true;
  window.addEventListener("popstate", () => emitEvent("simages_back"));
}
</script>"""
# A plain left click follows the link in place of the viewer's history entry, so Back from the new key's
# page returns to the results, not to a viewer that is gone; other clicks keep the browser's meaning.
_REPLACE_ON_CLICK = """(e) => {
  if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  window.location.replace(e.currentTarget.href);
}"""
ZOOM_STEPS = (0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class ViewItem:
    """One image to show. `url` is its full-size address (image_route.full_url or upload_url); with
    `set_name` and `image` its file information is read when it is shown (or pass `info` directly).
    `link`, if given, is a page of its own (its /similar URL), offered as "Use as new key"."""

    name: str
    url: str
    caption: str = ""  # e.g. "similarity 0.873"
    set_name: str | None = None
    image: str | None = None
    link: str | None = None
    info: ImageInfo | None = None


@dataclass(frozen=True)
class ViewPair:
    """Two images compared side by side (the join page's Compare view); `caption` is e.g. their score."""

    left: ViewItem
    right: ViewItem
    caption: str = ""


class Viewer:
    """A maximized dialog; build it once per page, then `open` it with a list of items or pairs."""

    def __init__(self, ctx: GuiContext) -> None:
        self.ctx = ctx
        self.entries: list[ViewItem | ViewPair] = []
        self.position = 0
        self.beside_item: ViewItem | None = None
        self.beside = True  # show `beside_item` next to the current item (switched with S)
        self.zoom: float | None = None  # None: fit the window; else CSS pixels per image pixel
        self._history_pushed = False
        ui.add_body_html(_BACK_LISTENER)
        ui.on("simages_back", lambda: self._browser_back())
        with ui.dialog().props("maximized") as self.dialog, ui.card().classes(
            "w-full h-full bg-grey-10 text-white q-pa-sm no-shadow no-wrap viewer-card"
        ).mark("viewer"):
            with ui.row().classes("w-full items-center no-wrap gap-2 q-px-sm"):
                with ui.column().classes("gap-0 col").style("min-width: 0"):
                    self.title = ui.label("").classes("text-subtitle1 ellipsis").mark("viewer-title")
                    self.caption = ui.label("").classes("text-grey-4 text-body2").mark("viewer-caption")
                self.counter = ui.label("").classes("text-grey-5 text-caption q-mr-sm")
                self.zoom_out = self._tool("zoom_out", "Zoom out (−)", lambda: self.zoom_by(-1),
                                           "viewer-zoom-out")
                self.fit_button = ui.button("Fit", on_click=lambda: self.set_zoom(None)).props(
                    "flat dense no-caps color=white").mark("viewer-fit")
                self.fit_button.tooltip("Fit the window (0); a click on the image toggles 100 %")
                self.zoom_in = self._tool("zoom_in", "Zoom in (+)", lambda: self.zoom_by(1), "viewer-zoom-in")
                self.beside_button = ui.button("Beside the key", icon="compare",
                                               on_click=lambda: self.toggle_beside()).props(
                    "flat dense no-caps color=white").mark("viewer-beside")
                self.beside_button.tooltip("Show the key next to this image (S)")
                self.key_link = ui.link("Use as new key", "#").classes(
                    "bg-primary text-white q-px-md q-py-xs rounded-borders no-underline").mark("make-key")
                self.key_link.on("click", js_handler=_REPLACE_ON_CLICK)
                close = ui.button(icon="close", on_click=self.close).props("flat round color=white")
                close.props('aria-label="Close (Esc)"').mark("viewer-close")
            with ui.row().classes("w-full col items-stretch no-wrap gap-1").style("min-height: 0"):
                prev = ui.button(icon="chevron_left", on_click=lambda: self.step(-1)).props(
                    'flat round size=lg color=white aria-label="Previous (←)"').classes("self-center")
                prev.mark("viewer-prev")
                self.panels = ui.row().classes("col no-wrap gap-2 items-stretch").style("min-height: 0")
                next_ = ui.button(icon="chevron_right", on_click=lambda: self.step(1)).props(
                    'flat round size=lg color=white aria-label="Next (→)"').classes("self-center")
                next_.mark("viewer-next")
            self.hint = ui.label("").classes("text-grey-6 text-caption self-center")
        # Not ignoring buttons: the dialog focuses its first button when it opens.
        self.keyboard = ui.keyboard(on_key=self._key, active=False, ignore=["input", "select", "textarea"])
        self.dialog.on_value_change(self._opened_or_closed)

    @staticmethod
    def _tool(icon: str, tip: str, action, marker: str) -> ui.button:
        button = ui.button(icon=icon, on_click=action)
        button.props(f'flat round dense color=white aria-label="{tip}"')
        button.tooltip(tip)
        return button.mark(marker)

    # --- opening, closing, stepping -------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return bool(self.dialog.value)

    def open(self, entries: Sequence[ViewItem | ViewPair], position: int = 0,
             beside: ViewItem | None = None) -> None:
        """Show `entries[position]`; ← → step through `entries`. With `beside` (the key), single items can be
        shown next to it. Keeps the zoom of the previous opening only within one list."""
        if not entries:
            return
        self.entries = list(entries)
        self.position = max(0, min(position, len(self.entries) - 1))
        self.beside_item = beside
        self.zoom = None
        self._show()
        if not self.dialog.value:
            self.dialog.open()

    def close(self) -> None:
        self.dialog.close()

    def step(self, delta: int) -> None:
        if self.entries:
            self.position = (self.position + delta) % len(self.entries)
            self._show()

    @property
    def current(self) -> ViewItem | ViewPair | None:
        return self.entries[self.position] if self.entries else None

    def shown_items(self) -> list[ViewItem]:
        """The images on screen now, left first."""
        entry = self.current
        if entry is None:
            return []
        if isinstance(entry, ViewPair):
            return [entry.left, entry.right]
        if self.beside and self.beside_item is not None:
            return [self.beside_item, entry]
        return [entry]

    def _opened_or_closed(self, e: events.ValueChangeEventArguments) -> None:
        self.keyboard.active = bool(e.value)
        if e.value and not self._history_pushed:
            self._history_pushed = True
            ui.run_javascript('history.pushState({simagesViewer: true}, "")')
        elif not e.value and self._history_pushed:
            # Closed by Esc, the close button or a click outside: drop the entry pushed when it opened.
            self._history_pushed = False
            ui.run_javascript("history.back()")

    def _browser_back(self) -> None:
        if self._history_pushed:
            self._history_pushed = False  # the browser already left the viewer's entry
            self.dialog.close()

    # --- zoom and side by side ------------------------------------------------------------------------------

    def set_zoom(self, zoom: float | None) -> None:
        self.zoom = zoom
        self._show()

    def zoom_by(self, steps: int) -> None:
        """One step up or down the zoom ladder (25 % … 400 %); from Fit, the step next to 100 %."""
        current = self.zoom if self.zoom is not None else (0.5 if steps > 0 else 1.0)
        if steps > 0:
            larger = [z for z in ZOOM_STEPS if z > current]
            self.set_zoom(larger[0] if larger else ZOOM_STEPS[-1])
        else:
            smaller = [z for z in ZOOM_STEPS if z < current]
            self.set_zoom(smaller[-1] if smaller else ZOOM_STEPS[0])

    def toggle_zoom(self) -> None:
        self.set_zoom(1.0 if self.zoom is None else None)

    def toggle_beside(self) -> None:
        self.beside = not self.beside
        self._show()

    # --- drawing -------------------------------------------------------------------------------------------

    def _info_of(self, item: ViewItem) -> ImageInfo | None:
        if item.info is not None:
            return item.info
        if item.set_name is not None and item.image is not None:
            return image_info(self.ctx.settings, item.set_name, item.image)
        return None

    def _show(self) -> None:
        entry = self.current
        if entry is None:
            return
        items = self.shown_items()
        main = entry.right if isinstance(entry, ViewPair) else entry
        if isinstance(entry, ViewPair):
            self.title.text = display_name(f"{entry.left.name}  ↔  {entry.right.name}")
            self.caption.text = entry.caption
        else:
            self.title.text = display_name(entry.name)
            self.caption.text = entry.caption
        self.counter.text = f"{self.position + 1} / {len(self.entries)}"
        self.fit_button.text = "Fit" if self.zoom is None else f"{self.zoom * 100:.0f} %"
        can_beside = not isinstance(entry, ViewPair) and self.beside_item is not None
        self.beside_button.set_visibility(can_beside)
        self.beside_button.props(f"color={'primary' if self.beside else 'white'}")
        self.key_link.set_visibility(main.link is not None)
        if main.link is not None:
            self.key_link.props["href"] = main.link
            self.key_link.update()
        keys = ["← → browse"] if len(self.entries) > 1 else []
        keys += ["+ − zoom, 0 fit"] + (["S beside the key"] if can_beside else []) + ["Esc or Back closes"]
        self.hint.text = " · ".join(keys)
        self.panels.clear()
        with self.panels:
            for item in items:
                self._panel(item, labelled=len(items) > 1)

    def _panel(self, item: ViewItem, labelled: bool) -> None:
        info = self._info_of(item)
        with ui.column().classes("col gap-1 no-wrap viewer-panel").style("min-width: 0; min-height: 0"):
            with ui.element("div").classes("viewer-scroll col"):
                image = ui.element("img").classes("viewer-image").mark("viewer-image")
                # Set as values, not parsed prop strings: image names may contain quotes or spaces.
                image.props["src"] = item.url
                image.props["alt"] = display_name(item.name)
                image.props["title"] = "Click: 100 % / fit"
                image.style(self._zoom_style(item, info))
                image.on("click", lambda: self.toggle_zoom())
            if labelled:
                ui.label(display_name(item.name)).classes("text-body2 ellipsis").mark("viewer-name")
            text = describe_info(info) or "file information not available"
            ui.label(text).classes("text-grey-5 text-caption").mark("viewer-info")

    def _zoom_style(self, item: ViewItem, info: ImageInfo | None) -> str:
        if self.zoom is None:
            return "max-width: 100%; max-height: calc(100vh - 170px); object-fit: contain"
        if item.set_name is not None and info is not None and info.width:
            return f"width: {info.width * self.zoom:.0f}px; max-width: none; max-height: none"
        # Without the shown file's pixel size (an upload shows a small copy), scale what the browser shows.
        return f"zoom: {json.dumps(self.zoom)}; max-width: none; max-height: none"

    def _key(self, e: events.KeyEventArguments) -> None:
        if not e.action.keydown:
            return
        key = str(e.key.name)
        if e.key.arrow_left:
            self.step(-1)
        elif e.key.arrow_right:
            self.step(1)
        elif e.key.escape:
            self.close()
        elif key in ("+", "="):
            self.zoom_by(1)
        elif key in ("-", "_"):
            self.zoom_by(-1)
        elif key == "0":
            self.set_zoom(None)
        elif key.lower() == "s" and self.beside_item is not None:
            self.toggle_beside()
