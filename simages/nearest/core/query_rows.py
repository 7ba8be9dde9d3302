"""Keys as joins score them: the key itself and, with query expansion, its expanded form, best of both.

Average query expansion (Chum et al., "Total Recall", ICCV 2007) replaces a key by the mean of itself and
its k nearest images: class-level rankings improve (Corel-1k mAP 0.872 to 0.910), but a score measured
from the mean alone is no longer the key's own similarity, so an exact copy of the key scored 0.80 and
could rank 17th. Joins therefore score every image against both and keep the better score (the larger
similarity, the smaller distance): expansion can raise an image's score, never lower it below what the
key itself gives. An exact copy thus keeps cosine 1 / distance 0 and ranks first, while the ranking of the
rest stays that of expansion (Corel-1k mAP 0.907, P@10 0.960: docs/duplicates.md).

The expanded key is rescaled to the key's own length: cosine ignores lengths, and for unit-length
descriptors Euclidean distances from both keys are then on the same scale (d^2 = 2 - 2 cos), so the two
metrics keep ranking alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simages.nearest.core import scores


@dataclass(frozen=True)
class QueryRows:
    """(m, d) keys in a set's space: `plain` as they are, `expanded` (same shape) or None without
    expansion."""

    plain: np.ndarray
    expanded: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.plain)

    def row(self, i: int) -> QueryRows:
        """Key i alone, as (1, d) rows."""
        expanded = None if self.expanded is None else self.expanded[i : i + 1]
        return QueryRows(self.plain[i : i + 1], expanded)

    def __getitem__(self, i: int) -> np.ndarray:
        """Key i as one vector, expanded when expansion is on: what callers that search with a single
        vector (pivot tables) use; their answers then follow expansion alone, not the better of both."""
        return self.plain[i] if self.expanded is None else self.expanded[i]

    def forms(self) -> list[np.ndarray]:
        """The forms a key is scored with: [plain] or [plain, expanded]."""
        return [self.plain] if self.expanded is None else [self.plain, self.expanded]


def with_expansion(plain: np.ndarray, expanded: np.ndarray) -> QueryRows:
    """QueryRows whose expanded keys are rescaled to the lengths of the plain ones (a zero key stays 0)."""
    plain = scores.as_float32_rows(plain)
    expanded = scores.as_float32_rows(expanded)
    scale = scores.norms(plain) * scores.inverse_norms(expanded)
    return QueryRows(plain, np.ascontiguousarray(expanded * scale[:, None], dtype=np.float32))


def best_keys(rows: QueryRows, keys_of: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Elementwise minimum over the key forms of `keys_of(form)` ((m, n) keys, smaller = closer)."""
    forms = rows.forms()
    keys = keys_of(forms[0])
    for form in forms[1:]:
        np.minimum(keys, keys_of(form), out=keys)
    return keys


def best_scores(
    rows: QueryRows, scores_of: Callable[[np.ndarray], np.ndarray], higher_is_better: bool
) -> np.ndarray:
    """Elementwise best over the key forms of `scores_of(form)` (similarities: max, distances: min)."""
    forms = rows.forms()
    values = scores_of(forms[0])
    pick = np.maximum if higher_is_better else np.minimum
    for form in forms[1:]:
        values = pick(values, scores_of(form))
    return values
