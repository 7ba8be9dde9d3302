"""Which search answered a kNN query on the results page, and the switch that forces the exact one.

Large sets are searched through their ANN index (`nearest.ann.index`): fast, and nearly always the same
answer as scanning every image. A curator checking that nothing was missed switches on "Exact search";
when an index is missing or stale the page says that the exact search answered, and why.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from simages.nearest.core.results import KeyResult
from simages.wording import plural

_HELP = ("Large sets are searched through an index that proposes the nearest images quickly; each is then "
         "scored exactly, but a rare close match can be missed. Switch on to compare the key with every "
         "image (slower). Range queries always compare with every image.")


class ExactSwitch:
    """The "Exact search" switch of the query settings; `value` is True when the exact search is forced."""

    def __init__(self, value: bool, on_change: Callable[[], None] | None = None) -> None:
        self.switch = ui.switch("Exact search", value=value,
                                on_change=(lambda _: on_change()) if on_change else None)
        self.switch.props("dense").mark("exact-switch")
        with self.switch:
            ui.tooltip(_HELP)

    @property
    def value(self) -> bool:
        return bool(self.switch.value)


def search_text(result: KeyResult) -> str:
    """One sentence on how the matches were found; empty when an exact search is simply the right tool
    (small sets, range queries, the exact search asked for)."""
    if result.search != "exact":
        return (f"Approximate search ({result.search.upper()} index) of {plural(result.total, 'image')}: "
                "the index "
                "proposed the candidates, each scored exactly. Switch on “Exact search” to compare with "
                "every image.")
    if result.search_note:
        return f"Exact search of all {plural(result.total, 'image')}, because {result.search_note}."
    return ""


def search_caption(result: KeyResult) -> None:
    """The sentence of `search_text` with an icon, or nothing."""
    text = search_text(result)
    if not text:
        return
    with ui.row().classes("items-start no-wrap gap-1").mark("search-mode"):
        ui.icon("speed" if result.search != "exact" else "info", color="grey-7", size="xs").classes("q-mt-xs")
        ui.label(text).classes("text-caption text-grey-8")
