"""The results page's grid: the answer's images best first, each a link to its own search, with score,
level, turn and what changed (the duplicates question), and the viewer's caption for each."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from nicegui import ui

from simages.copies.changes import describe as describe_changes
from simages.copies.changes import turn_words
from simages.copies.levels import Level, below_threshold_note
from simages.copies.pixels import same_pixels
from simages.gui.context import GuiContext
from simages.gui.pages.common import name_caption, thumbnail_img
from simages.gui.state.results import Answered, copies_turned, no_duplicate_found, turned_sentence
from simages.gui.urls.query import QueryState, results_url
from simages.gui.widgets.controls import format_score, score_label
from simages.gui.widgets.levels import level_chip, pair_level
from simages.gui.widgets.viewer import Viewer, ViewItem
from simages.naming import display_name
from simages.nearest.core.intents import no_duplicate_sentence
from simages.operations.query_levels import cannot_tell, listed_below, same_bytes

# A plain left click (or Enter) runs the element's handler instead of following the link; middle-click,
# Ctrl/Cmd/Shift+click and the context menu keep the browser's own meaning (new tab, copy link).
PLAIN_CLICK = """(e) => {
  if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  emit();
}"""


def result_grid(ctx: GuiContext, answered: Answered, viewer: Viewer, key_item: ViewItem) -> None:
    """The answer's images, best first, each a link to its own search (a plain click opens the viewer
    beside the key), with its score and, for the duplicates question, its level and what changed; or
    why there is none."""
    current, result = answered.query, answered.result
    levels = result_levels(ctx, answered)
    items = [
        ViewItem(m.image, ctx.thumbnails.url(current.join_set, m.image, full=True),
                 caption=viewer_caption(answered, m.image, m.score, levels.get(m.image)),
                 set_name=current.join_set, image=m.image, link=result_link(current, m.image))
        for m in result.matches
    ]
    if no_duplicate_found(current, result):
        with ui.row().classes("items-center gap-2 q-pa-md").mark("no-results"):
            ui.icon("check_circle", color="positive")
            ui.label(no_duplicate_sentence(display_name(current.join_set))).classes(
                "text-body1").mark("no-duplicate")
        return
    if not result.matches:
        with ui.row().classes("items-center gap-2 q-pa-md").mark("no-results"):
            ui.icon("filter_alt_off", color="grey-7")
            ui.label("No image passes this query. Try a looser threshold: the histogram shows where "
                     "the scores lie.").classes("text-grey-8")
        return
    ui.label("Click an image to see it full size beside the key; middle-click or Ctrl+click opens it "
             "as the key of a new search in a new tab.").classes("text-caption text-grey-7")
    turns = copies_turned(answered)
    if turns:
        with ui.row().classes("items-center no-wrap gap-1").mark("turned-note"):
            ui.icon("rotate_90_degrees_ccw", color="primary", size="xs")
            ui.label(turned_sentence(turns)).classes("text-body2 text-grey-8")
    changes = answered.answer.changes
    below = listed_below(result, levels)
    with ui.element("div").classes("w-full thumb-grid").mark("results-grid"):
        for rank, (match, item) in enumerate(zip(result.matches, items, strict=True)):
            score = format_score(result.metric, match.score)
            # One grid cell per result: its level, turn and what changed sit under its tile.
            cell = ui.element("div").classes("result-cell").mark(f"cell:{match.image}")
            with cell:
                tile = ui.link(target=item.link or "#").classes("thumb-tile relative-position")
            tile.mark(f"result:{match.image}")
            tile.props["title"] = display_name(match.image)
            tile.on("click", lambda _, r=rank: viewer.open(items, r, beside=key_item),
                    js_handler=PLAIN_CLICK)
            with tile:
                img = thumbnail_img(ctx.thumbnails.url(current.join_set, match.image))
                shown_name = display_name(match.image)
                img.props["alt"] = f"{shown_name}, {score_label(result.metric)} {score}"
                ui.label(str(rank + 1)).classes("thumb-rank")
                name_caption(match.image)
                shown_score = ui.label(score + (" *" if match.image in below else "")).classes(
                    "thumb-score").mark("score")
                if match.image in below:
                    shown_score.tooltip(below_threshold_note("key"))
            with cell:
                if levels:
                    level_chip(levels[match.image])
                if match.image in turns:
                    ui.label(f"the key is this photo {turn_words(turns[match.image])}").classes(
                        "text-caption text-primary").mark(f"turned:{match.image}")
                if changes.get(match.image):
                    changed = ui.label(f"changed: {describe_changes(changes[match.image])}")
                    changed.classes("text-caption text-grey-8").style("max-width: 190px").mark(
                        f"changed:{match.image}")
    if below:
        ui.label(below_threshold_note("key")).classes("text-caption text-grey-8").mark("below-note")


def result_levels(ctx: GuiContext, answered: Answered) -> dict[str, Level]:
    """Each result's duplicate level ({} for the similar question): an exact copy only when its file is
    the key's pixels (simages.copies.pixels.same_pixels, as the join pairs and the CLI decide), or, for an
    uploaded key whose original is not kept, the very same bytes (its SHA-256); a score alone is an edited
    copy."""
    if answered.levels is None:
        return {}
    if answered.answer.levels:  # the query's own (simages.operations.query_levels), keypoints checked
        return dict(answered.answer.levels)
    state, metric = answered.query, answered.result.metric
    image_sets = ctx.settings.image_sets
    upload = ctx.uploads.get(state.upload) if state.upload is not None else None
    key = (None if state.upload is not None or not state.key_set or not state.image
           else image_sets / state.key_set / Path(*state.image.split("/")))
    levels = {}
    for match in answered.result.matches:
        found = image_sets / state.join_set / Path(*match.image.split("/"))
        same = (partial(same_pixels, key, found) if key is not None
                else partial(same_bytes, upload.sha256, found) if upload is not None and upload.sha256
                else cannot_tell)
        levels[match.image] = pair_level(match.score, metric, answered.levels, same=same)
    return levels


def viewer_caption(answered: Answered, image: str, score: float, level: Level | None = None) -> str:
    """The score; for the duplicates question also the level (`level`, else by the score alone), its
    meaning and what changed."""
    metric = answered.result.metric
    caption = f"{score_label(metric)} {format_score(metric, score)}"
    if answered.levels is None:
        return caption
    if level is None:
        level = pair_level(score, metric, answered.levels, same=cannot_tell)
    caption = f"{caption} · {level.pair_title}: {level.pair_meaning}"
    changes = answered.answer.changes.get(image)
    return f"{caption} · changed: {describe_changes(changes)}" if changes else caption


def result_link(state: QueryState, image: str) -> str:
    """A result's own results page: the same search with that image of the searched set as the key."""
    return results_url(state.with_(key_set=state.join_set, image=image, upload=None))
