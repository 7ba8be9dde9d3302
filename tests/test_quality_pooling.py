"""Each descriptor option: its shape, its invariants, and its text form."""

from __future__ import annotations

import numpy as np
import pytest

from simages.evaluation.leave_one_out import set_vectors
from simages.extraction.describe import describe_images
from simages.extraction.descriptor_spec import DEFAULT_DESCRIPTOR, DEFAULT_QE_K, DescriptorSpec
from simages.extraction.network import TinyNetwork
from simages.extraction.pooling import pool, rmac_regions


@pytest.fixture
def maps() -> np.ndarray:
    # ReLU-like: non-negative with many zeros, as VGG-16's last convolutional map.
    rng = np.random.default_rng(0)
    return np.maximum(rng.normal(0, 1, (5, 7, 7, 512)), 0).astype(np.float32)


@pytest.mark.parametrize(
    ("text", "dimension"),
    [("flat", 25088), ("gap", 512), ("max", 512), ("gem3", 512), ("rmac", 512), ("gem3+sqrt+l2", 512)],
)
def test_every_pooling_gives_one_vector_per_image(maps: np.ndarray, text: str, dimension: int) -> None:
    spec = DescriptorSpec.parse(text)
    vectors = pool(maps, spec)
    assert vectors.shape == (5, dimension) == (5, spec.dimension)
    assert vectors.dtype == np.float32


def test_flat_keeps_the_whole_map_in_order(maps: np.ndarray) -> None:
    assert np.array_equal(pool(maps, DescriptorSpec("flat")).reshape(maps.shape), maps)


def test_average_pooling_of_a_constant_map_is_that_constant() -> None:
    constant = np.full((2, 7, 7, 512), 3.5, np.float32)
    assert np.allclose(pool(constant, DescriptorSpec("gap")), 3.5)
    assert np.allclose(pool(constant, DescriptorSpec("max")), 3.5)
    assert np.allclose(pool(constant, DescriptorSpec("gem", gem_p=3)), 3.5, rtol=1e-5)


def test_gem_lies_between_average_and_max_and_p1_is_average(maps: np.ndarray) -> None:
    gap = pool(maps, DescriptorSpec("gap"))
    peak = pool(maps, DescriptorSpec("max"))
    gem3 = pool(maps, DescriptorSpec("gem", gem_p=3))
    assert np.all(peak >= gap)
    assert np.all(gem3 >= gap - 1e-5) and np.all(gem3 <= peak + 1e-5)
    assert np.allclose(pool(maps, DescriptorSpec("gem", gem_p=1)), gap, atol=1e-5)
    # A large exponent approaches the maximum.
    assert np.allclose(pool(maps, DescriptorSpec("gem", gem_p=60)), peak, rtol=0.1)


def test_rmac_regions_on_the_7x7_map() -> None:
    regions = rmac_regions(7, 7)
    sides = [side for _, _, side in regions]
    assert sides.count(7) == 1 and sides.count(4) == 4 and sides.count(3) == 9
    covered = np.zeros((7, 7), bool)
    for top, left, side in regions:
        assert min(top, left) >= 0 and max(top, left) + side <= 7
        covered[top : top + side, left : left + side] = True
    assert covered.all()


def test_rmac_is_unit_length_and_ignores_the_map_scale(maps: np.ndarray) -> None:
    vectors = pool(maps, DescriptorSpec("rmac"))
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(pool(maps * 7.0, DescriptorSpec("rmac")), vectors, atol=1e-5)


def test_rmac_sees_a_small_object_that_average_pooling_dilutes() -> None:
    # One strong cell in a corner: R-MAC gives its channel a clearly larger share than GAP does.
    base = np.full((1, 7, 7, 512), 0.1, np.float32)
    base[0, 0, 0, 7] = 5.0
    share = lambda v: v[0, 7] / np.linalg.norm(v[0])  # noqa: E731
    assert share(pool(base, DescriptorSpec("rmac"))) > 2 * share(pool(base, DescriptorSpec("gap", l2=True)))


def test_sqrt_and_l2(maps: np.ndarray) -> None:
    gap = pool(maps, DescriptorSpec("gap"))
    assert np.allclose(pool(maps, DescriptorSpec("gap", sqrt=True)), np.sqrt(gap), atol=1e-6)
    normalised = pool(maps, DescriptorSpec("gap", sqrt=True, l2=True))
    assert np.allclose(np.linalg.norm(normalised, axis=1), 1.0, atol=1e-5)


def test_flip_averaging_gives_an_image_and_its_mirror_the_same_descriptor() -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    mirrored = np.ascontiguousarray(images[:, :, ::-1])
    network = TinyNetwork()
    spec = DescriptorSpec.parse("gem3+sqrt+flip+l2")
    descriptors = describe_images(network, images, spec)
    assert np.allclose(descriptors, describe_images(network, mirrored, spec), atol=1e-5)
    # Without flip the two differ: the test above is not vacuous.
    plain = spec.with_(flip=False)
    assert not np.allclose(describe_images(network, images, plain), describe_images(network, mirrored, plain))


def test_set_vectors_flip_is_symmetric_in_the_two_map_sets(maps: np.ndarray) -> None:
    other = maps[::-1].copy()
    spec = DescriptorSpec.parse("gap+flip+l2")
    assert np.allclose(set_vectors(maps, other, spec), set_vectors(other, maps, spec), atol=1e-6)
    with pytest.raises(ValueError):
        set_vectors(maps, None, spec)


def test_whitened_set_vectors_are_unit_length_and_reduced(maps: np.ndarray) -> None:
    vectors = set_vectors(maps, None, DescriptorSpec.parse("gap+l2+whiten3"))
    assert vectors.shape == (5, 3)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "text",
    [
        "flat",
        "gap+l2",
        "gem3+sqrt+flip+l2+whiten",
        "gem2.5+l2+whiten256+qe10",
        "rmac+sqrt+l2+qe5",
        "gap+l2+pca128+qe10",
    ],
)
def test_spec_text_round_trips(text: str) -> None:
    assert DescriptorSpec.parse(text).key() == text


def test_spec_parts_that_do_not_shape_stored_vectors_do_not_change_the_store_key() -> None:
    spec = DescriptorSpec.parse("gem3+sqrt+flip+l2+whiten256+qe5")
    assert spec.whiten_dim == 256 and spec.qe and spec.qe_k == 5
    assert spec.extraction_key() == "gem3+sqrt+flip+l2"
    assert DescriptorSpec.parse("gap+l2+pca128+qe").extraction_key() == "gap+l2"
    assert DescriptorSpec.parse("gap+l2+qe").qe_k == DEFAULT_QE_K


@pytest.mark.parametrize("text", ["gap+blur", "avg", "gem3+qe0", "gap+pca0", "gap+whiten0", ""])
def test_bad_specs_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        DescriptorSpec.parse(text)


def test_default_descriptor_is_compact_enough_for_fast_joins() -> None:
    assert DescriptorSpec.parse(DEFAULT_DESCRIPTOR.key()) == DEFAULT_DESCRIPTOR
    assert DEFAULT_DESCRIPTOR.pooling != "flat"
