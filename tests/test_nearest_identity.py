"""Identity: an exact copy of a key ranks first and scores >= 0.999 (distance ~0), for every descriptor
option, both metrics, sets of 2 to a few hundred images, with and without query expansion, in key x set
queries and in set joins. Vectors are clustered like photo classes, so expansion really moves the keys."""

from __future__ import annotations

import numpy as np
import pytest

from simages.nearest import QuerySpec, SetIndex, iter_set_join, key_join
from simages.nearest.core.intents import DUPLICATES
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore

DESCRIPTORS = (
    "gap+l2",
    "gap+l2+pca128",
    "gap+l2+pca128+qe10",
    "gap+l2+qe10",
    "gap+l2+qe3",
    "gap+l2+whiten",
    "gap+l2+whiten128",
    "gap+l2+pca+qe5",
    "gap+qe5",
    DUPLICATES.descriptor("gap+l2").key(),
)
SIZES = (2, 11, 55, 300)


def clustered(n: int, seed: int, d: int = 160) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.abs(rng.standard_normal((8, d))) ** 2
    x = centres[rng.integers(0, 8, n)] + 0.6 * np.abs(rng.standard_normal((n, d)))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def index_of(name: str, vectors: np.ndarray, descriptor: str) -> SetIndex:
    names = [f"img{i:04d}.jpg" for i in range(len(vectors))]
    stored = "gap" if descriptor == "gap+qe5" else "gap+l2"
    store = FeatureStore(names, [Fingerprint(1, 1)] * len(names), vectors, {"descriptor": stored})
    return SetIndex.from_store(name, store, descriptor=_parse(descriptor))


def _parse(text: str):
    from simages.extraction.descriptor_spec import DescriptorSpec

    return DescriptorSpec.parse(text)


def assert_copy_first(matches, copy: str, metric: str) -> None:
    assert matches, "no result"
    assert matches[0].image == copy, [(m.image, m.score) for m in matches[:3]]
    if metric == "cosine":
        assert matches[0].score >= 0.999
    else:
        assert matches[0].score <= 1e-3 * max(1.0, abs(matches[-1].score))


@pytest.mark.parametrize("descriptor", DESCRIPTORS)
@pytest.mark.parametrize("size", SIZES)
def test_an_exact_copy_ranks_first_in_key_queries_and_joins(descriptor, size):
    vectors = clustered(size, seed=size)
    if descriptor == "gap+qe5":
        vectors = vectors * np.linspace(1, 5, size, dtype=np.float32)[:, None]  # lengths vary, as without l2
    target = size // 2
    index = index_of("s", vectors, descriptor)
    doubled = index_of("d", np.vstack([vectors, vectors[target : target + 1]]), descriptor)
    copy_name = doubled.names[-1]
    single = index_of("one", vectors[target : target + 1], descriptor)
    for metric in ("cosine", "euclidean"):
        for expand in (True, False):
            knn = QuerySpec(metric, "knn", min(5, size), expand)
            # key x set: the copy as an outside file (its descriptor equals the stored one)
            result = key_join(index, vectors[target].copy(), knn)
            assert_copy_first(result.matches, index.names[target], metric)
            # key x set: a stored key of the set itself, its copy under another name in the set
            result = key_join(doubled, doubled.raw_vector(doubled.names[target]), knn,
                              exclude=doubled.names[target])
            assert_copy_first(result.matches, copy_name, metric)
            # the self-join of that set, and a join from a one-image set holding the copy
            joined = dict(iter_set_join(doubled, doubled, knn))
            assert_copy_first(joined[doubled.names[target]], copy_name, metric)
            assert_copy_first(joined[copy_name], doubled.names[target], metric)
            (_, matches), = iter_set_join(single, index, knn)
            assert_copy_first(matches, index.names[target], metric)
