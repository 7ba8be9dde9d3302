"""The teaching panel "How was this computed?": brute force against a pivot table for the current query.

It shows a class why a metric index works on some data and fails on other: how many distances each way
computed (a bar), each image's lower bound from the pivots against its true distance to the key with the
k-th distance or the threshold marked (a scatter: dots above the line were ruled out by the triangle
inequality without computing their distance), the set's intrinsic dimensionality in one line, and
controls for the number of pivots and the dimension (PCA to 8-512), so pruning can be watched collapsing
as the dimension grows. Closed, it costs nothing; it computes when opened or when a control changes.

A page mounts it with one call after each search (`mount_teaching_panel`); what the panel remembers
(open or not, pivots, dimension) lives in the tab's TeachingMemory (gui/state/teaching.py), never in this
module.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from nicegui import background_tasks, ui

from simages.gui.context import GuiContext
from simages.gui.offload import in_thread
from simages.gui.state.teaching import AS_SEARCHED, TeachingMemory, memory_of
from simages.gui.widgets.race_panel import RacePanel
from simages.nearest.core.display import format_score_short
from simages.nearest.core.intents import DEFAULT_INTENT, intent_named
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import is_self_join
from simages.nearest.pivots.store import default_pivot_count
from simages.nearest.teaching.pruning import (
    JoinCostEstimate,
    PruningPicture,
    estimate_join_cost,
    explain_pruning,
)
from simages.nearest.teaching.reduced import DIMENSIONS
from simages.wording import agree, plural

PIVOT_CHOICES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
COLOURS = {"pivot": "#6a1b9a", "answer": "#2e7d32", "computed": "#ef6c00", "pruned": "#9e9e9e"}
LEGEND = {
    "pivot": "pivots (distance computed first)",
    "answer": "answers",
    "computed": "computed, not an answer",
    "pruned": "ruled out without computing",
}


def mount_teaching_panel(
    ctx: GuiContext,
    memory: TeachingMemory | dict[str, Any],
    container: ui.element,
    index: SetIndex,
    key_vector: np.ndarray,
    spec: QuerySpec,
    exclude: str | None,
) -> TeachingPanel:
    """Add the panel for this query to `container` (cleared by the page before each search). `memory` is
    the tab's: the panel keeps its settings there, so they survive a new search."""
    memory = memory_of(memory)
    with container:
        return TeachingPanel(ctx, memory, index, spec, key_vector=key_vector, exclude=exclude)


def mount_join_teaching_panel(
    ctx: GuiContext,
    memory: TeachingMemory | dict[str, Any],
    container: ui.element,
    a: SetIndex,
    b: SetIndex,
    spec: QuerySpec,
) -> TeachingPanel:
    """The panel for a set join of A against B: the whole join's cost by brute force and through a pivot
    table of B (a pivot-filtered nested-loop join, estimated on a sample of A's keys for a large A), and the
    picture for one key of A, chosen in the panel."""
    memory = memory_of(memory)
    with container:
        return TeachingPanel(ctx, memory, b, spec, join_keys=a)


def mount_join_request_panel(
    ctx: GuiContext,
    memory: TeachingMemory | dict[str, Any],
    container: ui.element,
    a_name: str,
    b_names: tuple[str, ...],
    spec: QuerySpec,
    intent: str = DEFAULT_INTENT.name,
) -> TeachingPanel | None:
    """The join page's mount: the panel for a join of set `a_name` against one searched set, both read as
    the join's `intent` reads them; nothing for "all other sets" (each searched set has its own pivot
    table) or a set that cannot be loaded now."""
    if len(b_names) != 1:
        return None
    try:
        reading = intent_named(intent)
        a = ctx.descriptors.get(ctx.settings, a_name, reading)
        b = a if b_names[0] == a_name else ctx.descriptors.get(ctx.settings, b_names[0], reading)
    except (LookupError, ValueError, OSError, RuntimeError):  # not indexed, bad store: the page says so
        return None
    return mount_join_teaching_panel(ctx, memory, container, a, b, spec)


