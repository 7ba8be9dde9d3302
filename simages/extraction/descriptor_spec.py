"""Which descriptor a store holds, as a small value with a canonical text form recorded in every store.

Pooling reduces VGG-16's 7x7x512 map to one vector; the flags post-process it. The text form reads
like `gap+l2+pca128+qe10`: pooling first (with GeM's exponent), then the flags in a fixed order (PCA,
whitening and query expansion may carry a number: `pca128` keeps 128 dimensions, `qe10` averages a key
with its 10 nearest neighbours), so two equal specs always print the same and a store written with another
spec is recognised and rebuilt.

Three moments apply the parts: pooling, `sqrt`, `flip` and `l2` shape the stored vectors (index time);
`pca` / `whiten` are learned on the set and applied when a store is loaded for joins; `qe` is applied per
query. Only the first group decides whether a store can be reused (`extraction_key`).

A trained head (`simages train`, `head:NAME`) is a linear map applied at load time to the stored vectors,
before PCA: `gap+l2+head:shop+pca128+qe10`. Users write the short form `head:NAME`, which
`simages.training.registry.resolve_descriptor` expands to the descriptor the head was trained with, the
head inserted; `parse` alone reads only the full form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from simages.wording import plural

POOLINGS = ("flat", "gap", "max", "gem", "rmac")
FLAGS = ("trim", "sqrt", "flip", "l2", "pca", "whiten", "qe")
# The flags applied at index time, before a trained head (the head maps the vectors they shape).
STORED_FLAGS = ("trim", "sqrt", "flip", "l2")
HEAD_PREFIX = "head:"
# Head names: what a file name can safely be on every system, no path separators.
HEAD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# Measured on Corel-1k: 10 neighbours beat 5 (mAP 0.901 vs 0.897 with gap+l2); more gains nothing.
DEFAULT_QE_K = 10


@dataclass(frozen=True)
class DescriptorSpec:
    pooling: str = "gap"
    gem_p: float = 3.0
    # Near-uniform margins (letterbox and pillarbox bars, frames) cut off each
    # image before the network sees it (simages.extraction.trimming), so a padded copy is described as
    # its photo.
    trim: bool = False
    # Signed square root of each component (power normalisation); tames bursty activations.
    sqrt: bool = False
    # Average the descriptors of the image and its mirror image (index time, so every key gets it too).
    flip: bool = False
    # Unit length per image, so cosine and Euclidean rank alike.
    l2: bool = False
    # PCA learned on the searched set itself, applied when a store is loaded for joins: centre on the
    # set's mean and keep the pca_dim strongest principal directions (None: all), then L2 again.
    pca: bool = False
    pca_dim: int | None = None
    # PCA whitening learned on the set: like `pca`, and each direction also scaled to unit variance.
    # Whitening includes PCA, so with both it wins (keeping whiten_dim, else pca_dim, directions).
    whiten: bool = False
    whiten_dim: int | None = None
    # Average query expansion: a key is replaced by the mean of itself and its qe_k nearest neighbours.
    qe: bool = False
    qe_k: int = DEFAULT_QE_K
    # A trained projection head (features/heads/NAME.npz) applied to the stored vectors at load time,
    # before PCA / whitening; None for none.
    head: str | None = None

    def __post_init__(self) -> None:
        if self.head is not None and not HEAD_NAME.fullmatch(self.head):
            raise ValueError(
                f"invalid head name {self.head!r}: letters, digits, '.', '_' and '-', at most 64, "
                "starting with a letter or digit"
            )
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; choose one of {', '.join(POOLINGS)}")
        if self.pooling == "gem" and not self.gem_p > 0:
            raise ValueError("GeM exponent must be positive")
        if self.whiten_dim is not None and (not self.whiten or self.whiten_dim < 1):
            raise ValueError("a whitening dimension needs `whiten` and must be at least 1")
        if self.pca_dim is not None and (not self.pca or self.pca_dim < 1):
            raise ValueError("a PCA dimension needs `pca` and must be at least 1")
        if self.qe_k < 1:
            raise ValueError("query expansion needs at least one neighbour")

    @property
    def dimension(self) -> int:
        """Dimension of the stored vectors (PCA or whitening may reduce it later, at load time)."""
        return 7 * 7 * 512 if self.pooling == "flat" else 512

    def key(self) -> str:
        head = f"gem{self.gem_p:g}" if self.pooling == "gem" else self.pooling
        parts = [head]
        for flag in FLAGS:
            if not getattr(self, flag):
                continue
            if flag == "whiten" and self.whiten_dim is not None:
                parts.append(f"whiten{self.whiten_dim}")
            elif flag == "pca" and self.pca_dim is not None:
                parts.append(f"pca{self.pca_dim}")
            elif flag == "qe":
                parts.append(f"qe{self.qe_k}")
            else:
                parts.append(flag)
        if self.head is not None:
            # The head comes right after the index-time parts: it is applied to the stored vectors.
            stored = sum(1 for flag in STORED_FLAGS if getattr(self, flag))
            parts.insert(1 + stored, f"{HEAD_PREFIX}{self.head}")
        return "+".join(parts)

    def extraction_key(self) -> str:
        """The part of the spec that shapes stored vectors; PCA, whitening and query expansion come later."""
        later = {
            "pca": False, "pca_dim": None, "whiten": False, "whiten_dim": None, "qe": False, "head": None
        }
        return self.with_(**later, qe_k=DEFAULT_QE_K).key()

    def explain(self, expand: bool = True, whitened_on: str = "") -> str:
        """One sentence for people (results page, CLI): what the descriptor is and what a score measures.
        `expand=False` describes a query run with query expansion switched off (it matters only with `qe`);
        `whitened_on` says where a whitening learned elsewhere than the set searched came from (e.g. "on all
        your indexed photos together"): the default is the set searched."""
        pooling = {
            "flat": "the flattened 7x7x512 VGG-16 map",
            "gap": "VGG-16 features, average-pooled",
            "max": "VGG-16 features, max-pooled",
            "gem": f"VGG-16 features, GeM-pooled (p={self.gem_p:g})",
            "rmac": "VGG-16 features, R-MAC regions",
        }[self.pooling]
        steps = []
        if self.trim:
            steps.insert(0, "described without plain margins (bars, frames)")
        if self.sqrt:
            steps.append("square-rooted")
        if self.flip:
            steps.append("averaged with the mirror image")
        if self.l2:
            steps.append("scaled to unit length")
        if self.whiten:
            steps.append(f"PCA-whitened {whitened_on or 'on the set searched'}")
        elif self.pca:
            kept = plural(self.pca_dim, "dimension") if self.pca_dim else "all dimensions"
            steps.append(f"reduced by PCA to {kept} learned on the set searched")
        if self.head is not None:
            # Before PCA / whitening, which are learned on the projected vectors.
            at = len(steps) - 1 if (self.whiten or self.pca) else len(steps)
            steps.insert(at, f"projected by the trained head {self.head!r}")
        text = pooling + (", " + ", ".join(steps) if steps else "")
        if self.qe and expand:
            text += (
                f"; each key is averaged with its {self.qe_k} nearest images (query expansion), "
                "and each image keeps the better of its scores against the key and that expanded key "
                "(so an exact copy of the key scores 1)"
            )
        elif self.qe:
            return (
                text + ". Query expansion is off for this query: scores are measured from the key itself "
                f"(with it, the key would be averaged with its {self.qe_k} nearest images)."
            )
        return text + "."

    @property
    def learned_on_set(self) -> bool:
        """Whether joins need a transform learned on the searched set (`pca` or `whiten`)."""
        return self.pca or self.whiten

    def with_(self, **changes: object) -> DescriptorSpec:
        return DescriptorSpec(**{**self.__dict__, **changes})  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.key()

    @classmethod
    def parse(cls, text: str) -> DescriptorSpec:
        """Parse `gap+l2`, `gem3+flip+l2+whiten256+qe5`, `flat`... Unknown parts raise ValueError."""
        parts = [part.strip().lower() for part in text.split("+") if part.strip()]
        if not parts:
            raise ValueError("empty descriptor spec")
        heads = [part for part in parts if part.startswith(HEAD_PREFIX)]
        if len(heads) > 1:
            raise ValueError("a descriptor can have one trained head only")
        parts = [part for part in parts if not part.startswith(HEAD_PREFIX)]
        # Head names keep their case; everything else is case-insensitive.
        named = re.search(r"head:([^+]*)", text, re.IGNORECASE)
        head_name = named.group(1).strip() if heads and named else None
        if heads and not parts:
            raise ValueError(
                f"{text.strip()!r} names a trained head without its base descriptor; it is resolved against "
                "features/heads/ (simages.training.registry.resolve_descriptor)"
            )
        head, flags = parts[0], parts[1:]
        match = re.fullmatch(r"gem(\d+(?:\.\d+)?)?", head)
        if match:
            pooling, gem_p = "gem", float(match.group(1) or 3.0)
        else:
            pooling, gem_p = head, 3.0
        values: dict[str, object] = {}
        unknown = []
        for flag in flags:
            numbered = re.fullmatch(r"(pca|whiten|qe)(\d+)", flag)
            if numbered:
                name, number = numbered.group(1), int(numbered.group(2))
                values[name] = True
                values["qe_k" if name == "qe" else f"{name}_dim"] = number
            elif flag in FLAGS:
                values[flag] = True
            else:
                unknown.append(flag)
        if unknown:
            raise ValueError(
                f"unknown descriptor flag(s) {', '.join(unknown)}; choose from {', '.join(FLAGS)} "
                "(pca, whiten and qe may carry a number, e.g. pca128, whiten256, qe10)"
            )
        return cls(pooling=pooling, gem_p=gem_p, head=head_name, **values)  # type: ignore[arg-type]


# Chosen from leave-one-out measurements on Corel-1k with the real weights (docs/quality.md):
#   gap+l2              P@10 0.955  mAP 0.863  (512-d; average pooling, the baseline)
#   gap+l2+qe10         P@10 0.959  mAP 0.901  (query expansion alone just reaches the target)
#   gap+l2+pca128+qe10  P@10 0.960  mAP 0.910  (the default: 128-d joins, 4x less work than 512-d)
# Whitening, sqrt, GeM, max and R-MAC all scored lower on this category-level task; flip averaging adds
# 0.002 mAP for twice the indexing time, so it stays an option. The stored vectors are plain gap+l2:
# PCA is learned on each set when it is loaded and query expansion happens per query.
# `trim` (plain margins cut off before the network) makes letterboxed, pillarboxed and framed copies the
# same photo for the duplicates intent (docs/duplicates.md); it touches 2% of Corel-1k's photos and
# leaves class-level retrieval as it was.
DEFAULT_DESCRIPTOR = DescriptorSpec(
    pooling="gap", trim=True, l2=True, pca=True, pca_dim=128, qe=True, qe_k=10
)
