"""The projection head: a residual low-rank linear map on centred stored descriptors, initialised to the
identity, exported as an affine map (numpy) that needs no torch at query time.

    z = (x - mean) (I + A B),    A: (d, r), B: (r, d), B = 0 at the start

Why this form (measured on Corel-1k, docs/training.md): a free projection trained on a few labels learns
to separate *those* labels and collapses everything else; starting at the identity, adding only a rank-r
correction and decaying A and B toward zero (weight decay, i.e. toward the identity map) keeps the untrained
space for classes the head never saw while sharpening the directions the labels care about. It is the
low-rank adaptation of Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022 (B
initialised to zero, A random), applied to one linear layer. Centring on the training mean plays the part
PCA's centring plays in the untrained default (docs/quality.md: centring alone is worth +0.007 mAP).
Because the head is linear, its product (I + A B) (kept as I + shrink A B, simages.training.trainer)
is computed once and applied as one (d, d) matrix product, exactly like a learned PCA
(`simages.extraction.postprocess.Whitening`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# Measured on Corel-1k (docs/training.md): rank 64 gains as much on the trained classes but loses 0.04-0.09
# mAP on classes held out of training; rank 16 with weight decay 1.0 and learning rate 3e-4 keeps them
# within 0.01 of the untrained descriptor.
DEFAULT_RANK = 16


class ResidualHead(nn.Module):
    """(n, d) stored vectors -> (n, d) unit-length embeddings; see the module docstring."""

    def __init__(self, mean: np.ndarray, rank: int = DEFAULT_RANK, seed: int = 0) -> None:
        super().__init__()
        dimension = int(mean.shape[0])
        rank = max(1, min(rank, dimension))
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, np.float32)))
        # Kaiming-uniform-like scale for A, as LoRA does; B = 0 makes the head the identity at the start.
        bound = 1.0 / np.sqrt(dimension)
        self.down = nn.Parameter((torch.rand(dimension, rank, generator=generator) * 2 - 1) * bound)
        self.up = nn.Parameter(torch.zeros(rank, dimension))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - self.mean
        z = centred + (centred @ self.down) @ self.up
        return nn.functional.normalize(z, dim=1)

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean (d,), projection (d, d)) float32: z = (x - mean) @ projection, then unit length."""
        with torch.no_grad():
            eye = torch.eye(self.mean.shape[0])
            projection = eye + self.down @ self.up
        return self.mean.numpy().copy(), projection.numpy().astype(np.float32)


class CosineClassifier(nn.Module):
    """Logits = scale * cos(embedding, class weight): the normalised softmax of Wang et al., "NormFace:
    L2 Hypersphere Embedding for Face Verification", ACM MM 2017. Training on cosines trains the very
    quantity retrieval ranks by; the class weights start at the class means of the untrained embeddings,
    so the first epochs refine a sensible classifier instead of fighting a random one."""

    def __init__(self, class_means: torch.Tensor, scale: float = 16.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(class_means.clone())
        self.scale = scale

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.scale * embeddings @ nn.functional.normalize(self.weight, dim=1).T
