"""The fast VGG-16 engines agree with Keras, are chosen sensibly, and the decoder streams safely."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from imagegen import photo, save

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.images import load_for_network
from simages.extraction.ncnn_vgg import NcnnVGG16, ncnn_model
from simages.extraction.network import build_engine, load_network
from simages.extraction.openvino_vgg import OpenVinoVGG16, openvino_available
from simages.extraction.pipeline import iter_decoded_batches
from simages.extraction.pooling import pool
from simages.extraction.torch_vgg import TorchVGG16, choose_precision, conv_weights_from_keras, native_bf16

GAP_L2 = DescriptorSpec(pooling="gap", l2=True)
FLAT = DescriptorSpec(pooling="flat", l2=True)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (pool(a, FLAT) * pool(b, FLAT)).sum(axis=1), (pool(a, GAP_L2) * pool(b, GAP_L2)).sum(axis=1)


@pytest.fixture(scope="module")
def random_keras():
    """Keras' own VGG-16 with random weights: the same architecture, no weights file needed."""
    import keras

    keras.utils.set_random_seed(0)
    return keras.applications.VGG16(include_top=False, weights=None, input_shape=(224, 224, 3))


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    return np.stack([np.asarray(photo(seed, (224, 224)), dtype=np.uint8) for seed in range(3)])


@pytest.fixture(scope="module")
def keras_maps(random_keras, photos) -> np.ndarray:
    from keras.applications.vgg16 import preprocess_input

    return np.asarray(random_keras.predict(preprocess_input(photos.astype(np.float32)), verbose=0))


def test_ncnn_path_matches_keras_predict(random_keras, photos, keras_maps):
    """ncnn's Winograd convolutions in fp32: the same maps as Keras, to fp32 rounding."""
    fast = NcnnVGG16(conv_weights_from_keras(random_keras)).maps(photos)
    assert fast.shape == (3, 7, 7, 512) and fast.dtype == np.float32
    np.testing.assert_allclose(fast, keras_maps, rtol=1e-4, atol=1e-5 * np.abs(keras_maps).max())


def test_ncnn_model_is_vgg16s_conv_stack(random_keras):
    model = ncnn_model(conv_weights_from_keras(random_keras))
    kinds = [line.split()[0] for line in model.param.splitlines()[2:]]
    assert kinds.count("Convolution") == 13 and kinds.count("Pooling") == 5 and kinds[0] == "Input"
    assert model.output == "block5_conv3_pool"
    # 14.7M fp32 weights and biases, plus one 4-byte format tag per kernel
    assert len(model.weights) == 4 * (14_714_688 + 13)


def test_ncnn_refuses_an_image_of_the_wrong_size(random_keras):
    network = NcnnVGG16(conv_weights_from_keras(random_keras), workers=1)
    with pytest.raises(ValueError, match="224x224"):
        network.maps(np.zeros((1, 100, 224, 3), dtype=np.uint8))
    assert network.maps(np.zeros((0, 224, 224, 3), dtype=np.uint8)).shape == (0, 7, 7, 512)


@pytest.mark.skipif(not openvino_available(), reason="OpenVINO not installed (optional)")
def test_openvino_fp32_path_matches_keras_predict(random_keras, photos, keras_maps):
    network = OpenVinoVGG16(conv_weights_from_keras(random_keras), precision="fp32")
    fast = network.maps(photos)
    assert fast.shape == (3, 7, 7, 512) and fast.dtype == np.float32 and "openvino" in network.description
    np.testing.assert_allclose(fast, keras_maps, rtol=1e-4, atol=1e-4 * np.abs(keras_maps).max())
    np.testing.assert_array_equal(network.maps(photos[1:2]), fast[1:2])  # alone or in a batch: the same
    with pytest.raises(ValueError, match="224x224"):
        network.maps(np.zeros((1, 100, 224, 3), dtype=np.uint8))


def test_torch_fp32_path_matches_keras_predict(random_keras, photos, keras_maps):
    fast = TorchVGG16(conv_weights_from_keras(random_keras), precision="fp32").maps(photos)
    assert fast.shape == (3, 7, 7, 512) and fast.dtype == np.float32
    np.testing.assert_allclose(fast, keras_maps, rtol=1e-4, atol=1e-4 * np.abs(keras_maps).max())


@pytest.mark.skipif(native_bf16() is None, reason="CPU without native bf16: the fast path is fp32 here")
def test_bf16_descriptors_agree_with_fp32(random_keras, photos):
    convs = conv_weights_from_keras(random_keras)
    exact = TorchVGG16(convs, precision="fp32").maps(photos)
    fast = TorchVGG16(convs, precision="bf16")
    assert fast.precision == "bf16" and "bf16" in fast.description
    flat, gap = cosines(fast.maps(photos), exact)
    assert flat.min() >= 0.999 and gap.min() >= 0.999


def test_fp32_is_forced_by_environment(monkeypatch, random_keras):
    monkeypatch.setenv("SIMAGES_PRECISION", "fp32")
    assert choose_precision() == "fp32"
    network = TorchVGG16(conv_weights_from_keras(random_keras))
    assert network.precision == "fp32" and "fp32" in network.description
    monkeypatch.setenv("SIMAGES_PRECISION", "half")
    with pytest.raises(ValueError, match="SIMAGES_PRECISION"):
        choose_precision()


def test_chunks_give_the_same_maps_as_one_batch(random_keras, photos):
    network = TorchVGG16(conv_weights_from_keras(random_keras), precision="fp32", chunk=2)
    together = network.maps(photos)
    alone = np.concatenate([network.maps(photos[i : i + 1]) for i in range(3)])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-5 * np.abs(together).max())
    assert network.maps(photos[:0]).shape == (0, 7, 7, 512)


