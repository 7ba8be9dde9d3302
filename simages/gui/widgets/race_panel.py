"""The race in the teaching panel: brute force, the pivot table, a binary hash and HNSW answering the same
kNN queries, side by side (simages.operations.race), on the set at hand or on a generated set of 10,000
descriptors where the differences show on any machine. Computed only when a button asks for it."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from simages.gui.context import GuiContext
from simages.gui.offload import in_thread
from simages.naming import display_name
from simages.nearest.core.set_index import SetIndex
from simages.operations.race import GENERATED_SIZE, generated_set, race, race_table
from simages.race.contest import METHODS
from simages.wording import plural

COLUMNS = [
    {"name": "method", "label": "Method", "field": "method", "align": "left"},
    {"name": "distances", "label": "Distances per key", "field": "distances", "align": "right"},
    {"name": "ms", "label": "ms per key", "field": "ms", "align": "right"},
    {"name": "build", "label": "Build", "field": "build", "align": "right"},
    {"name": "recall", "label": "Recall@k", "field": "recall", "align": "right"},
]
CAPTION = ("The same k-nearest queries (cosine; keys drawn from the set, each left out of its own answer), "
           "four ways. Distances: full vector distances computed per key (the binary hash also compares "
           "every short code: cheap bit counts). Recall@k: the share of brute force's answers found. The "
           "pivot table is exact; on a large set the hash and HNSW trade a little recall for far fewer "
           "distances (on a few images HNSW's walk can even cost more than brute force). Times are medians "
           "on this machine, as loaded as it is now.")


class RacePanel:
    def __init__(self, ctx: GuiContext, index: SetIndex) -> None:
        self.ctx, self.index = ctx, index
        with ui.column().classes("w-full gap-1 q-mt-md").mark("race-panel"):
            ui.label("Race the search methods").classes("text-subtitle2")
            with ui.row().classes("items-center gap-2"):
                ui.button(f"On {display_name(index.set_name)}", on_click=lambda: self.start(False)).props(
                    "outline dense no-caps").mark("race-here")
                ui.button(f"On {GENERATED_SIZE:,} generated descriptors", on_click=lambda: self.start(True)
                          ).props("outline dense no-caps").mark("race-generated")
            self.body = ui.column().classes("w-full gap-1")

    async def start(self, generated: bool) -> None:
        self.body.clear()
        with self.body:
            ui.spinner(size="md").mark("race-busy")
        try:
            result, rows = await in_thread(self._compute, generated)
            problem = ""
        except (ValueError, RuntimeError, LookupError) as error:
            result, rows, problem = None, [], str(error)
        if self.body.is_deleted:
            return
        self.body.clear()
        with self.body:
            if result is None:
                ui.label(problem).classes("text-negative").mark("race-problem")
                return
            where = result.generated or f"{display_name(result.set_name)}: {plural(result.images, 'image')}"
            what = f"{where}, {result.dimension} dimensions, {len(result.keys)} keys, k = {result.k}."
            ui.label(what).classes("text-caption text-grey-8").mark("race-what")
            ui.table(columns=COLUMNS, rows=rows, row_key="method").props("dense flat bordered").classes(
                "w-full").mark("race-table")
            ui.label(CAPTION).classes("text-caption text-grey-7")

    def _compute(self, generated: bool) -> tuple[Any, list[dict[str, str]]]:
        if generated:
            index, how = generated_set(self.ctx.settings, GENERATED_SIZE)
            result = race(index, generated=how)
        else:
            if len(self.index) < 3:
                raise ValueError(f"{self.index.set_name} has too few images to race on; try the generated "
                                 "set")
            # A set of 10 images has 9 others: k follows it, and the table says which k it was.
            methods = METHODS if len(self.index) >= 8 else tuple(m for m in METHODS if m != "binary")
            result = race(self.index, keys=min(30, len(self.index)), k=min(10, len(self.index) - 1),
                          methods=methods)
        return result, race_table(result)
