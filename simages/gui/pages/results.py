"""Page 2 (`/similar`): a key image, the images of a set ordered by the metric, and where they lie.

The URL describes the query completely (see query_url); a search from the settings panel opens the new
query's URL as a page of its own, so each query is a history entry, Back returns to the one before as it
was, and what is on screen can always be bookmarked. Every result is a link to its own search; a plain
click opens the viewer instead. Settings changed but not yet applied mark the results as stale.
Each tab's state is a ResultsTab made by the builder for that tab (never module state); the search and
the decisions the page shows live in gui/state/results.py, so this module only draws them.
"""

from __future__ import annotations

from nicegui import ui

from simages.gui.context import GuiContext
from simages.gui.pages.common import error_page, page_header, removed_sets_banner, thumbnail_img
from simages.gui.state.results import (
    STALE_TEXT,
    Answered,
    PanelChoice,
    Problem,
    ResultsTab,
    Waiting,
    is_stale,
    next_page,
    search,
    suggested_threshold,
)
from simages.gui.state.sets import (
    expansion_of,
    known_sets,
    load_index,
    missing_set_message,
    set_choices,
    set_exists,
    status_of,
)
from simages.gui.urls.image import upload_url
from simages.gui.urls.query import InvalidQuery, QueryState, from_params, home_url
from simages.gui.widgets.calibration_note import calibration_note
from simages.gui.widgets.controls import QueryControls, score_label
from simages.gui.widgets.head_picker import head_picker
from simages.gui.widgets.histogram import (
    BELOW_CHART_NOTE,
    marker_for,
    picks_threshold,
    score_histogram,
    score_marks,
    threshold_control,
)
from simages.gui.widgets.image_info import ImageInfo
from simages.gui.widgets.intent_picker import follow_intent, intent_picker
from simages.gui.widgets.result_grid import PLAIN_CLICK, result_grid
from simages.gui.widgets.results_explanation import results_explanation
from simages.gui.widgets.search_mode import ExactSwitch, search_caption
from simages.gui.widgets.status_panel import describe_status
from simages.gui.widgets.teaching_panel import mount_teaching_panel
from simages.gui.widgets.viewer import Viewer, ViewItem
from simages.naming import InvalidName, display_name, image_path
from simages.nearest.core.display import format_threshold
from simages.nearest.core.intents import SIMILAR
from simages.nearest.core.results import KeyResult
from simages.nearest.teaching.views import VIEWS
from simages.operations.query_levels import listed_below
from simages.wording import agree, plural


def _check_link(ctx: GuiContext, state: QueryState) -> tuple[str, str] | None:
    """(title, message) of a friendly error page when the link points at nothing, else None."""
    if not set_exists(ctx, state.join_set):
        return "No such image set", missing_set_message(ctx, state.join_set)
    if state.upload is not None:
        if ctx.uploads.get(state.upload) is None:
            return ("This uploaded image is no longer available",
                    "Uploaded images are kept only in this app's memory while it runs, never in a set or "
                    "in the link. Upload it again from the start page.")
        return None
    assert state.key_set is not None and state.image is not None
    if not set_exists(ctx, state.key_set):
        return "No such image set", missing_set_message(ctx, state.key_set)
    try:
        image_path(ctx.settings.image_sets, state.key_set, state.image)
    except (LookupError, InvalidName):
        return "No such image", display_name(f"The set “{state.key_set}” has no image named “{state.image}”.")
    return None


