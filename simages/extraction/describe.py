"""Descriptors for decoded images and single files, with a set's descriptor settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.images import load_for_network
from simages.extraction.network import Network, load_network
from simages.extraction.pooling import pool_with_mirror
from simages.extraction.trimming import trim_inputs
from simages.settings import Settings


def describe_images(network: Network, images: np.ndarray, spec: DescriptorSpec) -> np.ndarray:
    """(n, 224, 224, 3) uint8 -> (n, d) float32 descriptors as stored (before any whitening).

    Every path that describes an image comes here (indexing, keys, uploads, turned keys, calibration
    copies), so a spec with `trim` cuts the same margins off a stored image and off a key."""
    if spec.trim:
        images = trim_inputs(images)
    maps = network.maps(images)
    mirrored = network.maps(mirror(images)) if spec.flip else None
    return pool_with_mirror(maps, mirrored, spec)


def mirror(images: np.ndarray) -> np.ndarray:
    """(n, h, w, 3) images flipped left to right, contiguous as the network wants them."""
    return np.ascontiguousarray(images[:, :, ::-1])


def describe_image_file(
    path: Path, network: Network, spec: DescriptorSpec, max_pixels: int = 120_000_000
) -> np.ndarray:
    """The descriptor (d,) of one image file, e.g. an upload; UnreadableImage if it is not an image."""
    image = load_for_network(path, max_pixels)
    return describe_images(network, image[None], spec)[0]


def describe_image_file_oriented(
    path: Path, network: Network, spec: DescriptorSpec, max_pixels: int = 120_000_000
) -> np.ndarray:
    """The descriptors (5, d) of one image file as it is, turned by 90, 180 and 270 degrees
    (counter-clockwise) and mirrored left-right, in one batch (simages.copies.turns: a duplicates search
    of an upload); UnreadableImage if it is not an image. Turning the network's square input equals
    stretching the turned image to it, so the file is decoded once."""
    image = load_for_network(path, max_pixels)
    batch = np.stack([image, *(np.rot90(image, k) for k in (1, 2, 3)), image[:, ::-1]])
    return describe_images(network, np.ascontiguousarray(batch), spec)


@lru_cache(maxsize=2)
def network_for(weights: Path | None, cache_folder: Path | None = None) -> Network:
    """One network per process and weights file: loading VGG-16 costs a second, a query should not."""
    return load_network(weights, cache_folder=cache_folder)


def describe_file(path: Path, settings: Settings) -> np.ndarray:
    """The descriptor of any image file with the settings' weights and descriptor spec (CLI keys, uploads)."""
    # Decode first: a file that is no image is refused at once, without loading the network.
    image = load_for_network(path, settings.max_image_pixels)
    network = network_for(settings.weights, settings.model_cache)
    return describe_images(network, image[None], settings.descriptor)[0]
