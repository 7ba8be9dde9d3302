"""The atlas use case: a set's images (or a join's) on a 2-D map, for the `/atlas` page and `simages atlas`.

The map is read from `features/.atlas/` when it is current (computed after indexing, see
`simages.jobs.derived`); otherwise an instant PCA view is given while the UMAP map is computed in the
background. Points are coloured by sub-folder (the first part of an image's name).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simages.atlas.cache import MapCache, SetMap, cached_map, compute_map, refresh_map
from simages.atlas.join_layer import JoinLayer, join_layer, union_map, union_rows
from simages.atlas.projection import MIN_UMAP_IMAGES, umap_available
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import is_self_join, set_join
from simages.settings import Settings
from simages.wording import plural

TOP_LEVEL = "(top level)"


@dataclass
class SetAtlas:
    """A set's map: `coords` (n, 2) of `names`, each image's sub-folder, how it was made (`method`: "umap"
    or "pca") and whether it is final (`final`: False for the instant PCA shown while UMAP runs)."""

    set_name: str
    names: list[str]
    coords: np.ndarray
    folders: list[str]
    method: str
    final: bool
    seconds: float = 0.0

    def note(self) -> str:
        """One sentence on what the map is, for the page and the CLI."""
        if self.method == "umap":
            return (f"UMAP map of the {plural(len(self.names), 'image')} of {self.set_name}: images whose "
                    "descriptors are alike lie close together; distances between far-apart groups mean "
                    "little.")
        if not self.final:
            return (f"Instant PCA view of {self.set_name} (its two strongest directions) while the UMAP map "
                    "is computed in the background.")
        why = (f"fewer than {plural(MIN_UMAP_IMAGES, 'image')}" if len(self.names) < MIN_UMAP_IMAGES
               else "umap-learn is not installed (pip install 'simages[atlas]')")
        return (f"PCA map of {self.set_name} (its two strongest directions; UMAP is not used: {why}).")


def folder_of(name: str) -> str:
    """The sub-folder an image is coloured by: the first part of its relative name."""
    return name.split("/", 1)[0] if "/" in name else TOP_LEVEL


def wants_umap(images: int) -> bool:
    return umap_available() and images >= MIN_UMAP_IMAGES


def _atlas(index: SetIndex, found: SetMap, final: bool) -> SetAtlas:
    where = {name: i for i, name in enumerate(found.names)}
    rows = np.array([where[n] for n in index.names], dtype=np.int64)
    coords = found.coords[rows] if len(rows) else np.zeros((0, 2), np.float32)
    return SetAtlas(index.set_name, list(index.names), coords, [folder_of(n) for n in index.names],
                    found.method, final, found.seconds)


def kept_set_atlas(settings: Settings, index: SetIndex, maps: MapCache | None = None) -> SetAtlas | None:
    """The set's kept map (its file, or `maps`' memory) when it is current, else None (nothing computed:
    a page polls with it)."""
    found = cached_map(settings.features, index.set_name, index.names, index.vectors, maps)
    return _atlas(index, found, True) if found is not None else None


def set_atlas(settings: Settings, index: SetIndex, maps: MapCache | None = None) -> SetAtlas:
    """The set's map without waiting: the stored one when current, else an instant PCA view (final only
    when UMAP will not be used for this set)."""
    found = cached_map(settings.features, index.set_name, index.names, index.vectors, maps)
    if found is not None:
        return _atlas(index, found, True)
    instant, _ = compute_map(index.names, index.vectors, method="pca")
    return _atlas(index, instant, not wants_umap(len(index)))


def build_set_atlas(settings: Settings, index: SetIndex, maps: MapCache | None = None
                    ) -> tuple[SetAtlas, str]:
    """The set's map brought up to date (fitted, updated or reused: see simages.atlas.cache) and kept
    through `maps` (in memory when `features/` cannot be written); with what was done, in words. Slow for
    a large set: call it in the background."""
    found, done = refresh_map(settings.features, index.set_name, index.names, index.vectors, maps)
    return _atlas(index, found, True), done


def map_rows(index: SetIndex) -> tuple[list[str], np.ndarray]:
    """What a set's atlas maps: its names and its vectors in the searched space (n, r)."""
    return list(index.names), index.vectors


@dataclass
class JoinAtlas:
    layer: JoinLayer
    final: bool
    pairs: int


