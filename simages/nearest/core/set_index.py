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
from simages.extraction.pooling import l2_normalise, signed_sqrt
from simages.extraction.postprocess import Whitening, average_query_expansion, learned_transform
from simages.nearest.core import scores
from simages.nearest.core.query_rows import QueryRows, with_expansion
from simages.store.npz_store import FeatureStore
from simages.training.registry import Head, base_mismatch, load_head, projection_for
from simages.wording import plural

# What a set must hold before something is learned from it: a PCA (or whitening) from fewer images than
# twice the dimensions it keeps is mostly noise, and expanding a key with its 10 nearest images in a set
# of 20 averages half the set. Smaller sets are searched with their stored descriptors as they are.
MIN_IMAGES_PER_LEARNED_DIMENSION = 2
MIN_IMAGES_PER_EXPANSION_NEIGHBOUR = 5
# Whitening without a dimension (`whiten`) keeps every direction the set spans (n - 1 at most), regularised
# by the eigenvalues' mean (postprocess.DEFAULT_SHRINKAGE), so it needs no fixed number of images per
# dimension: on Corel-1k subsets of 20 to 1000 images the similarities of distinct photos come out centred
# on 0 with a spread of 0.05-0.09 whatever the subset (docs/duplicates.md). Below 20 it is left out.
MIN_IMAGES_TO_WHITEN = 20


def applicable_spec(spec: DescriptorSpec, images: int, dimension: int) -> DescriptorSpec:
    """The part of `spec` that a set of `images` vectors of `dimension` values can support."""
    if spec.learned_on_set:
        if spec.whiten and spec.whiten_dim is None and spec.pca_dim is None:
            enough = images >= MIN_IMAGES_TO_WHITEN
        else:
            kept = min(spec.whiten_dim or spec.pca_dim or dimension, dimension)
            enough = images >= MIN_IMAGES_PER_LEARNED_DIMENSION * kept
        if not enough:
            spec = spec.with_(pca=False, pca_dim=None, whiten=False, whiten_dim=None)
    if spec.qe and images < MIN_IMAGES_PER_EXPANSION_NEIGHBOUR * spec.qe_k:
        spec = spec.with_(qe=False)
    return spec


class DescriptorMismatch(ValueError):
    """A descriptor asked for at query time needs other stored vectors than the set's store holds."""


def root_at_load_time(stored: str, wanted: DescriptorSpec) -> bool:
    """Whether `wanted` asks for the signed square root (`sqrt`) that vectors stored with `stored` lack.
    It can be taken when a store is loaded: the root of a vector scaled to unit length is the root of the
    vector, scaled (so `gap+l2` vectors rooted and scaled again are exactly `gap+sqrt+l2` ones)."""
    try:
        spec = DescriptorSpec.parse(stored) if stored else None
    except ValueError:
        return False
    return spec is not None and wanted.sqrt and not spec.sqrt


def check_query_time_change(set_name: str, stored: str, wanted: DescriptorSpec) -> None:
    """Nothing if `wanted` can be applied to vectors stored with descriptor `stored` (they differ at most in
    the square root, PCA, whitening or query expansion); DescriptorMismatch telling how to re-index
    otherwise."""
    try:
        stored_key = DescriptorSpec.parse(stored).extraction_key() if stored else ""
    except ValueError:
        stored_key = stored
    comparable = wanted.with_(sqrt=False) if root_at_load_time(stored, wanted) else wanted
    if stored_key != comparable.extraction_key():
        raise DescriptorMismatch(
            f"set {set_name!r} was indexed with descriptor {stored or 'unknown'!r}, whose stored vectors are "
            f"{stored_key or 'unknown'!r}; descriptor {wanted.key()!r} needs {wanted.extraction_key()!r} "
            f"vectors, so the set must be re-indexed: `simages --descriptor {wanted.key()} index {set_name}`"
        )


def rooted(vectors: np.ndarray) -> np.ndarray:
    """Signed square root of each component, then unit length (power normalisation, as `sqrt` + `l2`)."""
    return np.ascontiguousarray(l2_normalise(signed_sqrt(scores.as_float32_rows(vectors))), dtype=np.float32)


def project_rows(rows: np.ndarray, root: bool, whitening: Whitening | None) -> np.ndarray:
    """Stored-style rows (m, d) float32 in a join space: the signed square root and unit length when
    `root`, then `whitening` (centre, project, unit length) when there is one: (m, r). The one place this
    is done, for a set's own space (`SetIndex.project`) and for an ANN index's frozen copy of it
    (`simages.nearest.ann.space`)."""
    if root:
        rows = rooted(rows)
    return whitening.apply(rows) if whitening is not None else rows


