"""Pieces the pages draw alike: the header, the friendly error page, thumbnails and their captions, the
banner for a removed set (the set lookups they show are in gui/state/sets.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from nicegui import ui

from simages.gui.context import GuiContext
from simages.gui.state.sets import set_exists
from simages.naming import display_name, is_image_name


def page_header(subtitle: str = "") -> None:
    ui.query("body").classes("bg-grey-1")
    with ui.header(elevated=False).classes("bg-white text-grey-9 items-center q-px-lg q-py-sm border-b"):
        with ui.link(target="/").classes("no-underline text-grey-9 row items-center gap-2"):
            ui.icon("image_search", size="md", color="primary")
            ui.label("SIMages").classes("text-h6 text-weight-bold")
        if subtitle:
            ui.label(subtitle).classes("text-grey-7 q-ml-md gt-xs")


def error_page(title: str, message: str, home: str = "/") -> None:
    """A calm page for a missing set or image or a bad link, instead of a stack trace."""
    page_header()
    outer = ui.column().classes("w-full items-center q-pa-xl")
    with outer, ui.card().classes("q-pa-lg").style("max-width: 560px"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("sentiment_dissatisfied", color="grey-7", size="md")
            ui.label(title).classes("text-h6").mark("error-title")
        ui.label(message).classes("text-body1 text-grey-8").mark("error-message")
        ui.link("Back to the start page", home).classes("text-primary").mark("home-link")


def not_found_page(path: str) -> None:
    """The page for an unknown address (a mistyped or outdated link)."""
    error_page("Page not found", f"There is no page at {path}. Images are found from the start page.")


def loose_images(image_sets: Path) -> list[str]:
    """Image files lying directly in `image_sets/`: they belong to no set, so nothing indexes them."""
    try:
        entries = list(os.scandir(image_sets))
    except OSError:
        return []
    return sorted((e.name for e in entries if not e.name.startswith(".") and is_image_name(e.name)
                   and e.is_file()), key=str.casefold)


def thumbnail_img(url: str, classes: str = "", alt: str = "") -> ui.element:
    """A plain lazily loaded <img>: far lighter than ui.image for grids of dozens of thumbnails. `alt` is
    what a screen reader says (the image's name)."""
    img = ui.element("img").classes(classes)
    img.props["src"] = url
    img.props["loading"] = "lazy"
    img.props["alt"] = alt
    return img


# The end of a file name that a caption never cuts: a few characters of the stem, and the extension.
_KEPT_STEM_END = 6


def caption_parts(name: str, set_name: str | None = None) -> tuple[str, str, str]:
    """(set part, cuttable middle, kept end) of a thumbnail caption: `("trips/", "2024/IMG_20240",
    "512.jpg")`. Joined they give the whole shown name; the set part is empty without `set_name`."""
    shown = display_name(name)
    folder, _, base = shown.rpartition("/")
    stem, dot, extension = base.rpartition(".")
    if not dot or not stem:  # no extension (or a dot file): keep the name's last characters
        stem, extension = base, ""
    cut = max(0, len(stem) - _KEPT_STEM_END)
    middle = (folder + "/" if folder else "") + stem[:cut]
    end = stem[cut:] + (dot + extension if extension else "")
    return (display_name(set_name) + "/" if set_name else ""), middle, end


def name_caption(name: str, set_name: str | None = None) -> ui.element:
    """A thumbnail's caption with the image's full relative name (`dinosaurs/4_438.jpg`), after its set
    when given (`corel/dinosaurs/4_438.jpg`; a join shows images of two sets): the folder tells which class
    an image belongs to. When too long the middle is cut (`corel/dinos…4_438.jpg`): the set and the file
    name's end with its extension stay readable; the tile's tooltip has the whole name."""
    set_part, middle, end = caption_parts(name, set_name)
    with ui.element("div").classes("thumb-caption") as caption:
        if set_part:
            ui.label(set_part).classes("thumb-caption-set")
        if middle:
            ui.label(middle).classes("thumb-caption-dir")
        ui.label(end).classes("thumb-caption-base")
    return caption


def removed_sets_text(gone: list[str]) -> str:
    """What a page says when sets it shows were removed while it was open."""
    shown = ", ".join(display_name(name) for name in gone)
    if len(gone) == 1:
        return (f"This set was removed: {shown} (its folder is no longer in image_sets/). What the page "
                "shows is what it held; a new search of it is not possible.")
    return (f"These sets were removed: {shown} (their folders are no longer in image_sets/). What the page "
            "shows is what they held; a new search of them is not possible.")


def removed_sets_banner(ctx: GuiContext, shown_sets: Callable[[], list[str | None]],
                        interval: float = 1.0) -> ui.element:
    """A banner, hidden until a set the page shows (`shown_sets()`, None entries ignored) is removed from
    image_sets/ while the page is open; it says which and hides again if the folder comes back. Checked
    every `interval` seconds with the same rule as every request (`set_exists`)."""
    with ui.row().classes("w-full items-center no-wrap gap-2 q-pa-sm bg-orange-1 rounded-borders") as banner:
        ui.icon("folder_off", color="warning")
        text = ui.label("").classes("text-body2")
    banner.mark("set-removed")
    banner.set_visibility(False)

    def check() -> None:
        gone = [name for name in dict.fromkeys(shown_sets()) if name and not set_exists(ctx, name)]
        if gone:
            text.text = removed_sets_text(gone)
        banner.set_visibility(bool(gone))

    ui.timer(interval, check)
    return banner
