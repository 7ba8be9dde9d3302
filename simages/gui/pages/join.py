"""Page `/join`: set A joined with set B (itself, or all other sets) -- the pairs that pass, each key's
matches, the groups of near-duplicates, the score histogram, Compare, and the downloads.

The URL describes the join completely (see join_state), so what is on screen can be bookmarked: each new
join is a page and a history entry of its own (as on /similar), while switching views or pages replaces
the URL in place. The join itself runs in the background (ctx.joins): a progress bar and a Cancel button
show while it runs, other tabs keep working, and a finished join is cached, so switching views, pages or
going back costs nothing. Everything this tab remembers is one JoinTab (gui/state/join.py) made by the
builder for each tab; the decisions the page shows are tested functions there, so this module draws.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from nicegui import background_tasks, ui

from simages.copies.pixels import image_files
from simages.gui.context import GuiContext
from simages.gui.join.compare import open_compare
from simages.gui.join.setup import JoinProblem, ResolvedJoin, resolve, suggested_threshold
from simages.gui.join.views import (
    CSS,
    ViewContext,
    draw_groups,
    draw_knn,
    draw_pairs,
    group_summary,
    summary_text,
    waiting_card,
)
from simages.gui.offload import in_thread
from simages.gui.pages.common import error_page, page_header, removed_sets_banner
from simages.gui.state.join import (
    ALL_OTHERS,
    VIEW_LABELS,
    JoinTab,
    applied,
    b_of,
    b_value,
    checking_text,
    expansion_for,
    groups_apply,
    join_levels,
    pair_changes,
    picked,
    self_join_note,
    sets_ready,
    view_choices,
    view_page,
    waiting_summary,
)
from simages.gui.state.join import progress_text as progress_text_of
from simages.gui.state.sets import known_sets, set_choices
from simages.gui.urls.atlas import join_atlas_url
from simages.gui.urls.join import JoinState, csv_url, groups_url, join_from_params, join_params, join_url
from simages.gui.urls.query import InvalidQuery, home_url
from simages.gui.widgets.calibration_note import calibration_note
from simages.gui.widgets.controls import QueryControls, format_score
from simages.gui.widgets.head_picker import head_picker
from simages.gui.widgets.histogram import (
    BELOW_CHART_NOTE,
    marker_for,
    score_histogram,
    score_marks,
    set_range_threshold,
    threshold_control,
)
from simages.gui.widgets.intent_picker import follow_intent, intent_picker
from simages.gui.widgets.teaching_panel import mount_join_request_panel
from simages.gui.widgets.viewer import Viewer
from simages.jobs.join_runner import CANCELLED, DONE, FAILED, RUNNING, JoinOutcome
from simages.naming import display_name, url_quote
from simages.wording import plural

_POLL_SECONDS = 0.1
log = logging.getLogger(__name__)


def _prefetch(ctx: GuiContext, state: JoinState) -> None:
    try:
        ctx.joins.start(resolve(ctx, state).request)
    except JoinProblem:
        pass  # the page says why when it starts the join itself
    except Exception:  # never let a prefetch fail loudly: the page repeats the same steps and reports
        log.debug("join prefetch failed", exc_info=True)


def build_join(ctx: GuiContext, params: dict[str, str]) -> None:
    try:
        state = join_from_params(params)
    except InvalidQuery as error:
        error_page("This link does not describe a join", str(error))
        return
    # The join starts now, while the browser loads the page and connects; the page's own start then finds
    # it running (or done) instead of starting it a second or so later.
    threading.Thread(target=_prefetch, args=(ctx, state), name="simages-join-prefetch", daemon=True).start()
    ui.add_css(CSS)
    page_header("set join")
    tab = JoinTab(state)
    viewer = Viewer(ctx)
    sets = known_sets(ctx)
    b_options = set_choices(sets) | {ALL_OTHERS: "All other sets"}
    # The pickers, drawn below; the threshold controls may ask for a suggestion before they exist.
    pickers: tuple[ui.select, ui.select, ui.toggle] | None = None
    head_select: ui.select | None = None

    def picked_state(**changes: Any) -> JoinState:
        """The join the pickers describe now (before it is applied); the URL's until they exist."""
        if pickers is None:
            return tab.listed.with_(**changes)
        a_value, b_value, intent = (select.value for select in pickers)
        head = head_select.value if head_select is not None else None
        return picked(tab.listed, a_value, b_value, intent, head, head_select is not None, **changes)

    with ui.column().classes("w-full q-pa-md gap-3").style("max-width: 1400px; margin: 0 auto"):
        ui.link("← Back to the start page", home_url(state.b, state.a)).classes("text-primary").mark(
            "home-link")
        with ui.row().classes("w-full items-start gap-4 page-columns"):
            with ui.column().classes("gap-4 side-column"):
                with ui.card().classes("w-full narrow-first").props("flat bordered"):
                    ui.label("Join two sets").classes("text-subtitle1 text-weight-medium")
                    intent_toggle = intent_picker(state.intent)
                    a_select = ui.select(set_choices(sets), value=state.a if state.a in sets else None,
                                         label="Set A: each of its images is a key").classes("w-full")
                    a_select.mark("join-a")
                    b_select = ui.select(b_options, value=b_value(state, b_options),
                                         label="Set B: searched (A itself finds duplicates)")
                    b_select.classes("w-full")
                    b_select.mark("join-b")
                    pickers = (a_select, b_select, intent_toggle)
                    # Trained heads (simages train) apply to the similar intent's joins.
                    head_select = head_picker(ctx, state.head, on_change=lambda: None)
                    controls = QueryControls(
                        state.metric, state.predicate, state.param,
                        lambda m, e: suggested_threshold(ctx, picked_state(metric=m, expand=e)),
                        on_submit=lambda: apply(), expand=state.expand,
                        expansion=expansion_for(ctx, state.b, state.intent), always_show_expansion=False,
                    )
                    ui.button("Join", icon="join_inner", on_click=lambda: apply()).props(
                        "unelevated no-caps").classes("w-full").mark("run")
                with ui.card().classes("w-full").props("flat bordered").mark("distribution-card"):
                    ui.label("Scores of the join").classes("text-subtitle1 text-weight-medium")
                    ui.label("Click or drag on the chart to set the threshold.").classes(
                        "text-caption text-grey-7")
                    chart_area = ui.column().classes("w-full")

            with ui.column().classes("col gap-2 main-column"):
                removed_sets_banner(ctx, lambda: [tab.listed.a, tab.listed.b])
                summary = ui.label("").classes("text-subtitle1 text-weight-medium").mark("summary")
                method = ui.label("").classes("text-caption text-grey-7").mark("method")
                checking = ui.label("").classes("text-body2 text-grey-8").mark("checking")
                checking.set_visibility(False)
                scope_area = ui.row().classes("w-full items-center gap-2")
                calibration_area = ui.column().classes("w-full gap-0")
                notes = ui.column().classes("w-full gap-0")
                with ui.row().classes("w-full items-center gap-3").mark("progress-box") as progress_box:
                    progress = ui.linear_progress(value=0, show_value=False).classes("col").mark("progress")
                    progress_text = ui.label("").classes("text-body2 text-grey-8").mark("progress-text")
                    ui.button("Cancel", icon="stop", on_click=lambda: cancel()).props(
                        "outline no-caps color=negative").mark("cancel")
                progress_box.set_visibility(False)
                with ui.row().classes("w-full items-center gap-3") as view_bar:
                    view_toggle = ui.toggle(VIEW_LABELS, value=state.view).props("no-caps").mark("view")
                    ui.space()
                    # `download` and the routes' Content-Disposition: saved as files, never shown in
                    # place of the page.
                    csv_link = ui.link("Download pairs (CSV)", "#").props("download").classes(
                        "text-primary").mark("csv-link")
                    json_link = ui.link("Download groups (JSON)", "#").props("download").classes(
                        "text-primary").mark("json-link")
                    atlas_link = ui.link("Show on the atlas", "#").classes("text-primary").mark(
                        "join-atlas-link")
                    atlas_link.props["title"] = "Both sets on one map: pairs as edges, new images of B apart"
                view_bar.set_visibility(False)
                pager_area = ui.row().classes("w-full")
                content = ui.column().classes("w-full gap-2")
                teaching_area = ui.column().classes("w-full")

    def set_url(state: JoinState) -> None:
        tab.listed = state
        ui.navigate.history.replace(join_url(state))

    async def start() -> None:
        """Resolve the join (sets, default threshold) off the event loop, then run or reuse it."""
        state = tab.listed
        content.clear()
        pager_area.clear()
        notes.clear()
        teaching_area.clear()
        try:
            resolved: ResolvedJoin = await in_thread(resolve, ctx, state)
        except JoinProblem as problem:
            if problem.waiting:
                show_waiting(problem.waiting)
            else:
                show_problem(problem.title, problem.message)
            return
        tab.resolved = resolved
        if resolved.state != state:  # the default parameter written out: the URL says what ran
            set_url(resolved.state)
            controls.param.value = resolved.state.param
        csv_link.props["href"] = csv_url(resolved.state)
        json_link.props["href"] = groups_url(resolved.state)
        csv_link.update()
        json_link.update()
        atlas_link.props["href"] = join_atlas_url(join_params(resolved.state, with_view=False))
        atlas_link.set_visibility(resolved.state.b is not None)
        atlas_link.update()
        if resolved.left_out:
            with notes:
                ui.label(f"Not searched, not indexed yet: {', '.join(resolved.left_out)}.").classes(
                    "text-caption text-warning").mark("left-out")
        job = ctx.joins.start(resolved.request)
        tab.started(job)
        poll()

    def poll() -> None:
        job = tab.job
        if job is None:
            timer.active = False
            return
        if job.state == RUNNING:
            progress_box.set_visibility(True)
            view_bar.set_visibility(False)
            progress.value = job.fraction
            progress_text.text = display_name(progress_text_of(job))
            summary.text = "Joining…"
            timer.active = True
            return
        # A duplicates join's pairs are shown while their keypoints are checked; drawn again after.
        timer.active = job.state == DONE and job.outcome is not None and job.outcome.checking
        checking.set_visibility(timer.active)
        if timer.active:
            checking.text = checking_text(job)
        progress_box.set_visibility(False)
        if not tab.to_draw(job):
            return
        if job.state == DONE and job.outcome is not None:
            show_outcome(job.outcome)
        elif job.state == CANCELLED:
            show_cancelled()
        elif job.state == FAILED:
            show_problem("This join cannot run", job.error[:1].upper() + job.error[1:])

    def show_outcome(outcome: JoinOutcome) -> None:
        resolved = tab.resolved
        assert resolved is not None
        spec = resolved.request.spec
        summary.text = display_name(summary_text(outcome.pairs, spec))
        described = resolved.state.intent_spec.describe()
        explained = f"{described}. Descriptors: {outcome.explain}" if outcome.explain else described
        method.text = display_name(explained)
        scope_area.clear()
        scope = self_join_note(resolved.state)
        if scope:
            with scope_area:
                ui.label(scope).classes("text-caption text-grey-8").mark("self-join-scope")
                ui.link("Open Triage", f"/triage?new={url_quote(resolved.state.a)}").classes(
                    "text-caption text-primary").mark("triage-link")
        chart_area.clear()
        weakest = outcome.pairs.pairs[-1].score if outcome.pairs.pairs else None
        marker, label = marker_for(spec.metric, spec.predicate, spec.param, weakest)
        if spec.predicate == "knn" and marker is not None:
            label = f"weakest match: {format_score(spec.metric, marker)}"
        thresholds = join_levels(ctx, resolved.request)
        marks = score_marks(spec.metric, thresholds) if thresholds is not None else []
        calibration_area.clear()
        if thresholds is not None:
            with calibration_area:
                calibration_note(ctx)
        with chart_area:
            if outcome.distribution.count:
                chart = score_histogram(outcome.distribution, marker, label, marks).mark("histogram")
                threshold_control(chart, spec.metric, threshold_picked)
                if thresholds is not None and spec.predicate == "range" and not outcome.pairs.self_join:
                    # Only a range join against other sets looks below its threshold (a self-join's
                    # scope note says so).
                    ui.label(BELOW_CHART_NOTE).classes("text-caption text-grey-8").mark("chart-note")
            else:
                ui.label("No pairs to score.").classes("text-grey-7")
        view_bar.set_visibility(True)
        options, shown = view_choices(resolved.state)
        view_toggle.set_options(options, value=shown)
        json_link.set_visibility(groups_apply(resolved.state))
        # The CSV streams the pairs that pass; the copies found below the threshold are in the JSON.
        below = outcome.pairs.below
        copies = plural(below, "copy", "copies")
        csv_link.props["title"] = (f"The pairs that pass the threshold; the {copies} below it (marked *) are "
                                   "in the JSON" if below else "")
        csv_link.update()
        draw_view()
        # "How was this computed?" (issue 18), below the views: the pairs come first.
        teaching_area.clear()
        mount_join_request_panel(ctx, tab.teaching, teaching_area, resolved.request.a, resolved.request.bs,
                                 spec, resolved.request.intent)

    def draw_view() -> None:
        job, resolved = tab.job, tab.resolved
        if job is None or job.outcome is None or resolved is None:
            return
        outcome, state = job.outcome, tab.listed
        spec = resolved.request.spec
        content.clear()
        pager_area.clear()
        thresholds = join_levels(ctx, resolved.request)
        changed = pair_changes(ctx, outcome.verified) if thresholds is not None else None
        files = image_files(ctx.settings.image_sets)
        # While the keypoints are checked (a background step), pairs show the level of their score (exact
        # still confirmed by the pixels, a quick check), then the verified one.
        view = ViewContext(outcome.pairs, spec, on_compare=lambda position: open_compare(
            viewer, outcome.pairs, position, spec, thresholds, changed, files, outcome.levels),
            levels=thresholds, changed=changed, files=files, known=outcome.levels,
            checking=outcome.checking)
        shown = view_page(state, outcome, spec)
        page = shown.page
        if page != state.page:
            set_url(state.with_(page=page))
        if shown.pages > 1:
            with pager_area:
                ui.pagination(1, shown.pages, direction_links=True, value=page,
                              on_change=lambda e: go_to_page(e.value)).props(
                    "max-pages=9 boundary-numbers").mark("pager")
        with content:
            if state.view == "groups" and outcome.checking:
                ui.label("Checking each pair's keypoints before grouping the copies…").classes(
                    "text-body1").mark("groups-checking")
            elif state.view == "groups":
                ui.label(group_summary(outcome.groups)).classes("text-body1").mark("group-summary")
                if not outcome.groups:
                    ui.label("No two images are linked by a passing pair.").classes("text-grey-7")
                draw_groups(outcome.groups, page)
            elif not outcome.pairs.pairs and state.view == "pairs":
                with ui.row().classes("items-center gap-2 q-pa-md").mark("no-pairs"):
                    ui.icon("filter_alt_off", color="grey-7")
                    ui.label("No pair passes this join. Try a looser threshold: the histogram shows where "
                             "the scores lie.").classes("text-grey-8")
            elif state.view == "pairs":
                draw_pairs(view, page)
            else:
                draw_knn(view, page)

    def go_to_page(page: int) -> None:
        set_url(tab.listed.with_(page=page))
        draw_view()

    def view_chosen(value: str | None) -> None:
        if value and value != tab.listed.view:
            set_url(tab.listed.with_(view=value, page=1))
            draw_view()

    def show_problem(title: str, message: str) -> None:
        summary.text = display_name(title)
        view_bar.set_visibility(False)
        with content, ui.row().classes("items-center gap-2 q-pa-md").mark("problem"):
            ui.icon("error_outline", color="negative")
            ui.label(display_name(message)).classes("text-body1")

    def show_cancelled() -> None:
        summary.text = "Join cancelled"
        view_bar.set_visibility(False)
        with content, ui.row().classes("items-center gap-3 q-pa-md").mark("cancelled"):
            ui.label("The join was cancelled; nothing was kept.").classes("text-body1")
            ui.button("Run it again", icon="replay", on_click=start).props("outline no-caps").mark("rerun")

    def show_waiting(names: tuple[str, ...]) -> None:
        summary.text = waiting_summary(names)
        view_bar.set_visibility(False)
        with content, waiting_card(ctx, names):

            def check() -> None:
                if sets_ready(ctx, names):
                    waiting_timer.cancel()
                    # start() clears the card that holds this timer, and deleting a timer cancels its
                    # running callback: awaited here, the join never started. It runs on its own.
                    background_tasks.create(start(), name="join start")

            waiting_timer = ui.timer(1.0, check)

    def cancel() -> None:
        job = tab.job
        if job is not None:
            job.cancel()
            progress_text.text = "Cancelling…"

    async def apply(**changes: Any) -> None:
        if not a_select.value or not b_select.value:
            ui.notify("Choose set A and set B.", type="warning")
            return
        if not changes and not controls.check():
            return
        metric, predicate, param = controls.settings()
        settings = {"metric": metric, "predicate": predicate, "param": param, "expand": controls.expand_value}
        _, target = applied(tab.listed, picked_state(**(settings | changes), page=1))
        if target is None:
            await start()
            return
        # A new page and history entry per join, as on /similar: Back returns to the previous join.
        ui.navigate.to(target)

    async def threshold_picked(value: float) -> None:
        text = set_range_threshold(controls, value)
        await apply(predicate="range", param=text)

    def b_chosen() -> None:
        controls.set_expansion(expansion_for(ctx, b_of(b_select.value), intent_toggle.value))
        controls.refresh_default()

    timer = ui.timer(_POLL_SECONDS, poll, active=False)
    view_toggle.on_value_change(lambda e: view_chosen(e.value))
    intent_toggle.on_value_change(lambda e: (b_chosen(), follow_intent(controls, e.value)))
    b_select.on_value_change(lambda _: b_chosen())
    ui.timer(0, start, once=True)

