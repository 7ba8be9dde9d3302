"""Pieces both pages use: the header, the friendly error page and set lookups that never raise at users."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from nicegui import ui

from simages.extraction.images import claims_image
from simages.gui.context import GuiContext
from simages.gui.widgets.controls import Expansion
from simages.naming import InvalidName, display_name, is_image_name, list_sets, refused_link, set_dir
from simages.nearest.core.distribution import default_threshold, key_threshold
from simages.nearest.core.intents import intent_named
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import duplicate_threshold
from simages.nearest.sets.cache import NotIndexed
from simages.store.npz_store import StoreError
from simages.store.scan import scan_set
from simages.training.registry import resolve_descriptor


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


def set_order(name: str) -> tuple[str, str]:
    """Sort key for set names as people read lists: `beach` before `Cats` before `dogs`."""
    return name.casefold(), name


def set_choices(names: list[str]) -> dict[str, str]:
    """Options of a set select: each set name with its printable label (`naming.display_name`)."""
    return {name: display_name(name) for name in names}


def known_sets(ctx: GuiContext) -> list[str]:
    """Sets with a folder or a feature store, as the manager and the disk know them, sorted ignoring case."""
    names = set(list_sets(ctx.settings.image_sets))
    names.update(status.name for status in ctx.manager.statuses())
    return sorted(names, key=set_order)


def loose_images(image_sets: Path) -> list[str]:
    """Image files lying directly in `image_sets/`: they belong to no set, so nothing indexes them."""
    try:
        entries = list(os.scandir(image_sets))
    except OSError:
        return []
    return sorted((e.name for e in entries if not e.name.startswith(".") and is_image_name(e.name)
                   and e.is_file()), key=str.casefold)


def missing_set_message(ctx: GuiContext, name: str) -> str:
    """Why there is no set `name`, for the page that asked (naming.set_dir's rule and words)."""
    try:
        set_dir(ctx.settings.image_sets, name)
    except InvalidName:
        pass
    except LookupError as error:
        refusal = refused_link(ctx.settings.image_sets, name)
        if refusal or "is a link" in str(error):
            return str(error)
    else:
        return f"The image set “{display_name(name)}” exists."
    return display_name(f"There is no image set named “{name}”.")


def set_exists(ctx: GuiContext, name: str) -> bool:
    # set_dir, the CLI's rule too: a folder, or a link to a folder (not one holding image_sets/ itself).
    try:
        set_dir(ctx.settings.image_sets, name)
    except (InvalidName, LookupError):
        return False
    return True


def load_index(
    ctx: GuiContext, name: str, intent: str = "similar", head: str | None = None
) -> SetIndex | None:
    """The set's index read for `intent` (nearest.intents: "duplicates" reads it in the duplicates space),
    or None while it has no usable store (not indexed yet, or being rebuilt). With `head` (similar intent
    only) the set is read with that trained head (simages train): HeadError when there is no such head,
    DescriptorMismatch when it was trained on other stored vectors (both ValueErrors saying why)."""
    try:
        if intent != "similar":
            return ctx.descriptors.get(ctx.settings, name, intent_named(intent))
        if head:
            spec = resolve_descriptor(f"head:{head}", ctx.settings.features)
            return ctx.descriptors.get(ctx.settings, name, spec)
        return ctx.descriptors.get(ctx.settings, name)
    except (NotIndexed, StoreError, InvalidName):
        return None


def browsable_images(ctx: GuiContext, name: str, index: SetIndex | None) -> list[str]:
    """The images to show for browsing a set, sorted: the indexed names when its index is usable (exactly the
    images a search can use), otherwise the image files in its folder -- browsing needs no descriptors."""
    if index is not None:
        return list(index.names)
    try:
        folder = set_dir(ctx.settings.image_sets, name)
    except (InvalidName, LookupError):
        return []
    # The folder lists every file (what is an image is decided when it is indexed); browse those whose
    # name says image, so notes and sidecar files do not show up as broken thumbnails.
    return [name for name in scan_set(folder, ctx.settings.image_sets).files if claims_image(name)]


def threshold_for(ctx: GuiContext, name: str | None, metric: str, expand: bool = True) -> float | None:
    index = load_index(ctx, name) if name else None
    if index is None:
        return None
    return default_threshold(index, metric, expand=expand)


def key_threshold_for(
    ctx: GuiContext, name: str | None, vector: object, exclude: str | None, metric: str, expand: bool = True,
    intent: str = "similar",
    head: str | None = None,
) -> float | None:
    """The range threshold suggested for one key (`nearest.distribution.key_threshold`: its own top 1%,
    1 to 50 images); the set's threshold while the key's descriptor is not known yet. For the duplicates
    intent the duplicate threshold of the set (never a share of the key's scores: a key with no copy in
    the set must find none). With a trained `head`, the key's scores in the head's space (None when the
    head cannot be applied: the search itself says why)."""
    if intent == "duplicates":
        searched = load_index(ctx, name, intent) if name else None
        return duplicate_threshold(metric, searched)
    if head:
        try:
            index = load_index(ctx, name, intent, head) if name else None
        except ValueError:
            return None
        if index is None or not isinstance(vector, np.ndarray):
            return None
        return key_threshold(index, vector, metric, exclude, expand=expand)
    index = load_index(ctx, name) if name else None
    if index is None or not isinstance(vector, np.ndarray):
        return threshold_for(ctx, name, metric, expand)
    return key_threshold(index, vector, metric, exclude, expand=expand)


# Why the duplicates question never expands a key (nearest.intents: its descriptor has no qe).
DUPLICATES_NO_EXPANSION = ("the Duplicates question compares the photos themselves, without averaging in "
                           "their neighbours")


def expansion_of(ctx: GuiContext, name: str | None, intent: str = "similar") -> Expansion:
    """The query expansion a key gets in this set for `intent` (unknown while the set is not indexed; none,
    with why, for the duplicates question)."""
    if intent == "duplicates":
        return Expansion(0, DUPLICATES_NO_EXPANSION)
    index = load_index(ctx, name) if name else None
    return Expansion() if index is None else Expansion(index.expansion, index.expansion_left_out())


def status_of(ctx: GuiContext, name: str) -> Any | None:
    try:
        return ctx.manager.status(name)
    except (LookupError, KeyError):
        return None


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
