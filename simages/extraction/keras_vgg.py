"""Keras' VGG-16 without its classifier (the reference network), from a weights file or Keras' download.

Its own module so that the conv-kernel cache (`conv_cache`) and the network factory (`network`) both use it
without importing each other. Keras is imported only when a model is built.
"""

from __future__ import annotations

from pathlib import Path

from simages.settings import MissingWeightsError, weights_problem


def keras_vgg16(weights: Path | None):  # -> keras.Model
    """Keras' VGG-16 without the classifier: from a local weights file, or Keras' own download."""
    # The simages package has set KERAS_BACKEND=torch before anything imports keras.
    import keras

    if weights is not None:
        # Our message names the setting to fix; Keras' own would be about an unreadable HDF5 file.
        problem = weights_problem(weights)
        if problem:
            raise MissingWeightsError(problem)
        return keras.applications.VGG16(include_top=False, weights=str(weights), input_shape=(224, 224, 3))
    try:
        return keras.applications.VGG16(include_top=False, weights="imagenet", input_shape=(224, 224, 3))
    except Exception as error:  # Keras raises a bare Exception when its download fails
        if "fetch failure" not in str(error) and "download" not in str(error).lower():
            raise
        raise MissingWeightsError(
            "Keras could not download the VGG-16 weights (no internet connection?). Download "
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 elsewhere and set SIMAGES_WEIGHTS "
            "(or --weights) to its path."
        ) from error
