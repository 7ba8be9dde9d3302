"""PCA whitening learned on a set, and average query expansion."""

from __future__ import annotations

import numpy as np
import pytest

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.postprocess import (
    average_query_expansion,
    learn_pca,
    learn_whitening,
    learned_transform,
)


@pytest.fixture
def correlated() -> np.ndarray:
    rng = np.random.default_rng(0)
    mixing = rng.normal(0, 1, (16, 16)) * np.linspace(3, 0.2, 16)[None, :]
    return (rng.normal(0, 1, (400, 16)) @ mixing + 5).astype(np.float32)


def test_whitening_decorrelates_its_training_vectors(correlated: np.ndarray) -> None:
    whitening = learn_whitening(correlated, shrinkage=0.0)
    covariance = np.cov(whitening.project(correlated), rowvar=False)
    assert np.allclose(covariance, np.eye(16), atol=1e-3)
    # Shrinkage damps the weakest directions but still decorrelates.
    shrunk = np.cov(learn_whitening(correlated).project(correlated), rowvar=False)
    assert np.allclose(shrunk - np.diag(np.diag(shrunk)), 0, atol=1e-3)
    assert np.all(np.diag(shrunk) < 1) and np.all(np.diff(np.diag(shrunk)) <= 1e-6)


def test_whitening_keeps_the_strongest_directions_and_unit_length(correlated: np.ndarray) -> None:
    whitening = learn_whitening(correlated, dim=4)
    out = whitening.apply(correlated)
    assert out.shape == (400, 4)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_whitening_a_set_smaller_than_the_dimension_stays_finite() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(0, 1, (5, 64)).astype(np.float32)
    whitening = learn_whitening(vectors)
    assert whitening.dimension == 4  # five points span four directions
    out = whitening.apply(vectors)
    assert np.all(np.isfinite(out))
    # Distinct images stay distinct after whitening.
    assert np.all(np.abs(out @ out.T - np.eye(5)) < 0.999)


def test_pca_keeps_the_strongest_directions_without_rescaling(correlated: np.ndarray) -> None:
    full = learn_pca(correlated)
    projected = full.project(correlated)
    # A rotation of the centred vectors: distances between images are unchanged.
    centred = correlated - correlated.mean(axis=0)
    assert np.allclose(np.linalg.norm(projected, axis=1), np.linalg.norm(centred, axis=1), rtol=1e-4)
    variances = projected.var(axis=0)
    assert np.all(np.diff(variances) <= 1e-3)  # strongest direction first
    reduced = learn_pca(correlated, dim=3).apply(correlated)
    assert reduced.shape == (400, 3)
    assert np.allclose(np.linalg.norm(reduced, axis=1), 1.0, atol=1e-5)


def test_the_spec_chooses_the_transform_learned_on_the_set(correlated: np.ndarray) -> None:
    assert learned_transform(DescriptorSpec.parse("gap+l2"), correlated) is None
    assert learned_transform(DescriptorSpec.parse("gap+l2+pca4"), correlated).dimension == 4
    whitening = learned_transform(DescriptorSpec.parse("gap+l2+whiten"), correlated)
    assert whitening.dimension == 16
    assert np.allclose(whitening.projection, learn_whitening(correlated).projection)
    # Whitening includes PCA: added to a `pca` spec, it whitens within the PCA's dimensions.
    both = learned_transform(DescriptorSpec.parse("gap+l2+pca4+whiten"), correlated)
    assert np.allclose(both.projection, learn_whitening(correlated, dim=4).projection)


@pytest.mark.parametrize("rows", [0, 1])
def test_too_small_sets_get_the_identity(rows: int) -> None:
    vectors = np.ones((rows, 8), np.float32)
    whitening = learn_whitening(vectors)
    probe = np.arange(8, dtype=np.float32)[None, :]
    assert np.allclose(whitening.project(probe), probe)


def test_identical_vectors_get_the_identity() -> None:
    vectors = np.tile(np.arange(1, 9, dtype=np.float32), (4, 1))
    assert np.allclose(learn_whitening(vectors).projection, np.eye(8))


def test_query_expansion_averages_the_key_with_its_nearest_neighbours() -> None:
    vectors = np.array([[1, 0], [0.8, 0.6], [0, 1], [-1, 0]], np.float32)
    # Key 0 with k=1 and itself excluded: its nearest other row is row 1.
    expanded = average_query_expansion(vectors[:1], vectors, k=1, exclude=np.array([0]))
    assert np.allclose(expanded, [[0.9, 0.3]])
    # Without the exclusion the key finds itself first.
    assert np.allclose(average_query_expansion(vectors[:1], vectors, k=1), [[1.0, 0.0]])


def test_query_expansion_with_cosine_averages_directions_not_lengths() -> None:
    vectors = np.array([[10, 0], [0, 1], [0.6, 0.8]], np.float32)
    expanded = average_query_expansion(vectors[1:2], vectors, k=1, exclude=np.array([1]))
    assert np.allclose(expanded, [[0.3, 0.9]])  # (0, 1) with (0.6, 0.8), the length of row 0 plays no part


def test_query_expansion_with_more_neighbours_than_rows_uses_all_others() -> None:
    vectors = np.eye(3, dtype=np.float32)
    expanded = average_query_expansion(vectors, vectors, k=10, exclude=np.arange(3))
    assert np.allclose(expanded, np.full((3, 3), 1 / 3))
