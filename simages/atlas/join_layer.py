"""A set join drawn on one map: the images of A and of B, the passing pairs as edges, the duplicate groups
(connected components of the pairs) and the images of B that match nothing in A ("new in B").

Both sets are mapped together in the searched set's space (A's rows projected as B's index projects any
key), so a pair's two points lie near each other exactly when the join found them alike. The map of the
union is kept in `features/.atlas/` like a set's (see `cache`), keyed by the content of both sets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simages.atlas.cache import MapCache, SetMap, cached_map, compute_map, refresh_map
from simages.nearest.core.results import Pair
from simages.nearest.duplicates.exact import linked_groups


@dataclass
class JoinLayer:
    """The join on its map. `edges` are (row in A, row in B, score), one per passing pair, in the join's
    order; `groups` the duplicate groups as lists of ("a" | "b", row), largest first; `new_in_b` the rows of
    B in no pair."""

    a_set: str
    b_set: str
    a_names: list[str]
    b_names: list[str]
    a_coords: np.ndarray  # (na, 2)
    b_coords: np.ndarray  # (nb, 2)
    edges: list[tuple[int, int, float]]
    groups: list[list[tuple[str, int]]]
    new_in_b: list[int]
    method: str


def union_name(a_set: str, b_set: str) -> str:
    """The name the union of two sets' rows is cached under (beside the sets' own maps)."""
    return f"join~{a_set}~{b_set}"


def union_rows(a_names: list[str], a_rows: np.ndarray, b_names: list[str], b_rows: np.ndarray
               ) -> tuple[list[str], np.ndarray]:
    """Names ("a/…", "b/…") and rows of both sets, A first."""
    names = [f"a/{n}" for n in a_names] + [f"b/{n}" for n in b_names]
    return names, np.vstack([np.asarray(a_rows, np.float32), np.asarray(b_rows, np.float32)])


def union_map(features: Path, a_set: str, b_set: str, names: list[str], rows: np.ndarray, *,
              compute: bool, maps: MapCache | None = None) -> SetMap:
    """The cached map of the union when current; else, with `compute`, fitted and kept through `maps`
    (UMAP when available), and otherwise an instant PCA that is not kept."""
    cache_name = union_name(a_set, b_set)
    found = cached_map(features, cache_name, names, rows, maps)
    if found is not None:
        return found
    if compute:
        return refresh_map(features, cache_name, names, rows, maps)[0]
    return compute_map(names, rows, method="pca")[0]


def join_layer(a_set: str, b_set: str, a_names: list[str], b_names: list[str], coords: SetMap,
               pairs: Iterable[Pair], *, self_join: bool = False) -> JoinLayer:
    """The layer of a join on the map `coords` of the union (names "a/…", "b/…"; for a self-join the set's
    own map, names unprefixed). `pairs` name images of A (`a`) and of B (`b`)."""
    where = {name: i for i, name in enumerate(coords.names)}
    if self_join:
        a_rows = np.array([where[n] for n in a_names], dtype=np.int64)
        b_rows = a_rows
    else:
        a_rows = np.array([where[f"a/{n}"] for n in a_names], dtype=np.int64)
        b_rows = np.array([where[f"b/{n}"] for n in b_names], dtype=np.int64)
    a_index = {n: i for i, n in enumerate(a_names)}
    b_index = {n: i for i, n in enumerate(b_names)}
    pairs = list(pairs)
    edges = [(a_index[p.a], b_index[p.b], float(p.score)) for p in pairs]
    matched = {j for _, j, _ in edges}
    if self_join:
        matched |= {i for i, _, _ in edges}
    nodes = linked_groups(Pair(f"a/{p.a}", f"b/{p.b}" if not self_join else f"a/{p.b}", p.score)
                             for p in pairs)
    groups = [[(("a" if node.startswith("a/") else "b"),
                (a_index if node.startswith("a/") else b_index)[node[2:]]) for node in group]
              for group in nodes]
    return JoinLayer(a_set, b_set, list(a_names), list(b_names),
                     coords.coords[a_rows] if len(a_rows) else np.zeros((0, 2), np.float32),
                     coords.coords[b_rows] if len(b_rows) else np.zeros((0, 2), np.float32),
                     edges, groups, [j for j in range(len(b_names)) if j not in matched], coords.method)
