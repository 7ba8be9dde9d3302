"""Which descriptor a store holds, as a small value with a canonical text form recorded in every store.

Pooling reduces VGG-16's 7x7x512 map to one vector; the flags post-process it. The text form reads
like `gem3+sqrt+flip+l2+whiten+qe5`: pooling first (with GeM's exponent), then the flags in a fixed order
(whitening and query expansion may carry a number: `whiten256` keeps 256 dimensions, `qe5` averages a key
with its 5 nearest neighbours), so two equal specs always print the same and a store written with another
spec is recognised and rebuilt.

Three moments apply the parts: pooling, `sqrt`, `flip` and `l2` shape the stored vectors (index time);
`whiten` is learned on the set and applied when a store is loaded for joins; `qe` is applied per query.
Only the first group decides whether a store can be reused (`extraction_key`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POOLINGS = ("flat", "gap", "max", "gem", "rmac")
FLAGS = ("sqrt", "flip", "l2", "whiten", "qe")
DEFAULT_QE_K = 5


@dataclass(frozen=True)
class DescriptorSpec:
    pooling: str = "gap"
    gem_p: float = 3.0
    # Signed square root of each component (power normalisation); tames bursty activations.
    sqrt: bool = False
    # Average the descriptors of the image and its mirror image (index time, so every key gets it too).
    flip: bool = False
    # Unit length per image, so cosine and Euclidean rank alike.
    l2: bool = False
    # PCA whitening learned on the searched set itself, applied when a store is loaded for joins.
    whiten: bool = False
    # Dimensions kept by whitening (None: all the set supports).
    whiten_dim: int | None = None
    # Average query expansion: a key is replaced by the mean of itself and its qe_k nearest neighbours.
    qe: bool = False
    qe_k: int = DEFAULT_QE_K

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; choose one of {', '.join(POOLINGS)}")
        if self.pooling == "gem" and not self.gem_p > 0:
            raise ValueError("GeM exponent must be positive")
        if self.whiten_dim is not None and (not self.whiten or self.whiten_dim < 1):
            raise ValueError("a whitening dimension needs `whiten` and must be at least 1")
        if self.qe_k < 1:
            raise ValueError("query expansion needs at least one neighbour")

    @property
    def dimension(self) -> int:
        """Dimension of the stored vectors (whitening may reduce it later, at load time)."""
        return 7 * 7 * 512 if self.pooling == "flat" else 512

    def key(self) -> str:
        head = f"gem{self.gem_p:g}" if self.pooling == "gem" else self.pooling
        parts = [head]
        for flag in FLAGS:
            if not getattr(self, flag):
                continue
            if flag == "whiten" and self.whiten_dim is not None:
                parts.append(f"whiten{self.whiten_dim}")
            elif flag == "qe":
                parts.append(f"qe{self.qe_k}")
            else:
                parts.append(flag)
        return "+".join(parts)

    def extraction_key(self) -> str:
        """The part of the spec that shapes stored vectors; whitening and query expansion come later."""
        return self.with_(whiten=False, whiten_dim=None, qe=False, qe_k=DEFAULT_QE_K).key()

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
        head, flags = parts[0], parts[1:]
        match = re.fullmatch(r"gem(\d+(?:\.\d+)?)?", head)
        if match:
            pooling, gem_p = "gem", float(match.group(1) or 3.0)
        else:
            pooling, gem_p = head, 3.0
        values: dict[str, object] = {}
        unknown = []
        for flag in flags:
            numbered = re.fullmatch(r"(whiten|qe)(\d+)", flag)
            if numbered:
                name, number = numbered.group(1), int(numbered.group(2))
                values[name] = True
                values["whiten_dim" if name == "whiten" else "qe_k"] = number
            elif flag in FLAGS:
                values[flag] = True
            else:
                unknown.append(flag)
        if unknown:
            raise ValueError(
                f"unknown descriptor flag(s) {', '.join(unknown)}; choose from {', '.join(FLAGS)} "
                "(whiten and qe may carry a number, e.g. whiten256, qe5)"
            )
        return cls(pooling=pooling, gem_p=gem_p, **values)  # type: ignore[arg-type]


# Provisional until the retrieval-quality measurements (docs/quality.md) pick the best default.
DEFAULT_DESCRIPTOR = DescriptorSpec(pooling="gap", l2=True)