def test_the_environment_forces_an_engine_and_a_bad_value_is_named(monkeypatch, random_keras, tmp_path):
    import simages.extraction.conv_cache as conv_cache

    convs = conv_weights_from_keras(random_keras)
    monkeypatch.setattr(conv_cache, "vgg16_convs", lambda weights, folder: convs)
    monkeypatch.setenv("SIMAGES_ENGINE", "torch")
    monkeypatch.setenv("SIMAGES_PRECISION", "fp32")
    network = load_network(None, cache_folder=tmp_path)
    assert isinstance(network, TorchVGG16) and network.precision == "fp32"
    assert network.description.endswith("[forced by SIMAGES_ENGINE=torch SIMAGES_PRECISION=fp32]")
    monkeypatch.setenv("SIMAGES_ENGINE", "tensorflow")
    with pytest.raises(ValueError, match="SIMAGES_ENGINE"):
        load_network(None, cache_folder=tmp_path)


def test_without_ncnn_asking_for_it_says_how_to_install_it(monkeypatch, tmp_path):
    import simages.extraction.ncnn_vgg as ncnn_vgg

    monkeypatch.setattr(ncnn_vgg, "ncnn_available", lambda: False)
    monkeypatch.setenv("SIMAGES_ENGINE", "ncnn")
    with pytest.raises(RuntimeError, match="pip install ncnn"):
        load_network(None, cache_folder=tmp_path)
    with pytest.raises(ValueError, match="fp32 only"):
        build_engine([], "ncnn", "bf16")


def test_ncnn_maps_are_the_same_alone_and_from_overlapping_calls(random_keras, photos):
    import threading

    network = NcnnVGG16(conv_weights_from_keras(random_keras), workers=2)
    alone = network.maps(photos)
    results: list[np.ndarray] = []
    callers = [threading.Thread(target=lambda: results.append(network.maps(photos))) for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len(results) == 2
    for result in results:
        np.testing.assert_array_equal(result, alone)


def test_real_weights_fast_path_agrees_with_plain_keras(weights_path: Path, corel_path: Path):
    from simages.extraction.network import PlainKerasNetwork

    files = sorted(corel_path.glob("*/*.jpg"))[::250][:4]
    images = np.stack([load_for_network(path) for path in files])
    plain = PlainKerasNetwork(weights_path).maps(images)
    fast = load_network(weights_path, fast=True)  # the engine the tests pin (conftest): ncnn where installed
    flat, gap = cosines(fast.maps(images), plain)
    # fp32 on both sides: agreement far beyond the 0.9995
    assert flat.min() >= 0.99999 and gap.min() >= 0.99999
    fallback = load_network(weights_path, fast=True, engine="torch", precision="fp32")
    assert isinstance(fallback, TorchVGG16)
    flat, gap = cosines(fallback.maps(images), plain)
    assert flat.min() >= 0.99999 and gap.min() >= 0.99999


# --- streaming decode -----------------------------------------------------------------------------


def _photo_files(folder: Path, count: int) -> list[tuple[str, Path]]:
    return [
        (f"p{i:02d}.jpg", save(photo(i, (120, 80)), folder / f"p{i:02d}.jpg", quality=90))
        for i in range(count)
    ]


def test_batches_come_in_input_order(tmp_path):
    items = _photo_files(tmp_path, 10)
    batches = list(iter_decoded_batches(items, batch_size=3, max_pixels=10**8, threads=3))
    assert [len(batch.names) for batch in batches] == [3, 3, 3, 1]
    assert [name for batch in batches for name in batch.names] == [name for name, _ in items]
    decoded = np.concatenate([batch.images for batch in batches])
    np.testing.assert_array_equal(decoded[7], load_for_network(items[7][1]))


def test_a_broken_file_is_reported_and_the_batch_survives(tmp_path):
    items = _photo_files(tmp_path, 4)
    broken = tmp_path / "notes.jpg"
    broken.write_text("this is not a JPEG")
    items.insert(2, ("notes.jpg", broken))
    items.append(("gone.jpg", tmp_path / "gone.jpg"))
    batches = list(iter_decoded_batches(items, batch_size=8, max_pixels=10**8))
    assert len(batches) == 1
    batch = batches[0]
    assert batch.names == ["p00.jpg", "p01.jpg", "p02.jpg", "p03.jpg"]
    assert batch.images.shape == (4, 224, 224, 3)
    assert [name for name, _ in batch.failures] == ["notes.jpg", "gone.jpg"]
    assert all(reason for _, reason in batch.failures)


def test_decoding_stays_a_few_batches_ahead(tmp_path):
    """An endless stream of files: the decoder only ever pulls a few batches, however many there are."""
    (name, path), *_ = _photo_files(tmp_path, 1)
    pulled = itertools.count()

    def endless():
        while True:
            next(pulled)
            yield name, path

    stream = iter_decoded_batches(endless(), batch_size=4, max_pixels=10**8, ahead=2)
    for _ in range(3):
        assert len(next(stream).names) == 4
    stream.close()
    assert next(pulled) <= 4 * (3 + 2) + 1


def test_all_failures_give_an_empty_batch(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\x00" * 10)
    (batch,) = iter_decoded_batches([("bad.jpg", bad)], batch_size=4, max_pixels=10**8)
    assert batch.names == [] and batch.images.shape == (0, 224, 224, 3) and len(batch.failures) == 1


def test_torch_thread_count_is_restored_after_overlapping_calls(random_keras, photos):
    import threading

    import torch

    before = torch.get_num_threads()
    network = TorchVGG16(conv_weights_from_keras(random_keras), precision="fp32", workers=2, chunk=1)
    callers = [threading.Thread(target=network.maps, args=(photos,)) for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert torch.get_num_threads() == before
