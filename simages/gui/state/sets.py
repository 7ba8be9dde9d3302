"""The sets a page shows, read without drawing: which exist, their indexes as an intent reads them, their
indexing status, and the thresholds and query expansion the settings panels suggest for them. Never
raises at users: a set that cannot be read yet is None."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from simages.extraction.images import claims_image
from simages.gui.context import GuiContext
from simages.naming import InvalidName, display_name, list_sets, refused_link, set_dir
from simages.nearest.core.distribution import default_threshold, key_threshold
from simages.nearest.core.intents import intent_named
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import duplicate_threshold
from simages.nearest.sets.cache import NotIndexed
from simages.store.npz_store import StoreError
from simages.store.scan import scan_set
from simages.training.registry import resolve_descriptor


class Expansion(NamedTuple):
    """The searched set's query expansion: `k` neighbours averaged into a key (0: none, None: not known
    yet), and why it is 0 although the set's descriptor asks for it (a set too small), if so."""

    k: int | None = None
    left_out: str | None = None


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
        return sorted(index.names)  # a store written by an older version may hold restored images last
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