class TeachingPanel:
    def __init__(
        self,
        ctx: GuiContext,
        memory: TeachingMemory,
        index: SetIndex,
        spec: QuerySpec,
        *,
        key_vector: np.ndarray | None = None,
        exclude: str | None = None,
        join_keys: SetIndex | None = None,
    ) -> None:
        """One key (`key_vector`, leaving out the image `exclude` of `index`), or a join whose keys are the
        images of `join_keys` (one of them is shown, picked in the panel). ValueError with neither."""
        if (key_vector is None) == (join_keys is None):
            raise ValueError("the teaching panel needs either a key vector or the keys of a join")
        self.ctx, self.memory = ctx, memory
        self.index, self.key_vector, self.spec, self.exclude = index, key_vector, spec, exclude
        self.join_keys = join_keys
        searched = int(index.vectors.shape[1]) if len(index) else index.dimension
        dims = {AS_SEARCHED: f"as searched ({searched}-d)"}
        dims.update({d: f"PCA to {d}" for d in DIMENSIONS if d <= pca_limit(index)})
        if memory.dimension not in dims:
            memory.dimension = AS_SEARCHED
        self.expansion = ui.expansion("How was this computed?", icon="school", value=memory.open)
        self.expansion.classes("w-full").props("dense").mark("teaching-panel")
        # Controls and their text on the left, the charts they move on the right: at 1280x720 both fit on
        # one screen, so a class sees the dots move as a control changes (narrow screens wrap).
        with self.expansion, ui.row().classes("w-full items-start gap-4 teaching-layout"):
            with ui.column().classes("gap-2 teaching-side"):
                ui.label("Brute force computes the distance from the key to every image. A pivot table "
                         "(LAESA) first computes the distances to a few pivot images; the triangle "
                         "inequality then gives every other image a lower bound, |d(key, pivot) − "
                         "d(image, pivot)|, and an image whose bound is already beyond the k-th distance "
                         "(or the threshold) cannot be an answer: it is ruled out without computing its "
                         "distance. The answer is the same.").classes("text-caption text-grey-8")
                # The set's own default (about sqrt(n)) unless the user picked a count in this tab.
                default = default_pivot_count(len(index))
                choices = sorted({*PIVOT_CHOICES, default})
                labels = {p: plural(p, "pivot") + (" (default)" if p == default else "") for p in choices}
                chosen = memory.pivots
                self.pivots_select = ui.select(labels, value=chosen if chosen in labels else default,
                                               label="Pivots")
                self.pivots_select.classes("w-full").props("dense").mark("teaching-pivots")
                self.dimension_select = ui.select(dims, value=memory.dimension, label="Dimension")
                self.dimension_select.classes("w-full").props("dense").mark("teaching-dimension")
                self.key_select: ui.select | None = None
                if join_keys is not None and len(join_keys):
                    names = sorted(join_keys.names)
                    if memory.key not in join_keys:
                        memory.key = names[0]
                    self.key_select = ui.select(names, value=memory.key,
                                                label="Key shown (an image of A)", with_input=True)
                    self.key_select.classes("w-full").props("dense").mark("teaching-key")
                self.texts = ui.column().classes("w-full gap-1")
            self.body = ui.column().classes("col gap-1 teaching-charts")
        with self.expansion:
            RacePanel(ctx, index)
        self._requests = 0
        self.expansion.on_value_change(lambda e: self._opened(bool(e.value)))
        self.pivots_select.on_value_change(self.refresh)
        self.dimension_select.on_value_change(self.refresh)
        if self.key_select is not None:
            self.key_select.on_value_change(self.refresh)
        if self.expansion.value:
            background_tasks.create(self.refresh(), name="teaching panel")

    async def _opened(self, value: bool) -> None:
        self.memory.open = value
        if value:
            self.memory.scroll = True
            await self.refresh()

    async def refresh(self) -> None:
        """Compute the picture for the current controls (in a worker thread: a large set must not freeze
        the other tabs) and draw it; a newer request, or a new search that removed the panel, wins."""
        default = default_pivot_count(len(self.index))
        pivots = int(self.pivots_select.value or default)
        dimension = int(self.dimension_select.value or AS_SEARCHED)
        # A count the user chose is kept for the next search; the default follows the next set's size.
        self.memory.pivots = pivots if pivots != default else None
        self.memory.dimension = dimension
        self._requests += 1
        request = self._requests
        self.body.clear()
        self.texts.clear()
        with self.body:
            ui.spinner(size="md").mark("teaching-busy")
        try:
            picture, join = await in_thread(self._compute, pivots, dimension)
            problem = None
        except (ValueError, LookupError) as error:
            picture, join, problem = None, None, str(error)
        if request != self._requests or self.body.is_deleted:
            return
        self.body.clear()
        self.texts.clear()
        if picture is None:
            with self.texts:
                ui.label(str(problem)).classes("text-negative").mark("teaching-problem")
            return
        with self.texts:
            if join is not None:
                ui.label(join_summary_text(join)).classes("text-body2").mark("teaching-join-summary")
                ui.label(f"For one key of {join.a_set}, {self.memory.key}:").classes("text-subtitle2")
            ui.label(summary_text(picture)).classes("text-body2").mark("teaching-summary")
            small = small_set_text(len(self.index), picture)
            if small:
                ui.label(small).classes("text-body2 text-warning").mark("teaching-small-set")
            if picture.note:
                ui.label(picture.note).classes("text-caption text-grey-7").mark("teaching-note")
            ui.label(picture.rho.describe() + ": " + rho_hint(picture.rho.rho)).classes(
                "text-caption").mark("teaching-rho")
        with self.body:
            if join is not None:
                ui.echart(join_bar_options(join)).classes("w-full").style("height: 96px").mark(
                    "teaching-join-bar")
            ui.echart(cost_bar_options(picture)).classes("w-full").style("height: 96px").mark("teaching-bar")
            ui.echart(bounds_scatter_options(picture)).classes("w-full").style("height: 300px").mark(
                "teaching-scatter")
            ui.label(scatter_caption(picture)).classes("text-caption text-grey-7")
        if self.memory.scroll:
            # Just opened: bring the panel's top to the top of the window, so controls and charts show.
            self.memory.scroll = False
            ui.run_javascript(f"getHtmlElement({self.expansion.id})?.scrollIntoView({{block: 'start'}})")

    def _compute(self, pivots: int, dimension: int) -> tuple[PruningPicture, JoinCostEstimate | None]:
        """The picture of the key shown (and, for a join, the join's estimated cost); in a worker thread."""
        view_dimension = None if dimension == AS_SEARCHED else dimension
        if self.join_keys is None:
            assert self.key_vector is not None
            picture = explain_pruning(self.index, self.key_vector, self.spec, self.exclude, pivots,
                                      view_dimension, self.ctx.settings)
            return picture, None
        a, key = self.join_keys, str(self.key_select.value if self.key_select is not None else "")
        self.memory.key = key
        exclude = key if is_self_join(a, self.index) else None
        picture = explain_pruning(self.index, a.raw_vector(key), self.spec, exclude, pivots, view_dimension,
                                  self.ctx.settings)
        join = estimate_join_cost(a, self.index, self.spec, pivots, self.ctx.settings)
        return picture, join


