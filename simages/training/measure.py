"""What a head buys, measured as `simages eval` measures: leave-one-out mAP and P@10 over a group of photos,
with the descriptor a set of that many photos would apply (PCA learned on the group, query expansion)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simages.evaluation.leave_one_out import leave_one_out
from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.postprocess import learned_transform
from simages.nearest.core.set_index import applicable_spec


def retrieval_quality(
    vectors: np.ndarray,
    labels: Sequence[str],
    spec: DescriptorSpec,
    projection: np.ndarray | None = None,
    metric: str = "cosine",
) -> dict[str, float]:
    """{"mAP", "P@10"} of the (n, d) stored vectors searched with `spec` (a head's (d, d) `projection` when
    `spec.head` is set), every photo a key against the others, as joins score them."""
    vectors = np.asarray(vectors, np.float32)
    applied = applicable_spec(spec, len(vectors), vectors.shape[1])
    transform = learned_transform(applied, vectors, projection if applied.head else None)
    searched = transform.apply(vectors) if transform is not None else vectors
    scores = leave_one_out(searched, labels, metric, applied.qe_k if applied.qe else 0, ks=(10,))
    return {"mAP": round(scores.mean_ap, 4), "P@10": round(scores.precision[10], 4)}
