"""Descriptors found by file content in other stores: a renamed or moved set, or an image moved between
sets, is not described again.

Only stores written with the same settings (`npz_store.is_compatible`) give vectors, and only for an
exact whole-file digest match (`content_hash.file_digest`), so a reused vector is the one the network
would compute again.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from simages.store.npz_store import is_compatible
from simages.store.vanished import vanished_dir


def donor_stores(features: Path, exclude: Path) -> list[Path]:
    """Live stores other than `exclude`, then retired ones (`features/.vanished/`)."""
    live = sorted(p for p in features.glob("*.npz") if p != exclude) if features.is_dir() else []
    folder = vanished_dir(features)
    return live + (sorted(folder.glob("*.npz")) if folder.is_dir() else [])


def find_vectors(
    stores: Iterable[Path], digests: set[str], expected: dict[str, Any]
) -> dict[str, np.ndarray]:
    """digest -> float32 vector (d,) for each wanted digest some compatible store holds. Damaged or
    unreadable stores are passed over (reuse is an optimisation, never a reason to fail)."""
    found: dict[str, np.ndarray] = {}
    wanted = set(digests) - {""}
    for path in stores:
        if not wanted:
            break
        try:
            with np.load(path, allow_pickle=False) as data:
                if "digests" not in data.files or not is_compatible(_meta(data), expected):
                    continue
                rows = [(row, str(d)) for row, d in enumerate(data["digests"]) if str(d) in wanted]
                if not rows:
                    continue
                vectors = data["vectors"]
                for row, digest in rows:
                    found[digest] = np.asarray(vectors[row], dtype=np.float32)
                    wanted.discard(digest)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            continue
    return found


def live_digests(features: Path) -> set[str]:
    """Every whole-file digest held by the live stores of `features/` (unreadable stores add nothing)."""
    digests: set[str] = set()
    for path in sorted(features.glob("*.npz")) if features.is_dir() else []:
        try:
            with np.load(path, allow_pickle=False) as data:
                if "digests" in data.files:
                    digests.update(str(d) for d in data["digests"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
            continue
    digests.discard("")
    return digests


def _meta(data: Any) -> dict[str, Any]:
    return json.loads(str(data["meta"]))