# Below this many images a pivot table has too little to rule out for a lesson to show it.
SMALL_SET = 100


def small_set_text(images: int, picture: PruningPicture) -> str:
    """A sentence when the set is too small for the panel to show pruning (few images, or every image a
    pivot, or nothing ruled out), suggesting a larger set; "" otherwise."""
    pivots, pruned = picture.pivot.pivots, picture.pivot.pruned
    if pivots >= picture.brute.total:  # every image searched (the key left out) is a pivot
        why = (f"with {plural(images, 'image')} and {plural(pivots, 'pivot')} every image is a pivot: "
               "nothing can be ruled out")
    elif images < SMALL_SET and pruned == 0:
        them = "1 of them a pivot" if pivots == 1 else f"{pivots} of them pivots"  # plural-ok
        why = f"with only {plural(images, 'image')} ({them}) nothing was ruled out this time"
    elif images < SMALL_SET:
        why = f"with only {plural(images, 'image')} the savings are too small to mean much"
    else:
        return ""
    return (f"This set is too small to show pruning: {why}. Try a larger set (e.g. Corel-1k, 1,000 photos, "
            "as an image set) to see the pivots at work.")


def join_summary_text(join: JoinCostEstimate) -> str:
    """The whole join by brute force and through the pivot table, in two sentences."""
    sample = (f", measured on {join.keys:,} of its {plural(join.keys_total, 'key')} drawn at random. On "
              "those keys"
              if join.keys < join.keys_total else ":")
    same = "The same pairs." if join.identical else "WARNING: the pairs differ."
    return (f"The join of {join.a_set} against {join.b_set}{sample} brute force computes all "
            f"{plural(join.brute.total, 'distance')} ({join.brute.ms:.0f} ms); the pivot-filtered "
            "nested-loop join "
            f"computes {join.pivot.computed:,} ({100 * join.pivot.share():.0f}%) and rules out "
            f"{join.pivot.pruned:,} ({join.pivot.ms:.0f} ms). {same}")


