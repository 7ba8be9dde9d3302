"""The side-by-side page (`/side`): one key, two settings, the two answers next to each other.

`/side?key_set=S&image=I&set=T` plus, per side, `l_metric`, `l_predicate`, `l_param`, `l_view` and
`r_...` (simages.operations.compare). Each side has its own controls and answers at once; an image only
one side lists is marked ("only here", an orange frame), an image both list shows its rank on the other
side. The results page links here with cosine on the left and Euclidean on the right, both under the
teaching descriptor, where the two metrics really differ; each side's controls change it. Each tab's two
settings are a SideBySideTab (gui/state/side_by_side.py) made by the builder for that tab."""

from __future__ import annotations

from nicegui import ui

from simages.gui.context import GuiContext
from simages.gui.pages.common import error_page, page_header
from simages.gui.state.sets import load_index, set_exists
from simages.gui.state.side_by_side import SIDES, SideBySideTab, comparison_summary
from simages.gui.urls.query import InvalidQuery, QueryState, parse_set, results_url
from simages.gui.urls.side import side_url
from simages.gui.widgets.controls import METRIC_LABELS, PREDICATE_LABELS, format_score, score_label
from simages.naming import display_name
from simages.nearest.teaching.views import VIEWS
from simages.operations.compare import Setting, Side, compare_settings


def _setting(params: dict[str, str], prefix: str, default: Setting) -> Setting:
    metric = params.get(f"{prefix}_metric") or default.metric
    predicate = params.get(f"{prefix}_predicate") or default.predicate
    view = params.get(f"{prefix}_view") or default.view
    if metric not in METRIC_LABELS or predicate not in PREDICATE_LABELS or view not in VIEWS:
        raise InvalidQuery("this link names a metric, predicate or descriptor the page does not know")
    return Setting(metric, predicate, (params.get(f"{prefix}_param") or "").strip()[:32], view)


def build_side_by_side(ctx: GuiContext, params: dict[str, str]) -> None:
    try:
        join_set = parse_set(params.get("set"), "set to search")
        key_set = parse_set(params.get("key_set") or join_set, "key set")
        image = params.get("image") or ""
        left = _setting(params, "l", Setting(view="unscaled"))
        right = _setting(params, "r", Setting(metric="euclidean", view="unscaled"))
    except InvalidQuery as error:
        error_page("This link does not describe a comparison", str(error))
        return
    if not (set_exists(ctx, join_set) and set_exists(ctx, key_set)):
        error_page("No such image set", "This comparison names a set that does not exist.")
        return
    searched, keys = load_index(ctx, join_set), load_index(ctx, key_set)
    if searched is None or keys is None or image not in keys:
        error_page("Not ready", display_name(f"{key_set} / {image} or {join_set} is not indexed (yet)."))
        return
    vector = keys.raw_vector(image)
    exclude = image if key_set == join_set else None
    page_header("two settings side by side")
    ui.page_title(display_name(f"{image}: two settings side by side · SIMages"))
    tab = SideBySideTab(left, right)
    with ui.column().classes("w-full q-px-md q-pb-md q-pt-sm gap-2 page-body"):
        back = QueryState(join_set, key_set=key_set, image=image)
        ui.link("← Back to the results", results_url(back)).classes("text-primary")
        with ui.row().classes("items-center gap-3 no-wrap"):
            ui.image(ctx.thumbnails.url(key_set, image)).classes("key-image")
            with ui.column().classes("gap-0"):
                ui.label(display_name(f"Key: {key_set} / {image}, searched in {join_set}")).classes(
                    "text-subtitle1")
                ui.label("The same key, two settings. Images listed on one side only are framed in orange "
                         "(“only here”); the others show their rank on the other side. Both sides search "
                         "exactly and without query expansion, so only the settings differ.").classes(
                    "text-body2 text-grey-8")
                summary = ui.label("").classes("text-body2 text-weight-medium").mark("side-summary")
        with ui.row().classes("w-full items-start gap-4 no-wrap side-columns"):
            columns = {name: ui.column().classes("col gap-2").style("min-width: 0").mark(f"side-{name}")
                       for name in SIDES}

    def controls(name: str) -> None:
        setting = tab.setting(name)
        box = columns[name]
        with box, ui.row().classes("w-full items-end gap-2"):
            metric = ui.select(METRIC_LABELS, value=setting.metric, label="Compare by").classes("col").props(
                "dense options-dense").mark(f"{name}-metric")
            predicate = ui.toggle(PREDICATE_LABELS, value=setting.predicate).props("no-caps dense").mark(
                f"{name}-predicate")
            param = ui.input("k or threshold (empty: default)", value=setting.param).props(
                "dense outlined").classes("w-32").mark(f"{name}-param")
            view = ui.select(VIEWS, value=setting.view, label="Descriptor").classes("col").props(
                "dense options-dense").mark(f"{name}-view")

            def changed() -> None:
                if tab.change(name, str(metric.value), str(predicate.value), param.value or "",
                              str(view.value or "")):
                    param.value = ""
                refresh()

            for element in (metric, predicate, view):
                element.on_value_change(lambda _: changed())
            param.on("keydown.enter", lambda: changed())
            param.on("blur", lambda: changed())

    results = {name: ui.column() for name in SIDES}
    for name in SIDES:
        controls(name)
        with columns[name]:
            results[name] = ui.column().classes("w-full gap-1")

    def refresh() -> None:
        try:
            sides = compare_settings(searched, vector, tab.left, tab.right, exclude)
        except ValueError as error:
            summary.text = f"This comparison cannot run: {error}"
            return
        ui.navigate.history.replace(side_url(key_set, image, join_set, tab.left, tab.right))
        summary.text = comparison_summary(sides[0], sides[1])
        for name, side, other in (("left", sides[0], sides[1]), ("right", sides[1], sides[0])):
            draw(results[name], side, other)

    def draw(box: ui.column, side: Side, other: Side) -> None:
        box.clear()
        ranks = {m.image: i + 1 for i, m in enumerate(other.result.matches)}
        result = side.result
        with box:
            passed = (f"{result.passed:,} pass" if result.passed is not None
                      else f"{len(result.matches)} listed")
            ui.label(f"{side.setting.describe()}: {passed} (parameter {side.spec.param:g})").classes(
                "text-caption text-grey-8").mark("side-caption")
            with ui.element("div").classes("w-full side-grid"):
                for rank, match in enumerate(result.matches, start=1):
                    only = match.image in side.only_here
                    link = results_url(QueryState(join_set, key_set=join_set, image=match.image))
                    tile = ui.link(target=link).classes("thumb-tile relative-position" + (" side-only" if only
                                                                                          else ""))
                    tile.props["title"] = display_name(match.image)
                    tile.mark(f"side-tile:{match.image}" + (":only" if only else ""))
                    with tile:
                        ui.image(ctx.thumbnails.url(join_set, match.image)).classes("side-thumb")
                        ui.label(str(rank)).classes("thumb-rank")
                        note = "only here" if only else f"#{ranks[match.image]} there"
                        score = f"{score_label(result.metric)} {format_score(result.metric, match.score)}"
                        ui.label(f"{score} · {note}").classes(
                            "text-caption q-px-xs" + (" text-orange-9" if only else ""))

    refresh()
