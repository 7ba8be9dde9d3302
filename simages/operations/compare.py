"""Two settings side by side: the same key searched twice (kNN against range, cosine against Euclidean,
the searched descriptor against the teaching one), and which images only one of the two answers has.
The `/side` page adapts it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simages.nearest.core.distribution import key_threshold
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.results import KeyResult
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import key_join
from simages.nearest.teaching.views import UNSCALED, unscaled_index

# Images listed per side at most (a range query still counts every image that passed).
LIMIT = 60


@dataclass(frozen=True)
class Setting:
    """One side: metric, predicate, its parameter ("" for the default: k = 10, or the key's suggested
    threshold) and the descriptor view ("" as searched, "unscaled" the teaching view)."""

    metric: str = "cosine"
    predicate: str = "knn"
    param: str = ""
    view: str = ""

    def describe(self) -> str:
        what = "cosine similarity" if self.metric == "cosine" else "Euclidean distance"
        view = ", lengths kept (teaching)" if self.view == UNSCALED else ""
        return f"{'k nearest' if self.predicate == 'knn' else 'within threshold'}, {what}{view}"


@dataclass
class Side:
    setting: Setting
    spec: QuerySpec
    result: KeyResult
    only_here: set[str]  # listed on this side and not on the other


def _side(index: SetIndex, vector: np.ndarray, setting: Setting, exclude: str | None
          ) -> tuple[QuerySpec, KeyResult]:
    view = unscaled_index(index) if setting.view == UNSCALED else index
    param: str | float | int = setting.param.strip()
    if not param:
        param = 10 if setting.predicate == "knn" else key_threshold(view, vector, setting.metric, exclude,
                                                                    expand=False)
    spec = QuerySpec.parse(setting.metric, setting.predicate, param, False)
    return spec, key_join(view, vector, spec, exclude=exclude, limit=LIMIT, exact=True)


def compare_settings(index: SetIndex, vector: np.ndarray, left: Setting, right: Setting,
                     exclude: str | None = None) -> tuple[Side, Side]:
    """The key `vector` (a raw stored-style row) searched in `index` with both settings (exactly, no query
    expansion, so only the setting differs), and the images only one side lists. ValueError (a message for
    the user) for a bad parameter."""
    spec_l, result_l = _side(index, vector, left, exclude)
    spec_r, result_r = _side(index, vector, right, exclude)
    names_l = {m.image for m in result_l.matches}
    names_r = {m.image for m in result_r.matches}
    return (Side(left, spec_l, result_l, names_l - names_r), Side(right, spec_r, result_r, names_r - names_l))