def join_bar_options(join: JoinCostEstimate) -> dict[str, Any]:
    """Like cost_bar_options, for the whole join (pivot distances summed over the keys measured)."""
    pivot_part = join.pivot_distances
    parts = [
        ("to pivots", COLOURS["pivot"], [0, pivot_part]),
        ("computed", COLOURS["computed"], [join.brute.computed, join.pivot.computed - pivot_part]),
        ("ruled out", COLOURS["pruned"], [0, join.pivot.pruned]),
    ]
    return _bar(parts, join.brute.total, join.pivot.pivots)


def summary_text(picture: PruningPicture) -> str:
    """Brute force and pivot table in two sentences, with counts and times."""
    brute, pivot = picture.brute, picture.pivot
    candidates = pivot.computed - pivot.pivots
    same = "Both give the same answer." if picture.identical else "WARNING: the answers differ."
    space = "" if picture.as_searched else f"In this {picture.dimension}-dimensional view, b"
    expansion = (f" (Query expansion first computed {plural(brute.expansion, 'distance')} by brute force in "
                 "both "
                 "cases: not shown.)" if brute.expansion else "")
    return (f"{space or 'B'}rute force computed all {plural(brute.total, 'distance')} ({brute.ms:.1f} ms). "
            "The pivot "
            f"table computed {pivot.computed:,} ({100 * pivot.share():.0f}%): {pivot.pivots} to its "
            f"pivots and {candidates:,} to images it could not rule out; {pivot.pruned:,} were ruled out "
            f"without computing their distance ({pivot.ms:.1f} ms). {same}{expansion}")


def rho_hint(rho: float) -> str:
    """What the intrinsic dimensionality means for pivots, in words (no verdict: what counts as high
    depends on the set's size and the query, and the bar above shows the outcome)."""
    if not math.isfinite(rho):
        return "too few distinct images to say"
    return ("the larger it is, the more the distances crowd around their mean, the smaller the lower bounds "
            "and the less pivots can rule out (for points spread evenly in d dimensions it grows like d); "
            "change the dimension to see it move")


def _distance_name(metric: str) -> str:
    return "distance √(2 − 2·cos)" if metric == "cosine" else "Euclidean distance"


def pca_limit(index: SetIndex) -> int:
    """The largest PCA dimension the set allows: a PCA learned on n images spans at most n - 1 directions
    (their differences from the mean), and never more than the searched vectors have."""
    searched = int(index.vectors.shape[1]) if len(index) else index.dimension
    return max(0, min(len(index) - 1, index.dimension, searched))


def cutoff_label(picture: PruningPicture) -> str:
    """The red line's label, in both units for cosine: the page's histogram and results speak similarity,
    the pivots work on the distance of the same unit-length vectors (d = √(2 − 2·cos), cos = 1 − d²/2)."""
    spec = picture.spec
    if spec.predicate == "knn":
        if spec.metric == "cosine":
            # Rounded as the histogram and the results round a similarity, so the two labels match.
            similarity = format_score_short(1.0 - picture.cutoff ** 2 / 2.0, "cosine")
            return f"k-th: distance {picture.cutoff:.3f} = similarity {similarity}"
        return f"k-th distance {picture.cutoff:.3f}"
    if spec.metric == "cosine":
        return f"threshold: distance {picture.cutoff:.3f} = similarity {float(spec.param):.3f}"
    return f"threshold {picture.cutoff:.3f}"


def cost_bar_options(picture: PruningPicture) -> dict[str, Any]:
    """A stacked horizontal bar per method: distances to pivots, other distances computed, ruled out."""
    pivot = picture.pivot
    parts = [
        ("to pivots", COLOURS["pivot"], [0, pivot.pivots]),
        ("computed", COLOURS["computed"], [picture.brute.computed, pivot.computed - pivot.pivots]),
        ("ruled out", COLOURS["pruned"], [0, pivot.pruned]),
    ]
    return _bar(parts, picture.brute.total, pivot.pivots)


