"""Ranking metrics for retrieval, pure functions on relevance lists.

A ranking is represented by its relevance: `relevant[j]` says whether the j-th returned item has the
key's label. P@k is the fraction of relevant items among the first k; AP averages P@j over the ranks j of
the relevant items, divided by how many relevant items exist; mAP is the mean AP over keys. Keys without
any relevant item (a class of one image) have no defined AP and are left out of the means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def precision_at_k(relevant: Sequence[bool] | np.ndarray, k: int) -> float:
    """Fraction of relevant items among the first k; in a ranking shorter than k, missing ones are wrong."""
    if k < 1:
        raise ValueError("k must be at least 1")
    flags = np.asarray(relevant, dtype=bool)[:k]
    return float(flags.sum()) / k


def average_precision(relevant: Sequence[bool] | np.ndarray, total_relevant: int | None = None) -> float:
    """AP of one ranking; `total_relevant` defaults to the relevant items in it (a full ranking)."""
    flags = np.asarray(relevant, dtype=bool)
    total = int(flags.sum()) if total_relevant is None else total_relevant
    if total <= 0:
        return float("nan")
    ranks = np.flatnonzero(flags) + 1
    hits = np.arange(1, len(ranks) + 1)
    return float((hits / ranks).sum() / total)


def mean_average_precision(rankings: Sequence[Sequence[bool] | np.ndarray]) -> float:
    """Mean AP over full rankings; rankings without any relevant item are skipped."""
    values = [average_precision(ranking) for ranking in rankings]
    defined = [value for value in values if not np.isnan(value)]
    return float(np.mean(defined)) if defined else float("nan")


@dataclass(frozen=True)
class RetrievalScores:
    precision: dict[int, float]  # k -> mean P@k
    mean_ap: float
    keys: int  # keys that have at least one relevant item

    def as_dict(self) -> dict[str, float | int]:
        precision = {f"P@{k}": value for k, value in self.precision.items()}
        return {**precision, "mAP": self.mean_ap, "keys": self.keys}


def relevance_matrix(order: np.ndarray, labels: np.ndarray, key_labels: np.ndarray) -> np.ndarray:
    """(m, n) bool: whether the item ranked j-th for key i has key i's label."""
    return np.asarray(labels)[order] == np.asarray(key_labels)[:, None]


def summarise(relevant: np.ndarray, ks: Sequence[int] = (1, 10, 20)) -> RetrievalScores:
    """Mean P@k and mAP over the full rankings of (m, n) relevance rows, vectorised."""
    relevant = np.asarray(relevant, dtype=bool)
    totals = relevant.sum(axis=1)
    counted = totals > 0
    if not counted.any():
        return RetrievalScores({k: float("nan") for k in ks}, float("nan"), 0)
    rows = relevant[counted]
    cumulative = np.cumsum(rows, axis=1)
    ranks = np.arange(1, rows.shape[1] + 1)
    ap = (rows * cumulative / ranks).sum(axis=1) / totals[counted]
    precision = {k: float((cumulative[:, min(k, rows.shape[1]) - 1] / k).mean()) for k in ks}
    return RetrievalScores(precision, float(ap.mean()), int(counted.sum()))
