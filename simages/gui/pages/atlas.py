"""The atlas page (`/atlas`): every image of a set on a 2-D map, or a join of two sets on one map.

`/atlas?set=S` shows the set's map (simages.operations.atlas): points coloured by sub-folder, a thumbnail
on hover, a click opens that image's results, and a lasso (or box) selects images to use as a key set: the
images most like any of them are listed beside the map. `&key=IMAGE` marks a key and its nearest images
(the results page links here). `/atlas?a=A&b=B&...` (the join page's parameters) maps the join: A and B in
two colours, the passing pairs as edges, the images of B with no match in A as a layer of their own.
`/atlas?set=S&head=NAME` maps the set twice side by side, before and after a trained head (simages train).
While the UMAP map is still being computed the page shows the instant PCA view and swaps the map in when
it is ready. Each tab's state is an AtlasTab (gui/state/atlas.py) made by the builder for that tab.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import numpy as np
from nicegui import events, ui

from simages.gui.context import GuiContext
from simages.gui.join.setup import JoinProblem, load_for, resolve
from simages.gui.offload import in_thread
from simages.gui.pages.common import error_page, page_header
from simages.gui.state.atlas import AtlasTab, key_answers
from simages.gui.state.sets import load_index, missing_set_message, set_exists
from simages.gui.urls.atlas import atlas_url
from simages.gui.urls.join import InvalidQuery, join_from_params, join_url
from simages.gui.urls.query import QueryState, parse_head, parse_set, results_url
from simages.naming import display_name
from simages.nearest import QuerySpec
from simages.operations.atlas import (
    HeadAtlas,
    JoinAtlas,
    SetAtlas,
    build_head_atlas,
    join_atlas,
    kept_set_atlas,
    nearest_to_selection,
    set_atlas,
)
from simages.wording import agree, plural

# A palette readable on white (Tableau 10 and its light companions); folders beyond it share "other".
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac", "#86bcb6", "#d4a6c8")
OTHER = "other folders"
SELECTION_SHOWN = 24
POLL_SECONDS = 3.0
# Duplicate groups of at least this many images are ringed on a join's map (a lone pair is its edge).
KNOT = 3
# The whole map on screen at 1280x720 under the header and the note, never smaller than a useful map.
CHART_HEIGHT = "height: max(380px, calc(100vh - 250px))"

# The tooltip: the image's thumbnail and its name (data items are [x, y, name, set]).
_TOOLTIP_JS = """p => {
  if (!Array.isArray(p.value) || p.value.length < 4) return p.seriesName;
  const esc = s => String(s).replace(/[&<>"]/g,
    c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]));
  const src = '/image?set=' + encodeURIComponent(p.value[3]) + '&name=' + encodeURIComponent(p.value[2]);
  return '<div style="width:160px"><img src="' + src + '" style="width:160px;height:120px;object-fit:cover;' +
    'border-radius:4px;display:block"><div style="font-size:12px;overflow-wrap:anywhere">' + esc(p.value[2]) +
    '</div><div style="font-size:11px;color:#777">' + esc(p.seriesName) + '</div></div>';
}"""
# A lasso or box selection, sent once the drawing settles: [[series index, [data indexes]], ...].
_BRUSH_JS = "(e) => emit((e.batch?.[0]?.selected || []).map(s => [s.seriesIndex, s.dataIndex]))"


def symbol_size(points: int) -> int:
    return 9 if points < 300 else 6 if points < 3000 else 4


def _axes() -> dict[str, Any]:
    # The map's axes carry no meaning (only nearness does): no labels, no grid.
    axis = {"type": "value", "scale": True, "show": False}
    return {"xAxis": dict(axis), "yAxis": dict(axis)}


def _frame(series: list[dict[str, Any]]) -> dict[str, Any]:
    point_series = [i for i, s in enumerate(series) if s["type"] == "scatter"]
    return {
        "animation": False,
        "grid": {"left": 8, "right": 8, "top": 36, "bottom": 8},
        "legend": {"type": "scroll", "top": 0, "textStyle": {"fontSize": 11}},
        "tooltip": {"trigger": "item", "confine": True, "enterable": False, ":formatter": _TOOLTIP_JS},
        "toolbox": {"right": 8, "top": 24, "feature": {"brush": {"type": ["polygon", "rect", "clear"],
                                                                  "title": {"polygon": "Lasso select",
                                                                            "rect": "Box select",
                                                                            "clear": "Clear selection"}}}},
        "brush": {"seriesIndex": point_series, "throttleType": "debounce", "throttleDelay": 250,
                  "outOfBrush": {"colorAlpha": 0.25}},
        "dataZoom": [{"type": "inside", "xAxisIndex": 0}, {"type": "inside", "yAxisIndex": 0}],
        **_axes(),
        "series": series,
    }


def _points(coords: np.ndarray, names: list[str], set_name: str, rows: list[int]) -> list[list[Any]]:
    return [[round(float(coords[i, 0]), 4), round(float(coords[i, 1]), 4), names[i], set_name] for i in rows]


def set_map_options(atlas: SetAtlas, key: str | None = None, answers: list[str] | None = None
                    ) -> tuple[dict[str, Any], list[list[str]]]:
    """ECharts options of a set's map, one scatter series per sub-folder (the largest first; beyond the
    palette, one "other folders" series), and each series' image names in data order. With `key`, the key
    (a star) and its `answers` (ringed) are drawn on top."""
    by_folder: dict[str, list[int]] = {}
    for i, folder in enumerate(atlas.folders):
        by_folder.setdefault(folder, []).append(i)
    order = sorted(by_folder, key=lambda f: (-len(by_folder[f]), f))
    room = len(PALETTE) - 1 if len(order) > len(PALETTE) else len(PALETTE)
    named, rest = order[:room], order[room:]
    groups = [(f, by_folder[f]) for f in named]
    if len(order) > len(PALETTE):
        groups.append((OTHER, sorted(i for f in rest for i in by_folder[f])))
    size = symbol_size(len(atlas.names))
    series: list[dict[str, Any]] = []
    names: list[list[str]] = []
    for (folder, rows), colour in zip(groups, PALETTE, strict=False):
        series.append({"name": display_name(folder), "type": "scatter", "symbolSize": size,
                       "itemStyle": {"color": colour, "opacity": 0.85},
                       "data": _points(atlas.coords, atlas.names, atlas.set_name, rows)})
        names.append([atlas.names[i] for i in rows])
    where = {n: i for i, n in enumerate(atlas.names)}
    if key is not None and key in where:
        found = [where[a] for a in (answers or []) if a in where]
        series.append({"name": "nearest to the key", "type": "scatter", "symbolSize": size + 8,
                       "itemStyle": {"color": "rgba(0,0,0,0)", "borderColor": "#111", "borderWidth": 2},
                       "data": _points(atlas.coords, atlas.names, atlas.set_name, found), "z": 5})
        names.append([atlas.names[i] for i in found])
        series.append({"name": "the key", "type": "scatter", "symbol": "pin", "symbolSize": size + 22,
                       "itemStyle": {"color": "#c62828"}, "z": 6,
                       "data": _points(atlas.coords, atlas.names, atlas.set_name, [where[key]])})
        names.append([key])
    return _frame(series), names


def join_map_options(drawn: JoinAtlas) -> tuple[dict[str, Any], list[list[tuple[str, str]]]]:
    """ECharts options of a join's map: A, B's matched images, "new in B" (B's images in no pair) and the
    pairs as edges, each a legend entry that can be hidden; and each point series' (set, image) in order."""
    layer = drawn.layer
    size = symbol_size(len(layer.a_names) + len(layer.b_names))
    self_join = layer.a_set == layer.b_set
    new = set(layer.new_in_b)
    matched = [j for j in range(len(layer.b_names)) if j not in new]
    edges = [{"coords": [[round(float(layer.a_coords[i, 0]), 4), round(float(layer.a_coords[i, 1]), 4)],
                         [round(float(layer.b_coords[j, 0]), 4), round(float(layer.b_coords[j, 1]), 4)]],
              "value": round(score, 4)} for i, j, score in layer.edges]
    series: list[dict[str, Any]] = [{
        "name": f"pairs ({len(layer.edges):,})", "type": "lines", "coordinateSystem": "cartesian2d",
        "data": edges, "silent": True, "lineStyle": {"color": "#616161", "width": 1, "opacity": 0.5}, "z": 1,
    }]
    names: list[list[tuple[str, str]]] = []
    if not self_join:
        series.append({"name": display_name(f"A: {layer.a_set}"), "type": "scatter", "symbolSize": size,
                       "itemStyle": {"color": "#4e79a7", "opacity": 0.8},
                       "data": _points(layer.a_coords, layer.a_names, layer.a_set,
                                       list(range(len(layer.a_names))))})
        names.append([(layer.a_set, n) for n in layer.a_names])
    label = "matched" if not self_join else "in a pair"
    series.append({"name": display_name(f"B: {layer.b_set}, {label}"), "type": "scatter", "symbolSize": size,
                   "itemStyle": {"color": "#f28e2b", "opacity": 0.9},
                   "data": _points(layer.b_coords, layer.b_names, layer.b_set, matched)})
    names.append([(layer.b_set, layer.b_names[j]) for j in matched])
    series.append({"name": f"new in B ({len(new):,})" if not self_join else f"in no pair ({len(new):,})",
                   "type": "scatter", "symbolSize": size + 2, "symbol": "diamond",
                   "itemStyle": {"color": "#59a14f", "opacity": 0.9},
                   "data": _points(layer.b_coords, layer.b_names, layer.b_set, sorted(new))})
    names.append([(layer.b_set, layer.b_names[j]) for j in sorted(new)])
    # Duplicate groups (connected components of the pairs) of three or more images: ringed, so a knot of
    # copies stands out from a single pair. The rings are drawn over the images' own points and silent, so
    # hover and click still reach the image under a ring.
    knots = [group for group in layer.groups if len(group) >= KNOT]
    ringed: list[list[Any]] = []
    for group in knots:
        for side, row in group:
            coords, set_name, image_names = ((layer.a_coords, layer.a_set, layer.a_names) if side == "a"
                                             else (layer.b_coords, layer.b_set, layer.b_names))
            ringed.extend(_points(coords, image_names, set_name, [row]))
    series.append({"name": f"groups of {KNOT}+ ({len(knots):,})", "type": "scatter", "symbolSize": size + 8,
                   "itemStyle": {"color": "rgba(0,0,0,0)", "borderColor": "#6a1b9a", "borderWidth": 2},
                   "data": ringed, "z": 4, "silent": True})
    names.append([(p[3], p[2]) for p in ringed])
    return _frame(series), names


def predicate_text(spec: QuerySpec) -> str:
    if spec.predicate == "knn":
        return f"the {spec.param} nearest of each image of A"
    op = "similarity ≥" if spec.metric == "cosine" else "distance ≤"
    return f"{op} {spec.param:g}"


def build_atlas(ctx: GuiContext, params: dict[str, str]) -> None:
    if params.get("a"):
        _build_join_atlas(ctx, params)
        return
    try:
        set_name = parse_set(params.get("set"), "set to map")
    except InvalidQuery as error:
        error_page("This link does not describe a map", str(error))
        return
    if not set_exists(ctx, set_name):
        error_page("No such image set", missing_set_message(ctx, set_name))
        return
    if params.get("head"):
        _build_head_atlas(ctx, set_name, params)
        return
    key = params.get("key") or None
    page_header("atlas")
    ui.page_title(display_name(f"Atlas of {set_name} · SIMages"))
    tab = AtlasTab()
    with ui.column().classes("w-full q-px-md q-pb-md q-pt-sm gap-2 page-body"):
        ui.link("← Back to the start page", "/?" + urlencode({"key_set": set_name})).classes("text-primary")
        ui.label(display_name(f"Atlas of {set_name}")).classes("text-h6")
        note = ui.label("").classes("text-body2 text-grey-8").mark("atlas-note")
        with ui.row().classes("w-full items-start gap-4 no-wrap atlas-layout"):
            with ui.column().classes("col gap-1").style("min-width: 0"):
                chart_box = ui.column().classes("w-full gap-0")
                ui.label("Hover a point to see the image; click it to open its results; draw a lasso (or a "
                         "box) with the tools at the top right to use the images inside as a key set. Scroll "
                         "to zoom.").classes("text-caption text-grey-7")
            selection = ui.column().classes("gap-2 atlas-side").mark("atlas-selection")

    index = load_index(ctx, set_name)
    if index is None:
        note.text = display_name(f"{set_name} is not indexed yet: its map appears once it is.")
        return

    answers = key_answers(ctx, set_name, key, index.names) if key is not None else None

    def draw(atlas: SetAtlas) -> None:
        options, names = set_map_options(atlas, key if answers is not None else None, answers)
        tab.series_names = names
        note.text = display_name(atlas.note())
        chart_box.clear()
        with chart_box:
            chart = ui.echart(options).classes("w-full atlas-chart").style(CHART_HEIGHT)
            chart.mark("atlas-chart")
            chart.on_point_click(lambda e: opened(e))
            chart.on("chart:brushselected", selected, js_handler=_BRUSH_JS)
        tab.final = atlas.final

    def opened(e: events.EChartPointClickEventArguments) -> None:
        data = e.data if isinstance(e.data, list) else None
        if data and len(data) >= 4:
            ui.navigate.to(results_url(QueryState(str(data[3]), key_set=str(data[3]), image=str(data[2]))))

    def selected(e: events.GenericEventArguments) -> None:
        show_selection(tab.selection_of(e.args))

    def show_selection(chosen: list[str]) -> None:
        tab.selected = chosen
        selection.clear()
        with selection:
            if not chosen:
                ui.label("No images selected.").classes("text-caption text-grey-7")
                return
            ui.label(f"{len(chosen):,} images selected").classes("text-subtitle2").mark("selection-count")
            with ui.element("div").classes("atlas-thumbs"):
                for name in chosen[:SELECTION_SHOWN]:
                    _tile(ctx, set_name, name)
            ui.label("Images most like the selection (the best similarity to any of them):").classes(
                "text-caption text-grey-8 q-mt-sm")
            with ui.element("div").classes("atlas-thumbs").mark("selection-nearest"):
                for name, score in nearest_to_selection(index, chosen, SELECTION_SHOWN):
                    _tile(ctx, set_name, name, f"{score:.3f}")

    draw(set_atlas(ctx.settings, index, ctx.maps))
    show_selection([])

    async def poll() -> None:
        """Swap in the UMAP map once the background job has kept it."""
        if tab.final or chart_box.is_deleted:
            timer.deactivate()
            return
        fresh = await in_thread(kept_set_atlas, ctx.settings, index, ctx.maps)
        if fresh is not None and not chart_box.is_deleted:
            draw(fresh)
            show_selection([])

    timer = ui.timer(POLL_SECONDS, poll)


def _tile(ctx: GuiContext, set_name: str, name: str, caption: str = "") -> None:
    link = results_url(QueryState(set_name, key_set=set_name, image=name))
    with ui.link(target=link).classes("atlas-tile").props(f'title="{quote(display_name(name), safe=" /")}"'):
        ui.image(ctx.thumbnails.url(set_name, name)).classes("atlas-thumb")
        if caption:
            ui.label(caption).classes("text-caption text-center")


def _build_join_atlas(ctx: GuiContext, params: dict[str, str]) -> None:
    try:
        state = join_from_params(params)
    except InvalidQuery as error:
        error_page("This link does not describe a join", str(error))
        return
    if state.b is None:
        error_page("One searched set, please", "The atlas maps a join of set A against one set B; choose B "
                   "on the join page.")
        return
    try:
        resolved = resolve(ctx, state)
    except JoinProblem as problem:
        error_page(problem.title, problem.message)
        return
    a, b = load_for(ctx, state.a, state.intent_spec), load_for(ctx, state.b, state.intent_spec)
    if a is None or b is None:
        error_page("Not indexed yet", "Both sets must be indexed to map their join.")
        return
    page_header("atlas of a join")
    ui.page_title(display_name(f"Atlas of {state.a} × {state.b} · SIMages"))
    with ui.column().classes("w-full q-px-md q-pb-md q-pt-sm gap-2 page-body"):
        ui.link("← Back to the join", join_url(resolved.state)).classes("text-primary")
        ui.label(display_name(f"Atlas of the join {state.a} × {state.b}")).classes("text-h6")
        note = ui.label("Mapping the join…").classes("text-body2 text-grey-8").mark("atlas-note")
        chart_box = ui.column().classes("w-full gap-0")
        ui.label("Both sets are mapped together in the searched set's space. Edges join the pairs that pass; "
                 "copies sit as tight knots; green diamonds are images of B with no match in A. Click a "
                 "legend entry to hide that layer.").classes("text-caption text-grey-7")
    spec = resolved.request.spec

    def draw(drawn: JoinAtlas) -> None:
        options, _ = join_map_options(drawn)
        layer = drawn.layer
        what = "UMAP map" if layer.method == "umap" else "instant PCA view" if not drawn.final else "PCA map"
        sizes = (f"{len(layer.b_names):,}" if layer.a_set == layer.b_set
                 else f"{len(layer.a_names):,} + {len(layer.b_names):,}")
        note.text = display_name(
            f"{what} of {sizes} images; {drawn.pairs:,} pairs pass "
            f"({predicate_text(spec)}); {plural(len(layer.new_in_b), 'image')} "
            f"of {layer.b_set} {agree(len(layer.new_in_b), 'has', 'have')} no match in {layer.a_set}."
            + ("" if drawn.final else " The UMAP map is being computed; it replaces this view when ready."))
        chart_box.clear()
        with chart_box:
            chart = ui.echart(options).classes("w-full atlas-chart").style(CHART_HEIGHT)
            chart.mark("atlas-chart")

            def opened(e: events.EChartPointClickEventArguments) -> None:
                data = e.data if isinstance(e.data, list) else None
                if data and len(data) >= 4:
                    image = QueryState(str(data[3]), key_set=str(data[3]), image=str(data[2]))
                    ui.navigate.to(results_url(image))

            chart.on_point_click(opened)

    async def start() -> None:
        drawn = await in_thread(lambda: join_atlas(ctx.settings, a, b, spec, maps=ctx.maps))
        if chart_box.is_deleted:
            return
        draw(drawn)
        if not drawn.final:
            final = await in_thread(lambda: join_atlas(ctx.settings, a, b, spec, compute=True,
                                                                  maps=ctx.maps))
            if not chart_box.is_deleted:
                draw(final)

    ui.timer(0.05, start, once=True)


def head_map_options(atlas: SetAtlas, head: str | None) -> tuple[dict[str, Any], list[list[str]]]:
    """A before/after panel: the set's map options without the lasso (selection is the plain map's), its
    title saying which space it is."""
    options, names = set_map_options(atlas)
    options.pop("toolbox", None)
    options.pop("brush", None)
    title = f"after: trained head {head}" if head else "before: untrained descriptor"
    options["title"] = {"text": title, "left": "center", "bottom": 0, "textStyle": {"fontSize": 13}}
    options["grid"] = {**options["grid"], "bottom": 30}
    return options, names


def _build_head_atlas(ctx: GuiContext, set_name: str, params: dict[str, str]) -> None:
    """`/atlas?set=S&head=NAME`: the set before and after training, side by side (seed 002's figures)."""
    from simages.training.registry import HeadError

    try:
        head = parse_head(params)
    except InvalidQuery as error:
        error_page("This link does not describe a map", str(error))
        return
    assert head is not None
    try:
        trained = load_index(ctx, set_name, head=head)
    except HeadError as error:
        error_page("No such trained head", f"{error}. The heads trained so far are listed by "
                   "`simages train --list`; train one with `simages train SET --name NAME`.")
        return
    except ValueError as error:  # DescriptorMismatch: trained on other stored vectors
        error_page("This head does not fit this set", str(error))
        return
    untrained = load_index(ctx, set_name)
    page_header("atlas")
    ui.page_title(display_name(f"Atlas of {set_name}, before and after {head} · SIMages"))
    with ui.column().classes("w-full q-px-md q-pb-md q-pt-sm gap-2 page-body"):
        ui.link("← The set's own map", atlas_url(set_name)).classes("text-primary")
        ui.label(display_name(f"Atlas of {set_name}: before and after training {head}")).classes("text-h6")
        note = ui.label("Mapping the set in both spaces…").classes("text-body2 text-grey-8")
        note.mark("atlas-note")
        with ui.row().classes("w-full items-start gap-2 no-wrap"):
            before_box = ui.column().classes("col gap-0").style("min-width: 0")
            after_box = ui.column().classes("col gap-0").style("min-width: 0")
        ui.label("Hover a point to see the image; click it to open its results (on the right, ranked with "
                 "the head). Scroll to zoom.").classes("text-caption text-grey-7")
    if trained is None or untrained is None:
        note.text = display_name(f"{set_name} is not indexed yet: its maps appear once it is.")
        return

    def opened(e: events.EChartPointClickEventArguments, with_head: str | None) -> None:
        data = e.data if isinstance(e.data, list) else None
        if data and len(data) >= 4:
            ui.navigate.to(results_url(QueryState(str(data[3]), key_set=str(data[3]), image=str(data[2]),
                                                  head=with_head)))

    def draw(drawn: HeadAtlas) -> None:
        note.text = display_name(drawn.note())
        for box, atlas, with_head, marker in ((before_box, drawn.before, None, "atlas-before"),
                                              (after_box, drawn.after, head, "atlas-after")):
            options, _ = head_map_options(atlas, with_head)
            box.clear()
            with box:
                chart = ui.echart(options).classes("w-full atlas-chart").style(CHART_HEIGHT).mark(marker)
                chart.on_point_click(lambda e, h=with_head: opened(e, h))

    async def start() -> None:
        try:
            drawn = await in_thread(build_head_atlas, ctx.settings, untrained, trained, head, ctx.maps)
        except HeadError as error:  # removed or replaced while the page was opening
            if not note.is_deleted:
                note.text = str(error)
            return
        if not note.is_deleted:
            draw(drawn)

    ui.timer(0.05, start, once=True)
