"""Page 2 (`/similar`): a key image, the images of a set ordered by the metric, and where they lie.

The URL describes the query completely (see query_url); re-running it from the settings panel replaces the
URL in place, so what is on screen can always be bookmarked. The tab's current query lives in this
function's closure, never in module state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from nicegui import ui

from simages.gui.common import (
    error_page,
    expansion_of,
    known_sets,
    load_index,
    name_caption,
    page_header,
    set_exists,
    status_of,
    threshold_for,
    thumbnail_img,
)
from simages.gui.context import GuiContext
from simages.gui.controls import QueryControls, format_score, score_label
from simages.gui.histogram import marker_for, score_histogram
from simages.gui.image_route import full_url, thumb_url, upload_url
from simages.gui.query_url import InvalidQuery, QueryState, from_params, home_url, results_url
from simages.gui.status_panel import describe_status
from simages.gui.viewer import Viewer, ViewItem
from simages.naming import InvalidName, image_path
from simages.nearest.distribution import default_threshold, key_distribution
from simages.nearest.joins import key_join
from simages.nearest.results import KeyResult
from simages.nearest.set_index import SetIndex

# Listed results at most; a range query still reports how many passed in total.
RESULT_LIMIT = 200


@dataclass(frozen=True)
class Waiting:
    set_name: str


def _check_link(ctx: GuiContext, state: QueryState) -> tuple[str, str] | None:
    """(title, message) of a friendly error page when the link points at nothing, else None."""
    if not set_exists(ctx, state.join_set):
        return "No such image set", f"There is no image set named “{state.join_set}”."
    if state.upload is not None:
        if ctx.uploads.get(state.upload) is None:
            return ("This uploaded image is no longer available",
                    "Uploaded images are kept only in this app's memory while it runs, never in a set or "
                    "in the link. Upload it again from the start page.")
        return None
    assert state.key_set is not None and state.image is not None
    if not set_exists(ctx, state.key_set):
        return "No such image set", f"There is no image set named “{state.key_set}”."
    try:
        image_path(ctx.settings.image_sets, state.key_set, state.image)
    except (LookupError, InvalidName):
        return "No such image", f"The set “{state.key_set}” has no image named “{state.image}”."
    return None


def build_results(ctx: GuiContext, params: dict[str, str]) -> None:
    try:
        state = from_params(params)
    except InvalidQuery as error:
        error_page("This link does not describe a search", str(error))
        return
    problem = _check_link(ctx, state)
    if problem is not None:
        error_page(*problem, home=home_url(state.join_set if set_exists(ctx, state.join_set) else None))
        return

    page_header("similar images")
    tab: dict[str, Any] = {"state": state}
    viewer = Viewer(on_make_key=lambda item: make_key(item.name))

    with ui.column().classes("w-full q-pa-md gap-3").style("max-width: 1400px; margin: 0 auto"):
        back = ui.link("← Back to the start page", home_url(state.join_set, state.key_set)).classes(
            "text-primary").mark("home-link")
        with ui.row().classes("w-full items-start gap-4 page-columns"):
            with ui.column().classes("gap-4 side-column"):
                with ui.card().classes("w-full narrow-first").props("flat bordered").mark("key-card"):
                    ui.label("Key image").classes("text-subtitle1 text-weight-medium")
                    key_img = thumbnail_img(key_thumb(state), "key-image cursor-pointer").mark("key-image")
                    key_img.on("click", lambda: open_key_view())
                    ui.label(key_caption(ctx, state)).classes("text-body2 text-weight-medium").style(
                        "word-break: break-all").mark("key-name")
                    if state.is_upload:
                        ui.label("Uploaded image: kept only in this app's memory while it runs, not added to "
                                 "any set. The link works only as long as the app runs.").classes(
                            "text-caption text-grey-7").mark("upload-note")

                with ui.card().classes("w-full narrow-first").props("flat bordered"):
                    ui.label("Query settings").classes("text-subtitle1 text-weight-medium")
                    join_select = ui.select(known_sets(ctx), value=state.join_set, label="Search in").classes(
                        "w-full").mark("join-set")
                    controls = QueryControls(
                        state.metric, state.predicate, state.param,
                        lambda m, e: threshold_for(ctx, join_select.value, m, e), on_submit=lambda: rerun(),
                        expand=state.expand, expansion=expansion_of(ctx, state.join_set),
                        always_show_expansion=False,
                    )
                    ui.button("Search again", icon="refresh", on_click=lambda: rerun()).props(
                        "unelevated no-caps").classes("w-full").mark("rerun")

                with ui.card().classes("w-full").props("flat bordered").mark("distribution-card"):
                    ui.label("Scores of the key against the whole set").classes(
                        "text-subtitle1 text-weight-medium")
                    ui.label("The orange line is the current cut-off: put a range threshold where the "
                             "bars thin out.").classes("text-caption text-grey-7")
                    chart_area = ui.column().classes("w-full")

            with ui.column().classes("col gap-2 main-column"):
                summary = ui.label("").classes("text-subtitle1 text-weight-medium").mark("summary")
                method = ui.label("").classes("text-caption text-grey-7").mark("method")
                results_area = ui.column().classes("w-full gap-2")

    def key_vector(current: QueryState) -> np.ndarray | Waiting | str:
        if current.upload is not None:
            item = ctx.uploads.get(current.upload)
            return item.vector if item is not None else "the uploaded image is no longer available"
        assert current.key_set is not None and current.image is not None
        index = load_index(ctx, current.key_set)
        if index is None or current.image not in index:
            status = status_of(ctx, current.key_set)
            if status is not None and status.state == "failed":
                return f"the set {current.key_set} could not be indexed: {status.message}"
            unreadable = getattr(status, "unreadable", None) or {}
            if current.image in unreadable:
                return f"the key image could not be read: {unreadable[current.image]}"
            return Waiting(current.key_set)
        return index.raw_vector(current.image)

    def render() -> None:
        current: QueryState = tab["state"]
        results_area.clear()
        chart_area.clear()
        vector = key_vector(current)
        index = load_index(ctx, current.join_set)
        controls.set_expansion(expansion_of(ctx, join_select.value))  # the set may have just been indexed
        if isinstance(vector, str):
            show_problem(vector)
            return
        if isinstance(vector, Waiting) or index is None:
            show_waiting(vector.set_name if isinstance(vector, Waiting) else current.join_set)
            return
        try:
            spec = current.spec(default_threshold(index, current.metric, expand=current.expand))
            same_set = current.upload is None and current.key_set == current.join_set
            exclude = current.image if same_set else None
            result = key_join(index, vector, spec, key=current.image or "upload", exclude=exclude,
                              limit=RESULT_LIMIT)
            dist = key_distribution(index, vector, current.metric, exclude=exclude, expand=spec.expand)
        except ValueError as error:  # a bad parameter in the URL, or descriptors that do not match
            show_problem(str(error))
            return
        summary.text = summary_text(result)
        method.text = method_text(index, spec.expand)
        kth = result.matches[-1].score if spec.predicate == "knn" and result.matches else None
        marker, label = marker_for(current.metric, spec.predicate, spec.param, kth)
        with chart_area:
            if dist.count:
                score_histogram(dist, marker, label).mark("histogram")
            else:
                ui.label("No other images to compare with.").classes("text-grey-7")
        draw_results(current, result)

    def draw_results(current: QueryState, result: KeyResult) -> None:
        items = [
            ViewItem(m.image, f"{score_label(result.metric)} {format_score(result.metric, m.score)}",
                     full_url(current.join_set, m.image))
            for m in result.matches
        ]
        with results_area:
            if not result.matches:
                with ui.row().classes("items-center gap-2 q-pa-md").mark("no-results"):
                    ui.icon("filter_alt_off", color="grey-7")
                    ui.label("No image passes this query. Try a looser threshold: the histogram shows where "
                             "the scores lie.").classes("text-grey-8")
                return
            with ui.element("div").classes("w-full thumb-grid").mark("results-grid"):
                for rank, match in enumerate(result.matches):
                    tile = ui.element("div").classes("thumb-tile cursor-pointer relative-position")
                    tile.mark(f"result:{match.image}")
                    tile.props["title"] = match.image
                    tile.on("click", lambda _, r=rank: viewer.open(items, r))
                    with tile:
                        thumbnail_img(thumb_url(current.join_set, match.image))
                        ui.label(str(rank + 1)).classes("thumb-rank")
                        name_caption(match.image)
                        score = format_score(result.metric, match.score)
                        ui.label(score).classes("thumb-score").mark("score")

    def show_problem(message: str) -> None:
        summary.text = "This search cannot run"
        with results_area, ui.row().classes("items-center gap-2 q-pa-md").mark("problem"):
            ui.icon("error_outline", color="negative")
            ui.label(message[:1].upper() + message[1:]).classes("text-body1")

    def show_waiting(set_name: str) -> None:
        status = status_of(ctx, set_name)
        summary.text = f"{set_name} is not indexed yet"
        with results_area, ui.card().classes("q-pa-md").props("flat bordered").mark("waiting"):
            with ui.row().classes("items-center gap-3 no-wrap"):
                ui.spinner(size="lg")
                with ui.column().classes("gap-1"):
                    state_text = describe_status(status) if status is not None else "not indexed yet"
                    progress = ui.label(f"{set_name}: {state_text}.").classes("text-body1")
                    ui.label("The results appear here by themselves as soon as it is ready; you can wait "
                             "on this page or go back.").classes("text-body2 text-grey-8")

            def poll() -> None:
                fresh = status_of(ctx, set_name)
                if fresh is not None:
                    progress.text = f"{set_name}: {describe_status(fresh)}."
                if load_index(ctx, set_name) is not None and (fresh is None or fresh.state != "indexing"):
                    render()

            ui.timer(1.0, poll)

    def open_key_view() -> None:
        current: QueryState = tab["state"]
        if current.upload is not None:
            url = upload_url(current.upload)
        else:
            assert current.key_set is not None and current.image is not None
            url = full_url(current.key_set, current.image)
        viewer.open([ViewItem(key_caption(ctx, current), "key image", url, can_be_key=False)], 0)

    def rerun() -> None:
        if not join_select.value:
            ui.notify("Choose a set to search.", type="warning")
            return
        if not controls.check():
            return
        metric, predicate, param = controls.settings()
        new = tab["state"].with_(join_set=join_select.value, metric=metric, predicate=predicate, param=param,
                                 expand=controls.expand_value)
        tab["state"] = new
        back.props["href"] = home_url(new.join_set, new.key_set)
        back.update()
        ui.navigate.history.replace(results_url(new))
        render()

    def make_key(image: str) -> None:
        current: QueryState = tab["state"]
        ui.navigate.to(results_url(current.with_(key_set=current.join_set, image=image, upload=None)))

    def join_set_chosen() -> None:
        controls.set_expansion(expansion_of(ctx, join_select.value))
        controls.refresh_default()

    join_select.on_value_change(lambda _: join_set_chosen())
    render()


def method_text(index: SetIndex, expand: bool) -> str:
    """Which descriptor made the scores, in words (empty for a store that does not record it)."""
    explained = index.explain(expand)
    return f"Descriptors: {explained}" if explained else ""


def summary_text(result: KeyResult) -> str:
    kind = score_label(result.metric)
    shown = len(result.matches)
    cut = f" (showing the first {shown})" if shown < (result.passed or 0) else ""
    if result.predicate == "range":
        op = "≥" if result.metric == "cosine" else "≤"
        return (f"{result.passed:,} of {result.total:,} images in {result.set} have {kind} {op} "
                f"{format_score(result.metric, float(result.param))}{cut}")
    best = "most similar" if result.metric == "cosine" else "nearest"
    measure = "cosine similarity" if result.metric == "cosine" else "Euclidean distance"
    return f"The {shown} {best} of {result.total:,} images in {result.set}, by {measure}"


def key_thumb(state: QueryState) -> str:
    if state.upload is not None:
        return upload_url(state.upload)
    assert state.key_set is not None and state.image is not None
    return thumb_url(state.key_set, state.image)


def key_caption(ctx: GuiContext, state: QueryState) -> str:
    if state.upload is not None:
        item = ctx.uploads.get(state.upload)
        return f"Uploaded: {item.filename}" if item is not None else "Uploaded image"
    return f"{state.key_set} / {state.image}"