def join_atlas(settings: Settings, a: SetIndex, b: SetIndex, spec: QuerySpec, *, compute: bool = False,
               limit: int | None = None, maps: MapCache | None = None) -> JoinAtlas:
    """The join of A against B on one map (both sets in B's searched space; a self-join on the set's own
    map). Without `compute` an uncached union map is an instant PCA (`final` False while UMAP would be
    used); with it, it is fitted and kept through `maps`. `limit` caps the matches per key, as the join
    page does."""
    result = set_join(a, b, spec, limit=limit)
    pairs = result.pairs()
    if is_self_join(a, b):
        found = cached_map(settings.features, b.set_name, b.names, b.vectors, maps)
        final = found is not None
        if found is None:
            found = (refresh_map(settings.features, b.set_name, b.names, b.vectors, maps)[0] if compute
                     else compute_map(b.names, b.vectors, method="pca")[0])
            final = compute or not wants_umap(len(b))
        layer = join_layer(a.set_name, b.set_name, a.names, b.names, found, pairs, self_join=True)
        return JoinAtlas(layer, final, len(pairs))
    names, rows = union_rows(a.names, b.project(a.raw), b.names, b.vectors)
    found = union_map(settings.features, a.set_name, b.set_name, names, rows, compute=compute, maps=maps)
    final = found.method == "umap" or not wants_umap(len(names))
    layer = join_layer(a.set_name, b.set_name, a.names, b.names, found, pairs)
    return JoinAtlas(layer, final, len(pairs))


def locate(atlas: SetAtlas, images: Sequence[str]) -> list[tuple[str, float, float]]:
    """(image, x, y) of these images on the map, in their order; images not on it are left out."""
    where = {name: i for i, name in enumerate(atlas.names)}
    return [(n, float(atlas.coords[where[n], 0]), float(atlas.coords[where[n], 1])) for n in images
            if n in where]


def nearest_to_selection(index: SetIndex, selected: Sequence[str], k: int = 24) -> list[tuple[str, float]]:
    """The images of the set most like a key set (a lasso selection): each image scored by its best cosine
    similarity to any selected image, in the searched space; the selected images left out; best first, then
    by name. LookupError for a name not in the set; ValueError for an empty selection."""
    if not selected:
        raise ValueError("select at least one image")
    rows = np.array([index.row_of(n) for n in selected], dtype=np.int64)
    vectors = index.vectors * index.inv_norms[:, None]
    scores = (vectors @ vectors[rows].T).max(axis=1)
    scores[rows] = -np.inf
    order = sorted(range(len(index)), key=lambda i: (-float(scores[i]), index.names[i]))
    return [(index.names[i], float(scores[i])) for i in order[:k] if np.isfinite(scores[i])]


@dataclass
class HeadAtlas:
    """A set before and after training (issue 28, as seed 002's figures): `before` maps the set's
    untrained descriptor, `after` the same images in the trained head's space (`head`, weights `sha256`)."""

    head: str
    sha256: str
    before: SetAtlas
    after: SetAtlas

    def note(self) -> str:
        method = {self.before.method.upper(), self.after.method.upper()}
        return (f"{' / '.join(sorted(method))} maps of the {plural(len(self.before.names), 'image')} of "
                f"{self.before.set_name}, coloured by sub-folder (the labels): left the untrained "
                f"descriptor, right the trained head {self.head!r}. Classes the head separates sit in "
                "tighter, further-apart groups on the right.")


def head_map_name(set_name: str, head: str, sha256: str) -> str:
    """The name a head-space map is kept under in features/.atlas/: the set, the head and its weights'
    hash, so a retrained head (other weights) never gets the old map."""
    return f"{set_name}.head-{head}-{sha256[:16]}"


def build_head_atlas(settings: Settings, untrained: SetIndex, trained: SetIndex, head: str,
                     maps: MapCache | None = None) -> HeadAtlas:
    """Both maps brought up to date and kept (the set's own, and the head space's keyed by the head's name
    and weights hash). `trained` is the set read with `head:NAME`. HeadError when the head is missing or
    damaged. Slow for a large set: call it in the background."""
    from simages.training.registry import load_head

    sha = str(load_head(settings.features, head).meta.get("sha256", ""))
    before, _ = build_set_atlas(settings, untrained, maps)
    found, _ = refresh_map(settings.features, head_map_name(untrained.set_name, head, sha), trained.names,
                           trained.vectors, maps)
    return HeadAtlas(head, sha, before, _atlas(trained, found, True))
