"""A set's descriptors made ready for joins: post-processed vectors, their norms, and name lookups.

Stored vectors are what extraction produced. If the store's descriptor asks for PCA or whitening, the
transform is learned here on the set itself (that is what those options mean) and applied, followed by a
new L2 normalisation; `project` applies the very same transform to a key from outside the set or to
another set's vectors, so everything compared with this set lives in the same space. With query
expansion (`qe`), `queries` replaces each projected key by the mean of itself and its nearest rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.postprocess import Whitening, average_query_expansion, learned_transform
from simages.nearest import scores
from simages.store.npz_store import FeatureStore

# What a set must hold before something is learned from it: a PCA (or whitening) from fewer images than
# twice the dimensions it keeps is mostly noise, and expanding a key with its 10 nearest images in a set
# of 20 averages half the set. Smaller sets are searched with their stored descriptors as they are.
MIN_IMAGES_PER_LEARNED_DIMENSION = 2
MIN_IMAGES_PER_EXPANSION_NEIGHBOUR = 5


def applicable_spec(spec: DescriptorSpec, images: int, dimension: int) -> DescriptorSpec:
    """The part of `spec` that a set of `images` vectors of `dimension` values can support."""
    if spec.learned_on_set:
        kept = min(spec.whiten_dim or spec.pca_dim or dimension, dimension)
        if images < MIN_IMAGES_PER_LEARNED_DIMENSION * kept:
            spec = spec.with_(pca=False, pca_dim=None, whiten=False, whiten_dim=None)
    if spec.qe and images < MIN_IMAGES_PER_EXPANSION_NEIGHBOUR * spec.qe_k:
        spec = spec.with_(qe=False)
    return spec


def _expansion_of(descriptor: str) -> int:
    try:
        spec = DescriptorSpec.parse(descriptor) if descriptor else None
    except ValueError:
        return 0
    return spec.qe_k if spec is not None and spec.qe else 0


@dataclass(eq=False)
class SetIndex:
    """Immutable by convention once built; shared between threads by the cache."""

    set_name: str
    names: list[str]
    raw: np.ndarray  # stored vectors (n, d)
    descriptor: str
    whitening: Whitening | None = None
    # Identity of the store file this was read from: (mtime_ns, size, inode).
    source: tuple[int, int, int] | None = None
    # The descriptor actually applied: `descriptor` less what the set is too small to learn.
    applied: str = ""
    # The store file it was read from, when it was (the cache sets it): derived files such as the ANN
    # index live beside it.
    store_path: Path | None = None
    # Join-space arrays computed earlier from exactly these raw vectors (vectors, inv_norms, sq_norms,
    # name_rank), e.g. memory-mapped from `store.mmap_store`: taken as they are instead of recomputed.
    derived: dict[str, np.ndarray] | None = field(default=None, repr=False)
    vectors: np.ndarray = field(init=False)
    inv_norms: np.ndarray = field(init=False)
    sq_norms: np.ndarray = field(init=False)
    name_rank: np.ndarray = field(init=False)
    max_sq_norm: float = field(init=False)
    # Neighbours averaged into each key (average query expansion), 0 for none; read from `applied` once.
    expansion: int = field(init=False)
    _rows: dict[str, int] = field(init=False, repr=False)
    # Values derived from the vectors (e.g. default thresholds), valid as long as this index is.
    memo: dict[Any, Any] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.raw = np.ascontiguousarray(self.raw, dtype=np.float32)
        self.applied = self.applied or self.descriptor
        self.expansion = _expansion_of(self.applied)
        if self.raw.ndim != 2 or len(self.raw) != len(self.names):
            shape = self.raw.shape
            raise ValueError(f"set {self.set_name!r}: {len(self.names)} names but vectors of shape {shape}")
        if self.derived is not None:
            self.vectors = self.derived["vectors"]
            self.inv_norms = self.derived["inv_norms"]
            self.sq_norms = self.derived["sq_norms"]
            self.name_rank = self.derived["name_rank"]
            self.derived = None  # the arrays now live in the fields; no second reference to keep
        else:
            self.vectors = self.project(self.raw)
            self.inv_norms = scores.inverse_norms(self.vectors)
            self.sq_norms = scores.squared_norms(self.vectors)
            rank = np.empty(len(self.names), dtype=np.int64)
            rank[np.argsort(np.array(self.names, dtype=object), kind="stable")] = np.arange(len(self.names))
            self.name_rank = rank
        self.max_sq_norm = float(self.sq_norms.max()) if len(self.sq_norms) else 0.0
        self._rows = {name: i for i, name in enumerate(self.names)}

    @classmethod
    def from_store(
        cls, set_name: str, store: FeatureStore, source: tuple[int, int, int] | None = None
    ) -> SetIndex:
        # "descriptor_spec" is the full spec including load-time steps such as whitening;
        # "descriptor" is the part that shaped the stored vectors.
        descriptor = str(store.meta.get("descriptor_spec") or store.meta.get("descriptor", ""))
        try:
            spec = DescriptorSpec.parse(descriptor) if descriptor else None
        except ValueError:
            spec = None
        applied = applicable_spec(spec, len(store.names), store.dimension) if spec is not None else None
        whitening = learned_transform(applied, store.vectors) if applied is not None else None
        names = list(store.names)
        return cls(
            set_name, names, store.vectors, descriptor, whitening, source, applied.key() if applied else ""
        )

    def expansion_left_out(self) -> str | None:
        """Why this set does not expand keys although its descriptor asks for it (too few images), or None."""
        wanted = _expansion_of(self.descriptor)
        if not wanted or self.expansion:
            return None
        needed = MIN_IMAGES_PER_EXPANSION_NEIGHBOUR * wanted
        return f"{self.set_name} has too few images ({len(self)}) for it: it needs at least {needed}"

    def expansion_for(self, expand: bool = True) -> int:
        """Neighbours a query averages into its key: `expansion` when `expand` is on, else 0."""
        return self.expansion if expand else 0

    def key_query(
        self, key_vector: np.ndarray, metric: str, exclude: str | None = None, *, expand: bool = True
    ) -> tuple[np.ndarray, int]:
        """One raw key as a (1, d) query in this set's space, and the row of `exclude` (-1 when it is None
        or not in the set): the key does not expand with that row, and the caller leaves it out."""
        own_row = self._rows.get(exclude, -1) if exclude is not None else -1
        query = self.queries(self.project(key_vector), metric, np.array([own_row]), expand=expand)
        return query, own_row

    def queries(
        self,
        projected: np.ndarray,
        metric: str,
        exclude_rows: np.ndarray | None = None,
        *,
        expand: bool = True,
    ) -> np.ndarray:
        """Keys in this set's space, expanded with their nearest rows when the descriptor asks for it and
        `expand` is on (a query may switch expansion off: see QuerySpec.expand).

        `exclude_rows` gives, per key, its own row in this set (-1 if it is not part of it): a key must not
        expand with itself, or a self-join would weigh it twice."""
        k = self.expansion_for(expand)
        if not k or not len(self):
            return projected
        return average_query_expansion(projected, self.vectors, k, exclude_rows, metric)

    def explain(self, expand: bool = True) -> str:
        """The descriptor the joins apply, in words, and what a set too small to learn from leaves out."""
        if not self.applied:
            return ""
        try:
            text = DescriptorSpec.parse(self.applied).explain(expand)
        except ValueError:
            return self.applied
        if self.applied != self.descriptor:
            text += (
                f" {self.set_name} has too few images ({len(self):,}) to learn the rest of its descriptor "
                f"({self.descriptor}), so that part is left out."
            )
        return text

    def __len__(self) -> int:
        return len(self.names)

    @property
    def dimension(self) -> int:
        """Dimension of the stored (raw) vectors, the one a key must have."""
        return int(self.raw.shape[1])

    def project(self, raw: np.ndarray) -> np.ndarray:
        """Map stored-style vectors (one or many rows) into this set's join space."""
        rows = scores.as_float32_rows(raw)
        if rows.shape[1] != self.dimension:
            raise ValueError(
                f"descriptor has {rows.shape[1]} dimensions but set {self.set_name!r} holds {self.dimension}"
            )
        return self.whitening.apply(rows) if self.whitening is not None else rows

    def row_of(self, image: str) -> int:
        try:
            return self._rows[image]
        except KeyError:
            raise LookupError(f"no image {image!r} in the index of set {self.set_name!r}") from None

    def __contains__(self, image: object) -> bool:
        return image in self._rows

    def raw_vector(self, image: str) -> np.ndarray:
        return self.raw[self.row_of(image)]
