"""Is a fast path faithful to Keras' fp32 `predict`? The criterion a reduced-precision engine must pass.

Exact top-10 identity was too strict: bf16 moves scores by ~4e-4, which reorders near-ties without
changing retrieval quality. So on a labelled set (Corel-1k), against the maps of Keras' fp32 predict:

* the mean overlap of each image's 10 nearest neighbours (cosine, the spec's full vectors incl. PCA /
  whitening learned on the set, the image itself left out) is >= MIN_TOP10_OVERLAP;
* mAP and P@10 (leave-one-out, as `simages eval`) are within MAX_SCORE_DELTA of the reference's.

Every image's descriptor cosine with the reference's (the stored part of the descriptor spec, e.g. GAP +
L2 for the default) is reported, not required (issue 26): what users see is the neighbours and the
scores, and int8 moves every descriptor a little without changing them. Copies (exact ones identical,
the same duplicate pairs) are checked by `simages bench extract --fidelity` (bench/extract_fidelity.py).
MIN_COSINE remains the calibration's per-image gate on its own photos (calibration.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simages.evaluation.leave_one_out import leave_one_out, set_vectors
from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.pooling import l2_normalise, pool

MIN_COSINE = 0.9995
MIN_TOP10_OVERLAP = 0.99
MAX_SCORE_DELTA = 0.002


@dataclass(frozen=True)
class FidelityReport:
    """How a candidate's maps compare with the reference's on one labelled set."""

    images: int
    min_cosine: float  # worst image, stored descriptor (reported, not part of `passes`)
    top10_overlap: float  # mean share of the 10 nearest neighbours in common, 0..1
    map_delta: float  # candidate mAP - reference mAP
    p10_delta: float  # candidate P@10 - reference P@10
    reference_map: float
    reference_p10: float

    @property
    def passes(self) -> bool:
        return (
            self.top10_overlap >= MIN_TOP10_OVERLAP
            and abs(self.map_delta) <= MAX_SCORE_DELTA
            and abs(self.p10_delta) <= MAX_SCORE_DELTA
        )

    def row(self) -> str:
        """Markdown cells: min cos | top-10 overlap | mAP delta | P@10 delta | verdict."""
        verdict = "passes" if self.passes else "FAILS"
        return (
            f"{self.min_cosine:.5f} | {100 * self.top10_overlap:.2f}% | {self.map_delta:+.4f} | "
            f"{self.p10_delta:+.4f} | {verdict}"
        )


def nearest(vectors: np.ndarray, k: int = 10) -> np.ndarray:
    """(n, k) indices of each row's k nearest other rows by cosine, as sets (sorted)."""
    unit = l2_normalise(np.asarray(vectors, dtype=np.float32))
    scores = unit @ unit.T
    np.fill_diagonal(scores, -np.inf)
    k = min(k, len(unit) - 1)
    return np.sort(np.argpartition(-scores, k - 1, axis=1)[:, :k], axis=1)


def top_k_overlap(reference: np.ndarray, candidate: np.ndarray, k: int = 10) -> float:
    """Mean share (0..1) of the k nearest neighbours two sets of vectors of the same images have in common."""
    a, b = nearest(reference, k), nearest(candidate, k)
    return float(np.mean([len(np.intersect1d(x, y)) / a.shape[1] for x, y in zip(a, b, strict=True)]))


def fidelity(
    reference_maps: np.ndarray, candidate_maps: np.ndarray, labels: Sequence[str], spec: DescriptorSpec
) -> FidelityReport:
    """Compare (n, 7, 7, 512) maps of the same n labelled images; ValueError if their shapes differ."""
    if reference_maps.shape != candidate_maps.shape or len(labels) != len(reference_maps):
        raise ValueError(
            f"maps {reference_maps.shape} and {candidate_maps.shape} for {len(labels)} labels do not match"
        )
    stored_ref, stored_cand = pool(reference_maps, spec), pool(candidate_maps, spec)
    cosines = (l2_normalise(stored_ref) * l2_normalise(stored_cand)).sum(axis=1)
    vectors_ref = set_vectors(reference_maps, None, spec)
    vectors_cand = set_vectors(candidate_maps, None, spec)
    qe_k = spec.qe_k if spec.qe else 0
    scores_ref = leave_one_out(vectors_ref, labels, "cosine", qe_k, (10,))
    scores_cand = leave_one_out(vectors_cand, labels, "cosine", qe_k, (10,))
    return FidelityReport(
        images=len(labels),
        min_cosine=float(cosines.min()),
        top10_overlap=top_k_overlap(vectors_ref, vectors_cand),
        map_delta=scores_cand.mean_ap - scores_ref.mean_ap,
        p10_delta=scores_cand.precision[10] - scores_ref.precision[10],
        reference_map=scores_ref.mean_ap,
        reference_p10=scores_ref.precision[10],
    )
