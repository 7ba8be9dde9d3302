"""The trained-descriptor picker of the results page: the untrained descriptor or a head trained with
`simages train` (simages.training.registry), each labelled with what it measured, and the chosen head's
training curves. Nothing is shown where no head was trained."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from nicegui import ui

from simages.gui.context import GuiContext
from simages.training.registry import Head, curves_path, list_heads

UNTRAINED = ""


def head_label(head: Head) -> str:
    """`NAME: test mAP 0.962 vs 0.902 untrained`, saying plainly when the head does not beat it."""
    metrics = head.meta.get("metrics", {})
    trained = metrics.get("trained", {}).get("mAP")
    baseline = metrics.get("baseline", {}).get("mAP")
    if trained is None or baseline is None:
        return head.name
    verdict = "" if head.beats_baseline else " (not better than untrained)"
    where = head.meta.get("set")
    return f"{head.name}: trained on {where}, test mAP {trained:.3f} vs {baseline:.3f} untrained{verdict}"


def head_picker(ctx: GuiContext, chosen: str | None, on_change: Callable[[], None],
                set_name: str | None = None) -> ui.select | None:
    """A select of the untrained descriptor and every trained head (None when there is no head and none is
    asked for), and below it the chosen head's training curves when they were saved, and a link to the
    atlas of `set_name` before and after that head (/atlas?set=S&head=NAME)."""
    heads = list_heads(ctx.settings.features)
    if not heads and not chosen:
        return None
    options = {UNTRAINED: "untrained (the set's own descriptor)"}
    options.update({head.name: head_label(head) for head in heads})
    if chosen and chosen not in options:
        options[chosen] = f"{chosen} (no such trained head)"
    select = ui.select(options, value=chosen or UNTRAINED, label="Trained descriptor",
                       on_change=lambda _: on_change())
    select.classes("w-full").props("dense options-dense").mark("head")
    select.tooltip("Heads trained with `simages train SET --name NAME` on labelled sub-folders; one applies "
                   "to any set indexed with the same stored descriptor")
    curves = curves_path(ctx.settings.features, chosen) if chosen and chosen in options else None
    if curves is not None and curves.is_file():
        with ui.expansion("Training curves", icon="show_chart").classes("w-full").mark("head-curves"):
            ui.image(curves).classes("w-full")
    if chosen and set_name and any(head.name == chosen for head in heads):
        link = "/atlas?" + urlencode({"set": set_name, "head": chosen}, encoding="utf-8",
                                     errors="surrogateescape")
        ui.link(f"Map {set_name} before and after this head", link).classes(
            "text-caption text-primary").mark("head-atlas")
    return select