def _bar(parts: list[tuple[str, str, list[int]]], total: int, pivots: int) -> dict[str, Any]:
    return {
        "animation": False,
        "grid": {"left": 110, "right": 20, "top": 24, "bottom": 20},
        "legend": {"top": 0, "textStyle": {"fontSize": 11}},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": {"type": "value", "max": max(total, 1), "axisLabel": {"fontSize": 10}},
        "yAxis": {"type": "category", "inverse": True, "data": ["brute force", plural(pivots, "pivot")]},
        "series": [{"name": name, "type": "bar", "stack": "all", "data": data, "itemStyle": {"color": colour},
                    "barWidth": 22} for name, colour, data in parts],
    }


def bounds_scatter_options(picture: PruningPicture) -> dict[str, Any]:
    """Lower bound (y) against true distance (x) per image, by what happened to it, with the diagonal
    (a bound never exceeds the true distance) and the cut-off as a horizontal line."""
    true, lower = picture.true_distances, picture.lower_bounds
    highest = float(max(true.max(initial=0.0), lower.max(initial=0.0),
                        picture.cutoff if math.isfinite(picture.cutoff) else 0.0))
    top = _nice_ceiling(highest * 1.02) if highest > 0 else 1.0
    series: list[dict[str, Any]] = []
    for status in ("pruned", "computed", "answer", "pivot"):
        mask = picture.status == status
        series.append({
            "name": LEGEND[status],
            "type": "scatter",
            "symbol": "diamond" if status == "pivot" else "circle",
            "symbolSize": 7 if status in ("pivot", "answer") else 4,
            "itemStyle": {"color": COLOURS[status], "opacity": 0.8},
            "data": [[round(float(x), 4), round(float(y), 4)] for x, y in zip(true[mask], lower[mask],
                                                                                strict=True)],
        })
    diagonal: dict[str, Any] = {
        "name": "bound = true distance", "type": "line", "data": [[0, 0], [top, top]],
        "symbol": "none", "silent": True, "lineStyle": {"color": "#bdbdbd", "type": "dashed", "width": 1},
        "itemStyle": {"color": "#bdbdbd"},
    }
    if math.isfinite(picture.cutoff):
        diagonal["markLine"] = {
            "symbol": "none", "silent": True,
            "lineStyle": {"color": "#c62828", "width": 2, "type": "solid"},
            # Above the line at the left: above the diagonal, where no dot can ever be.
            "label": {"formatter": cutoff_label(picture), "position": "insideStartTop", "color": "#c62828"},
            "data": [{"yAxis": round(picture.cutoff, 4)}],
        }
    series.append(diagonal)
    name = _distance_name(picture.spec.metric)
    return {
        "animation": False,
        "grid": {"left": 56, "right": 20, "top": 40, "bottom": 44},
        "legend": {"top": 0, "textStyle": {"fontSize": 11}},
        "xAxis": {"type": "value", "min": 0, "max": top, "name": f"true {name} to the key",
                  "nameLocation": "middle", "nameGap": 26, "axisLabel": {"fontSize": 10}},
        "yAxis": {"type": "value", "min": 0, "max": top, "name": "lower bound from the pivots",
                  "nameLocation": "middle", "nameGap": 40, "axisLabel": {"fontSize": 10}},
        "series": series,
    }


def _nice_ceiling(value: float) -> float:
    """The axis end just above `value` with one significant digit more than its magnitude (1.69 -> 1.7)."""
    step = 10 ** math.floor(math.log10(value)) / 10
    return round(math.ceil(value / step) * step, 10)


def scatter_caption(picture: PruningPicture) -> str:
    shown = len(picture.images)
    sample = (f" {shown:,} of the {plural(picture.images_total, 'image')} {agree(shown, 'is', 'are')} drawn "
              "(every pivot and "
              "answer, a "
              "sample of the rest)." if shown < picture.images_total else "")
    knn = (" With kNN the line is the final k-th distance: dots a little above it were computed while the "
           "k-th distance found so far was still larger." if picture.spec.predicate == "knn" else "")
    return ("Each dot is an image. Every dot lies on or below the dashed diagonal: a lower bound never "
            "exceeds the true distance. Grey dots above the red line were ruled out by their bound alone; "
            "everything below it had to be computed. In high dimensions the dots crowd into a band of "
            "similar distances, the bounds stay near zero, and almost nothing can be ruled out."
            + knn + sample)
