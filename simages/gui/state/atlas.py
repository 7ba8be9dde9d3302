"""The atlas page (`/atlas?set=S`) apart from drawing: one tab's state -- the image names of each point
series of the map drawn, the images selected with the lasso, whether the map is final -- the key's answers
(through operations.query, as `simages query` gives them) and how a lasso event becomes a selection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from simages.gui.context import GuiContext
from simages.operations.query import QueryRequest, StoredKey, run_query

# The key's answers marked on the map.
KEY_ANSWERS = 10


@dataclass
class AtlasTab:
    """One browser tab's map of a set, made by the page builder for that tab (never shared): each point
    series' image names in data order (a lasso event names points by series and index), the images
    selected, and whether the map drawn is final (the UMAP map, or the only map there will be)."""

    series_names: list[list[str]] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    final: bool = False

    def selection_of(self, event_args: Any) -> list[str]:
        """The images a lasso or box selection names ([[series, [data indexes]], ...]), sorted, once
        each; entries that do not fit the map drawn (a stale event from a map drawn before) are ignored."""
        chosen: list[str] = []
        for entry in event_args or []:
            try:
                series, rows = int(entry[0]), [int(r) for r in entry[1]]
                chosen.extend(self.series_names[series][r] for r in rows)
            except (TypeError, ValueError, IndexError):
                continue
        return sorted(set(chosen))


def key_answers(ctx: GuiContext, set_name: str, key: str, names: Sequence[str]) -> list[str] | None:
    """The key's nearest images in its own set (cosine, kNN), as `simages query SET/KEY --knn K` lists
    them; None when the key is not an image of the map."""
    if key not in names:
        return None
    request = QueryRequest(StoredKey(set_name, key), set_name, knn=str(KEY_ANSWERS), apply_chosen=False)
    answer = run_query(request, ctx.settings, ctx.descriptors)
    return [m.image for m in answer.result.matches]