def _head_for(set_name: str, spec: DescriptorSpec | None, stored: str, features: Path | None) -> Head | None:
    """The trained head `spec` names (None for none), after checking it was trained on the vectors this set
    stores: DescriptorMismatch saying so otherwise, HeadError when it is missing or damaged."""
    if spec is None or spec.head is None:
        return None
    if features is None:
        projection_for(spec, None)  # raises HeadError: nowhere to look
    head = load_head(features, spec.head)
    try:
        stored_key = DescriptorSpec.parse(stored).extraction_key() if stored else ""
    except ValueError:
        stored_key = stored
    problem = base_mismatch(head, set_name, stored_key)
    if problem:
        raise DescriptorMismatch(problem)
    return head


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
    # Signed square root and unit length applied to stored vectors before anything else (a `sqrt` asked for
    # at query time on a store without it: see root_at_load_time).
    root: bool = False
    # Where `whitening` was learned when not on this set, in words ("on all your indexed photos
    # together...": the duplicates space, simages.copies.space); "" for this set's own.
    whitened_on: str = ""
    vectors: np.ndarray = field(init=False)
    inv_norms: np.ndarray = field(init=False)
    sq_norms: np.ndarray = field(init=False)
    name_rank: np.ndarray = field(init=False)
    max_sq_norm: float = field(init=False)
    # Neighbours averaged into each key (average query expansion), 0 for none; read from `applied` once.
    expansion: int = field(init=False)
    _rows: dict[str, int] | None = field(init=False, repr=False)
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
        self._rows = None  # built on first use: a million names take ~0.5 s, most of opening a mapped copy

    @classmethod
    def from_store(
        cls,
        set_name: str,
        store: FeatureStore,
        source: tuple[int, int, int] | None = None,
        descriptor: DescriptorSpec | None = None,
        features: Path | None = None,
        whitening: Whitening | None = None,
    ) -> SetIndex:
        """The index of a store, with the store's own descriptor or with `descriptor`, which may differ from
        it only in the parts applied at load and query time (PCA, whitening, a trained head, expansion):
        DescriptorMismatch (a ValueError saying to re-index) when it needs other stored vectors. A trained
        head (`head:NAME`) is read from `features`/heads/; HeadError when it is missing or damaged.

        `whitening`: a whitening learned elsewhere (the collection's duplicates space,
        simages.copies.space) used instead of one learned on this set when the descriptor whitens (and
        has no head); it then applies whatever the set's size."""
        # "descriptor_spec" is the full spec including load-time steps such as whitening;
        # "descriptor" is the part that shaped the stored vectors.
        stored = str(store.meta.get("descriptor_spec") or store.meta.get("descriptor", ""))
        descriptor_text = descriptor.key() if descriptor is not None else stored
        try:
            spec = DescriptorSpec.parse(descriptor_text) if descriptor_text else None
        except ValueError:
            spec = None
        head = _head_for(set_name, spec, stored, features)
        if descriptor is not None:
            check_query_time_change(set_name, stored, descriptor)
        given = whitening is not None and spec is not None and spec.whiten and head is None
        if given:
            applied = spec
        else:
            applied = applicable_spec(spec, len(store.names), store.dimension) if spec is not None else None
        root = descriptor is not None and root_at_load_time(stored, descriptor)
        if not given:
            learn_on = rooted(store.vectors) if root else store.vectors
            projection = head.projection if head is not None else None
            whitening = learned_transform(applied, learn_on, projection) if applied is not None else None
        names = list(store.names)
        applied_key = applied.key() if applied else ""
        return cls(set_name, names, store.vectors, descriptor_text, whitening, source, applied_key, root=root)

    def key_descriptor(self) -> DescriptorSpec | None:
        """The descriptor an outside key must be described with to be compared with this set: the set's
        descriptor, less the square root this index takes itself when a store is loaded (`root`)."""
        try:
            spec = DescriptorSpec.parse(self.descriptor) if self.descriptor else None
        except ValueError:
            return None
        return spec.with_(sqrt=False) if spec is not None and self.root else spec

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
    ) -> tuple[QueryRows, int]:
        """One raw key as (1, d) query rows in this set's space, and the row of `exclude` (-1 when it is
        None or not in the set): the key does not expand with that row, and the caller leaves it out."""
        own_row = self._row_map().get(exclude, -1) if exclude is not None else -1
        query = self.query_rows(self.project(key_vector), metric, np.array([own_row]), expand=expand)
        return query, own_row

    def query_rows(
        self,
        projected: np.ndarray,
        metric: str,
        exclude_rows: np.ndarray | None = None,
        *,
        expand: bool = True,
    ) -> QueryRows:
        """Keys as joins score them (see simages.nearest.core.query_rows): the projected keys, and with query
        expansion also their expanded form; an image's score is the better of the two."""
        projected = scores.as_float32_rows(projected)
        if not self.expansion_for(expand) or not len(self):
            return QueryRows(projected)
        return with_expansion(projected, self.queries(projected, metric, exclude_rows, expand=expand))

    def queries(
        self,
        projected: np.ndarray,
        metric: str,
        exclude_rows: np.ndarray | None = None,
        *,
        expand: bool = True,
    ) -> np.ndarray:
        """Keys in this set's space, expanded with their nearest rows when the descriptor asks for it and
        `expand` is on (a query may switch expansion off: see QuerySpec.expand). Joins score with
        `query_rows`, which keeps the key itself beside its expansion.

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
            text = DescriptorSpec.parse(self.applied).explain(expand, self.whitened_on)
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
                f"descriptor has {plural(rows.shape[1], 'dimension')} "
                f"but set {self.set_name!r} holds {self.dimension}"
            )
        return project_rows(rows, self.root, self.whitening)

    def row_of(self, image: str) -> int:
        try:
            return self._row_map()[image]
        except KeyError:
            raise LookupError(f"no image {image!r} in the index of set {self.set_name!r}") from None

    def __contains__(self, image: object) -> bool:
        return image in self._row_map()

    def _row_map(self) -> dict[str, int]:
        # Two threads may build it at once: both build the same map, and the assignment is atomic.
        if self._rows is None:
            self._rows = {name: i for i, name in enumerate(self.names)}
        return self._rows

    def raw_vector(self, image: str) -> np.ndarray:
        return self.raw[self.row_of(image)]