def build_results(ctx: GuiContext, params: dict[str, str]) -> None:
    """Draw one tab's results page: its state (gui/state/results.py) is made here, for this tab only."""
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
    ui.page_title(page_title(ctx, state))
    tab = ResultsTab(state)
    viewer = Viewer(ctx)
    # The panel's pickers, drawn below; the threshold controls may ask for a suggestion before they exist.
    join_select: ui.select | None = None
    view_select: ui.select | None = None
    head_select: ui.select | None = None

    def suggested(metric: str, expand: bool) -> float | None:
        """The range threshold proposed for the current key in the chosen set (its own top 1%)."""
        listed = tab.listed
        searched = join_select.value if join_select is not None else listed.join_set
        view = str(view_select.value or "") if view_select is not None else ""
        head = (head_select.value or None) if head_select is not None else listed.head
        return suggested_threshold(ctx, listed, searched, view, str(intent_toggle.value or listed.intent),
                                   head, metric, expand)

    key_item = key_view_item(ctx, state)

    with ui.column().classes("w-full q-px-md q-pb-md q-pt-sm gap-2 page-body"):
        ui.link("← Back to the start page", home_for(state)).classes("text-primary").mark("home-link")
        with ui.row().classes("w-full items-start gap-4 page-columns"):
            with ui.column().classes("gap-3 side-column"):
                key_card = ui.card().classes("w-full narrow-first q-pa-sm").props("flat bordered")
                key_card.mark("key-card")
                with key_card, ui.row().classes("w-full items-center no-wrap gap-3"):
                    key_tile = ui.link(target=key_item.url).classes("key-link").mark("key-link")
                    key_tile.props["title"] = "Show the key image full size"
                    key_tile.on("click", lambda: viewer.open([key_item]), js_handler=PLAIN_CLICK)
                    with key_tile:
                        key_img = thumbnail_img(key_thumb(ctx, state), "key-image").mark("key-image")
                        key_img.props["alt"] = key_caption(ctx, state)
                    with ui.column().classes("col gap-0").style("min-width: 0"):
                        ui.label("Key image").classes("text-caption text-grey-7")
                        ui.label(key_caption(ctx, state)).classes("text-body2 text-weight-medium").style(
                            "overflow-wrap: anywhere").mark("key-name")
                        if state.is_upload:
                            ui.label("Uploaded: kept only in this app's memory while it runs, not added to "
                                     "any set.").classes("text-caption text-grey-7").mark("upload-note")

                with ui.card().classes("w-full narrow-first q-pa-sm").props("flat bordered"):
                    choices = set_choices(known_sets(ctx))
                    join_select = ui.select(choices, value=state.join_set, label="Search in")
                    join_select.classes("w-full").props("dense options-dense").mark("join-set")
                    # The question asked: a curator's "is this photo already in the set?" is Duplicates.
                    intent_toggle = intent_picker(state.intent)
                    controls = QueryControls(
                        state.metric, state.predicate, state.param,
                        lambda m, e: suggested(m, e), on_submit=lambda: rerun(),
                        expand=state.expand, expansion=expansion_of(ctx, state.join_set, state.intent),
                        always_show_expansion=False, on_change=lambda: mark_stale(),
                    )
                    exact = ExactSwitch(state.exact, on_change=lambda: mark_stale())
                    view_select = ui.select(VIEWS, value=state.view, label="Descriptor",
                                            on_change=lambda: view_chosen())
                    view_select.classes("w-full").props("dense options-dense").mark("view")
                    head_select = head_picker(ctx, state.head, on_change=lambda: head_chosen(),
                                              set_name=state.join_set)
                    rerun_button = ui.button("Search again", icon="search", on_click=lambda: rerun()).props(
                        "unelevated no-caps").classes("w-full").mark("rerun")

            with ui.column().classes("col gap-2 main-column"):
                with ui.row().classes("w-full items-start gap-3 results-head"):
                    with ui.column().classes("col gap-1").style("min-width: 280px"):
                        removed_sets_banner(ctx, lambda: [tab.listed.key_set, tab.listed.join_set])
                        summary = ui.label("").classes("text-subtitle1 text-weight-medium").mark("summary")
                        explanation = ui.column().classes("w-full gap-1")
                        stale = ui.row().classes("w-full items-center no-wrap gap-2 q-pa-sm stale-banner")
                        stale.mark("stale")
                        with stale:
                            ui.icon("update", color="warning")
                            stale_text = ui.label("").classes("text-body2 col")
                            ui.button("Search again", on_click=lambda: rerun()).props(
                                "unelevated dense no-caps color=primary").mark("stale-apply")
                        stale.set_visibility(False)
                    # The scores of the key against the whole set; the histogram may grow controls of its own.
                    chart_area = ui.column().classes("gap-0 results-chart").mark("chart-area")
                results_area = ui.column().classes("w-full gap-2")

    def render() -> None:
        results_area.clear()
        chart_area.clear()
        explanation.clear()
        outcome = search(ctx, tab.listed)
        # The set may have just been indexed.
        controls.set_expansion(expansion_of(ctx, join_select.value, str(intent_toggle.value)))
        if isinstance(outcome, Problem):
            show_problem(outcome.message)
        elif isinstance(outcome, Waiting):
            show_waiting(outcome.set_name)
        else:
            draw_answer(outcome)
        mark_stale()

    def draw_answer(answered: Answered) -> None:
        current, result, spec = answered.query, answered.result, answered.spec
        summary.text = summary_text(result, len(listed_below(result, answered.answer.levels)))
        with explanation:
            search_caption(result)
            results_explanation(current, answered.index, spec.expand)
            if answered.histogram_levels is not None:
                calibration_note(ctx)
        marker, label = marker_for(current.metric, spec.predicate, spec.param, answered.kth)
        controls.remember_kth(current.metric, spec.expand, answered.kth)
        levels = answered.histogram_levels
        marks = score_marks(current.metric, levels) if levels is not None else []
        with chart_area:
            ui.label("Scores of the key against the whole set").classes("text-caption text-grey-8")
            if answered.distribution.count:
                chart = score_histogram(answered.distribution, marker, label, marks).mark("histogram")
                threshold_control(chart, current.metric, picks_threshold(controls, rerun))
                if marks:  # a duplicates answer lists copies its keypoints found below the threshold too
                    ui.label(BELOW_CHART_NOTE).classes("text-caption text-grey-8").mark("chart-note")
            else:
                ui.label("No other images to compare with.").classes("text-grey-7")
        mount_teaching_panel(ctx, tab.teaching, results_area, answered.index, answered.vector, spec,
                             answered.exclude)
        with results_area:
            result_grid(ctx, answered, viewer, key_item)

    def show_problem(message: str) -> None:
        summary.text = "This search cannot run"
        with results_area, ui.row().classes("items-center gap-2 q-pa-md").mark("problem"):
            ui.icon("error_outline", color="negative")
            text = display_name(message)  # messages may quote file names that are not UTF-8
            ui.label(text[:1].upper() + text[1:]).classes("text-body1")

    def show_waiting(set_name: str) -> None:
        status = status_of(ctx, set_name)
        summary.text = f"{display_name(set_name)} is not indexed yet"
        with results_area, ui.card().classes("q-pa-md").props("flat bordered").mark("waiting"):
            with ui.row().classes("items-center gap-3 no-wrap"):
                ui.spinner(size="lg")
                with ui.column().classes("gap-1"):
                    state_text = describe_status(status) if status is not None else "not indexed yet"
                    progress = ui.label(display_name(f"{set_name}: {state_text}.")).classes("text-body1")
                    ui.label("The results appear here by themselves as soon as it is ready; you can wait "
                             "on this page or go back.").classes("text-body2 text-grey-8")

            def poll() -> None:
                fresh = status_of(ctx, set_name)
                if fresh is not None:
                    progress.text = display_name(f"{set_name}: {describe_status(fresh)}.")
                if load_index(ctx, set_name) is not None and (fresh is None or fresh.state != "indexing"):
                    render()

            ui.timer(1.0, poll)

    def pending() -> QueryState:
        """The query the settings panel shows now (it may differ from the one listed)."""
        metric, predicate, param = controls.settings()
        return tab.listed.with_(join_set=join_select.value or tab.listed.join_set, metric=metric,
                                predicate=predicate, param=param, expand=controls.expand_value,
                                exact=exact.value, intent=str(intent_toggle.value or SIMILAR.name),
                                view=str(view_select.value or ""),
                                head=(head_select.value or None) if head_select is not None else None)

    def panel_choice() -> PanelChoice:
        listed = tab.listed
        return PanelChoice(
            join_set=join_select.value,
            settings_shown=controls.shows(listed.metric, listed.predicate, listed.param, listed.expand),
            exact=exact.value, intent=intent_toggle.value, view=str(view_select.value or ""),
            head=(head_select.value or None) if head_select is not None else None,
            has_head_picker=head_select is not None)

    def mark_stale() -> None:
        """Results that no longer match the panel are dimmed and say so, until the search runs again."""
        changed = is_stale(tab.listed, panel_choice())
        stale.set_visibility(changed)
        results_area.classes(add="results-stale") if changed else results_area.classes(remove="results-stale")
        rerun_button.props(f"color={'orange-9' if changed else 'primary'}")
        if changed:
            stale_text.text = STALE_TEXT

    def rerun() -> None:
        if not join_select.value:
            ui.notify("Choose a set to search.", type="warning", position="top")
            return
        if not controls.check():
            return
        target = next_page(tab.listed, pending())
        if target is None:
            render()
        else:
            ui.navigate.to(target)

    def join_set_chosen() -> None:
        controls.set_expansion(expansion_of(ctx, join_select.value, str(intent_toggle.value)))
        controls.refresh_default()
        mark_stale()

    def view_chosen() -> None:
        # The scores change scale: a range threshold of the other view means nothing here.
        controls.suggest_afresh()
        mark_stale()

    def intent_chosen() -> None:
        controls.set_expansion(expansion_of(ctx, join_select.value, str(intent_toggle.value)))
        follow_intent(controls, str(intent_toggle.value))
        mark_stale()

    def head_chosen() -> None:
        # Another descriptor: a range threshold of the previous one means nothing here.
        controls.suggest_afresh()
        mark_stale()

    join_select.on_value_change(lambda _: join_set_chosen())
    intent_toggle.on_value_change(lambda _: intent_chosen())
    render()


