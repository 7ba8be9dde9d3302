"""The VGG-16 kernels read from Keras are kept per weights file, so a new process skips building Keras."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import simages.extraction.keras_vgg as network_module
from simages.extraction.conv_cache import cache_path, load_convs, save_convs, vgg16_convs
from simages.extraction.torch_vgg import ConvWeights
from simages.settings import MissingWeightsError


def _small_convs() -> list[ConvWeights]:
    rng = np.random.default_rng(0)
    convs, channels = [], 3
    for index in range(13):
        out = 4 + index
        kernel = rng.standard_normal((out, channels, 3, 3)).astype(np.float32)
        bias = rng.standard_normal(out).astype(np.float32)
        convs.append(ConvWeights(f"conv{index}", kernel, bias, pool_after=index % 3 == 2))
        channels = out
    return convs


def _no_keras(*_: object) -> None:
    raise AssertionError("Keras' VGG-16 was built although the cache holds its kernels")


def test_a_cache_file_gives_back_the_same_kernels(tmp_path):
    convs = _small_convs()
    path = tmp_path / "cache" / "convs.npz"
    save_convs(path, convs)
    loaded = load_convs(path)
    assert loaded is not None and [c.name for c in loaded] == [c.name for c in convs]
    for mine, theirs in zip(loaded, convs, strict=True):
        np.testing.assert_array_equal(mine.kernel, theirs.kernel)
        np.testing.assert_array_equal(mine.bias, theirs.bias)
        assert mine.pool_after == theirs.pool_after
    assert [p.name for p in path.parent.iterdir()] == ["convs.npz"], "no temporary file is left behind"


def test_a_broken_or_foreign_cache_file_is_ignored(tmp_path):
    path = tmp_path / "convs.npz"
    assert load_convs(path) is None
    save_convs(path, _small_convs())
    path.write_bytes(path.read_bytes()[:1000])  # a truncated file
    assert load_convs(path) is None
    save_convs(path, _small_convs()[:5])  # not VGG-16's 13 layers
    assert load_convs(path) is None
    wrong = _small_convs()
    wrong[4] = ConvWeights("conv4", np.zeros((8, 2, 3, 3), np.float32), np.zeros(8, np.float32), False)
    save_convs(path, wrong)
    assert load_convs(path) is None


def test_other_weights_use_another_cache_file(tmp_path):
    first, second = tmp_path / "a.h5", tmp_path / "b.h5"
    first.write_bytes(b"one set of weights")
    second.write_bytes(b"another set of weights")
    assert cache_path(tmp_path, first) != cache_path(tmp_path, second)
    with pytest.raises(MissingWeightsError, match="SIMAGES_WEIGHTS"):
        vgg16_convs(tmp_path / "missing.h5", tmp_path)


def test_real_weights_are_read_from_keras_once_then_from_the_cache(weights_path: Path, tmp_path, monkeypatch):
    from simages.extraction.network import load_network

    from_keras = vgg16_convs(weights_path, tmp_path)
    assert cache_path(tmp_path, weights_path).is_file()
    monkeypatch.setattr(network_module, "keras_vgg16", _no_keras)
    from_cache = vgg16_convs(weights_path, tmp_path)
    for mine, theirs in zip(from_cache, from_keras, strict=True):
        np.testing.assert_array_equal(mine.kernel, theirs.kernel)
    network = load_network(weights_path, cache_folder=tmp_path)
    assert network.maps(np.zeros((1, 224, 224, 3), np.uint8)).shape == (1, 7, 7, 512)
