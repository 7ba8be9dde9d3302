"""Losses for training a retrieval head: softmax cross-entropy and the triplet loss with semi-hard mining.

Seed 002 of the project compared both on frozen VGG-16 (cross-entropy kNN score 0.695, triplet 0.669,
triplet overfitting less); `--loss both` adds them.
"""

from __future__ import annotations

import torch
from torch import nn

# FaceNet's margin on unit-length embeddings (Schroff et al. 2015, section 3).
DEFAULT_MARGIN = 0.2


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean softmax cross-entropy of (n, classes) logits against (n,) class indices."""
    return nn.functional.cross_entropy(logits, labels)


def semi_hard_triplet_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, margin: float = DEFAULT_MARGIN
) -> torch.Tensor:
    """Triplet loss with online semi-hard negative mining: Schroff, Kalenichenko and Philbin, "FaceNet: A
    Unified Embedding for Face Recognition and Clustering", CVPR 2015, section 3.2.

    For every anchor-positive pair (a, p) of the batch (same label, a != p), the negative is the nearest
    one that is still farther than the positive, d(a, n) > d(a, p) (semi-hard: it violates the margin
    without being closer than the positive, which FaceNet found makes training collapse early); when no
    negative is farther, the farthest negative is used (as TensorFlow Addons' implementation does).
    Distances are squared Euclidean between the (n, d) unit-length embeddings. Returns the mean of
    max(d(a, p) - d(a, n) + margin, 0) over all pairs; 0 when the batch has no pair.
    """
    distances = torch.cdist(embeddings, embeddings).pow(2)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive_pairs = same & ~eye
    if not positive_pairs.any():
        return embeddings.sum() * 0.0
    anchors, positives = positive_pairs.nonzero(as_tuple=True)
    d_ap = distances[anchors, positives]  # (pairs,)
    d_an = distances[anchors]  # (pairs, n)
    negative = ~same[anchors]
    farther = negative & (d_an > d_ap[:, None])
    inf = torch.tensor(float("inf"), dtype=distances.dtype)
    semi_hard = torch.where(farther, d_an, inf).min(dim=1).values
    fallback = torch.where(negative, d_an, -inf).max(dim=1).values
    chosen = torch.where(farther.any(dim=1), semi_hard, fallback)
    has_negative = negative.any(dim=1)
    if not has_negative.any():
        return embeddings.sum() * 0.0
    losses = torch.clamp(d_ap - chosen + margin, min=0.0)[has_negative]
    return losses.mean()
