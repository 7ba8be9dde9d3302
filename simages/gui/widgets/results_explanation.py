"""The results page's explanation of its scores: which question they answer, what a score means in plain
words, the links to the atlas and to the side-by-side comparison, and (behind a click) how the
descriptor made them."""

from __future__ import annotations

from nicegui import ui

from simages.gui.state.results import atlas_link_text, excluded, side_by_side_settings
from simages.gui.urls.atlas import atlas_url
from simages.gui.urls.query import QueryState
from simages.gui.urls.side import side_url
from simages.gui.widgets.metric_note import differing_demo, metrics_note, metrics_rank_alike
from simages.naming import display_name
from simages.nearest.core.intents import SIMILAR, intent_named
from simages.nearest.core.set_index import SetIndex
from simages.nearest.teaching.views import UNSCALED, why_metrics_differ


def results_explanation(current: QueryState, index: SetIndex, expand: bool) -> None:
    """A plain sentence first; the descriptor's technical description behind a click."""
    # Which question these scores answer (nearest.intents), chosen with the toggle beside the settings.
    intent = intent_named(current.intent)
    other = ("Switch to Duplicates to ask whether this photo is already in the set."
             if intent is SIMILAR else "Switch to Similar images for images of the same kind.")
    ui.label(f"{intent.describe()}. {other}").classes("text-body2 text-grey-8").mark("intent-note")
    ui.label(plain_sentence(current.metric)).classes("text-body2 text-grey-8").mark("plain")
    with ui.row().classes("items-center gap-4"):
        ui.link(atlas_link_text(current), atlas_url(current.join_set, excluded(current))).classes(
            "text-body2 text-primary").mark("atlas-link")
        side = side_by_side_settings(current)
        if side is not None:
            assert current.key_set is not None and current.image is not None
            ui.link("Compare cosine and Euclidean side by side",
                    side_url(current.key_set, current.image, current.join_set, *side)).classes(
                "text-body2 text-primary").mark("side-link")
    if current.view == UNSCALED:
        with ui.row().classes("items-start no-wrap gap-1").mark("view-note"):
            ui.icon("school", color="primary", size="xs").classes("q-mt-xs")
            ui.label(display_name(why_metrics_differ(current.join_set))).classes(
                "text-caption text-grey-8")
    if metrics_rank_alike(index):
        with ui.row().classes("items-start no-wrap gap-1").mark("metrics-note"):
            ui.icon("info", color="primary", size="xs").classes("q-mt-xs")
            ui.label(display_name(metrics_note(current.join_set))).classes("text-caption text-grey-8")
    details = ui.expansion("Details: how the scores were computed").props("dense").classes(
        "w-full text-caption text-grey-8 details").mark("details")
    with details:
        method = display_name(method_text(index, expand))
        if method:
            ui.label(method).classes("text-caption").mark("method")
        if index.applied:
            asked = f" (asked for: {index.descriptor})" if index.descriptor != index.applied else ""
            ui.label(f"Descriptor code: {index.applied}{asked}").classes("text-caption text-grey-7").mark(
                "descriptor-code")
        if metrics_rank_alike(index):
            ui.label("To see cosine and Euclidean disagree here, choose the teaching descriptor "
                     "(“Descriptor” under the settings). Or describe the images without scaling them "
                     "to unit length, e.g. with the raw flattened VGG-16 map (a second root, so these "
                     "descriptors stay):").classes("text-caption q-mt-sm")
            ui.code("\n".join(differing_demo(current.join_set, current.key_set, current.image)),
                    language="bash").classes("w-full text-caption").mark("differing-demo")



def plain_sentence(metric: str) -> str:
    """What a score means, for people who have never heard of descriptors."""
    what = ("Each image is described by what VGG-16, a neural network trained on a million photos, "
            "recognises in it (textures, shapes, objects).")
    if metric == "cosine":
        return what + " Similarity compares two descriptions: 1 means the same, lower means less alike."
    return what + " Distance compares two descriptions: 0 means the same, higher means less alike."


def method_text(index: SetIndex, expand: bool) -> str:
    """Which descriptor made the scores, in words (empty for a store that does not record it)."""
    explained = index.explain(expand)
    return f"Descriptors: {explained}" if explained else ""
