"""A large set's PCA comes from its covariance in chunks: the same directions as the SVD of small sets."""

from __future__ import annotations

import numpy as np

from simages.extraction import postprocess


def test_covariance_and_svd_give_the_same_pca(monkeypatch):
    rng = np.random.default_rng(3)
    scales = np.linspace(3.0, 0.1, 16).astype(np.float32)  # distinct variances: unique directions
    x = (rng.standard_normal((6000, 16)).astype(np.float32) * scales) @ np.linalg.qr(
        rng.standard_normal((16, 16)))[0].astype(np.float32) + 0.5
    monkeypatch.setattr(postprocess, "_COVARIANCE_FROM_ROWS", 10**9)
    by_svd = postprocess.learn_pca(x, 8)
    monkeypatch.setattr(postprocess, "_COVARIANCE_FROM_ROWS", 1000)
    monkeypatch.setattr(postprocess, "_COVARIANCE_CHUNK", 700)  # several chunks, one of them partial
    by_covariance = postprocess.learn_pca(x, 8)
    np.testing.assert_allclose(by_covariance.mean, by_svd.mean, atol=1e-5)
    # Directions agree up to sign, so the projected rows agree up to the sign of each column.
    alignment = np.abs(np.sum(by_covariance.projection * by_svd.projection, axis=0))
    np.testing.assert_allclose(alignment, 1.0, atol=1e-4)
    cos_svd = by_svd.apply(x[:50]) @ by_svd.apply(x[50:]).T
    cos_cov = by_covariance.apply(x[:50]) @ by_covariance.apply(x[50:]).T
    np.testing.assert_allclose(cos_cov, cos_svd, atol=1e-4)