def home_for(state: QueryState) -> str:
    """The start page with this query's sets and settings, so going back there loses nothing."""
    settings = {"metric": state.metric, "predicate": state.predicate, "param": state.param.strip()}
    if not state.expand:
        settings["expand"] = "0"
    return home_url(state.join_set, state.key_set, **settings)


def page_title(ctx: GuiContext, state: QueryState) -> str:
    """The browser tab's title names the key, so several result tabs can be told apart."""
    if state.upload is not None:
        item = ctx.uploads.get(state.upload)
        key = item.filename if item is not None else "an uploaded image"
    else:
        key = state.image or ""
    return display_name(f"{key} — similar images in {state.join_set} · SIMages")


def key_view_item(ctx: GuiContext, state: QueryState) -> ViewItem:
    if state.upload is not None:
        upload = ctx.uploads.get(state.upload)
        info = None if upload is None else ImageInfo(upload.width, upload.height, upload.size_bytes)
        return ViewItem(key_caption(ctx, state), upload_url(state.upload), info=info,
                        caption="the key, uploaded (facts of the original; a 512-pixel copy is shown)")
    assert state.key_set is not None and state.image is not None
    url = ctx.thumbnails.url(state.key_set, state.image, full=True)
    return ViewItem(key_caption(ctx, state), url, caption="the key",
                    set_name=state.key_set, image=state.image)


