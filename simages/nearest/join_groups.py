"""Groups of a set join: the connected components of its passing pairs, largest first.

Until the duplicates module's groups land on main this computes them itself with scipy's csgraph; it is
meant to become a thin adapter over that one implementation.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from simages.nearest.join_pairs import JoinPairs


def components(edges: list[tuple[str, str]]) -> list[list[str]]:
    """Connected components (two or more nodes) of an undirected graph given by its edges; each sorted,
    largest first, ties by first name."""
    names = sorted({n for edge in edges for n in edge})
    if not names:
        return []
    index = {n: i for i, n in enumerate(names)}
    rows = np.fromiter((index[a] for a, _ in edges), np.int64, len(edges))
    cols = np.fromiter((index[b] for _, b in edges), np.int64, len(edges))
    graph = coo_matrix((np.ones(len(edges), np.int8), (rows, cols)), shape=(len(names), len(names)))
    count, labels = connected_components(graph, directed=False)
    groups: list[list[str]] = [[] for _ in range(count)]
    for name, label in zip(names, labels.tolist(), strict=True):
        groups[label].append(name)
    return sorted((g for g in groups if len(g) > 1), key=lambda g: (-len(g), g[0]))


def join_groups(pairs: JoinPairs) -> list[list[str]]:
    """The groups of the kept pairs of a join, as `set/image` names."""
    return components(pairs.edges())