def summary_text(result: KeyResult, below: int = 0) -> str:
    """What the search found, in one sentence; `below`: copies listed although their score misses the
    threshold (the key's nearest, copies by their keypoints), said apart: they do not pass it."""
    kind = score_label(result.metric)
    shown = len(result.matches)
    cut = f" (showing the first {shown})" if shown < (result.passed or 0) else ""
    if result.predicate == "range":
        op = "≥" if result.metric == "cosine" else "≤"
        where = display_name(result.set)
        passed = (result.passed or 0) - below
        found = (f"; and {plural(below, 'copy', 'copies')} below it, found among the key's nearest by "
                 "their keypoints (marked *)") if below else ""
        return (f"{passed:,} of {plural(result.total, 'image')} in {where} "
                f"{agree(passed, 'has', 'have')} {kind} {op} "
                f"{format_threshold(float(result.param))}{cut}{found}")
    best = "most similar" if result.metric == "cosine" else "nearest"
    measure = "cosine similarity" if result.metric == "cosine" else "Euclidean distance"
    return (f"The {shown} {best} of {plural(result.total, 'image')} in {display_name(result.set)}, "
            f"by {measure}")


def key_thumb(ctx: GuiContext, state: QueryState) -> str:
    if state.upload is not None:
        return upload_url(state.upload)
    assert state.key_set is not None and state.image is not None
    return ctx.thumbnails.url(state.key_set, state.image)


def key_caption(ctx: GuiContext, state: QueryState) -> str:
    if state.upload is not None:
        item = ctx.uploads.get(state.upload)
        return f"Uploaded: {item.filename}" if item is not None else "Uploaded image"
    return display_name(f"{state.key_set} / {state.image}")
