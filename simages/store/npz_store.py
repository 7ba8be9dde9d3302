"""Reading and writing `features/<set>.npz`.

Layout (all plain arrays, loaded with `allow_pickle=False`):
  names (str), sizes (int64), mtimes (int64 ns), vectors (float32, n x d), meta (JSON text),
  failed_names, failed_sizes, failed_mtimes, failed_reasons: images that could not be read, remembered
  with their fingerprints so an unchanged broken file is reported again without being decoded again.
A store is replaced atomically: written to a temporary file in the same folder, flushed, then renamed.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simages.store.atomic import write_atomically
from simages.store.fingerprint import Fingerprint

FORMAT_VERSION = 1
MODEL_ID = "keras.applications.VGG16(include_top=False, input 224x224, block5_pool)"


class StoreError(RuntimeError):
    """A store file that cannot be read; it is rebuilt, never half-used."""


@dataclass
class FeatureStore:
    names: list[str]
    fingerprints: list[Fingerprint]
    vectors: np.ndarray
    meta: dict[str, Any]
    failed: dict[str, tuple[Fingerprint, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.fingerprints) or len(self.names) != len(self.vectors):
            raise StoreError("names, fingerprints and vectors differ in length")

    def __len__(self) -> int:
        return len(self.names)

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0

    def entries(self) -> dict[str, Fingerprint]:
        return dict(zip(self.names, self.fingerprints, strict=True))


def expected_meta(descriptor_key: str, weights_id: str) -> dict[str, Any]:
    """The metadata a store must carry to be reused with the current settings."""
    return {
        "format_version": FORMAT_VERSION,
        "model": MODEL_ID,
        "weights": weights_id,
        "descriptor": descriptor_key,
    }


def is_compatible(meta: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(meta.get(key) == value for key, value in expected.items())


def empty_store(meta: dict[str, Any], dimension: int) -> FeatureStore:
    return FeatureStore([], [], np.zeros((0, dimension), np.float32), dict(meta))


def _str_array(values: list[str]) -> np.ndarray:
    # A fixed-width unicode array; an empty list still needs a dtype that loads without pickle.
    return np.array(values, dtype=str) if values else np.zeros(0, dtype="<U1")


def save_store(path: Path, store: FeatureStore) -> None:
    """Write the store atomically: a reader sees either the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    failed_names = sorted(store.failed)
    arrays = {
        "names": _str_array(store.names),
        "sizes": np.array([fp.size for fp in store.fingerprints], dtype=np.int64),
        "mtimes": np.array([fp.mtime_ns for fp in store.fingerprints], dtype=np.int64),
        "vectors": np.ascontiguousarray(store.vectors, dtype=np.float32),
        "meta": np.array(json.dumps(store.meta, sort_keys=True)),
        "failed_names": _str_array(failed_names),
        "failed_sizes": np.array([store.failed[n][0].size for n in failed_names], dtype=np.int64),
        "failed_mtimes": np.array([store.failed[n][0].mtime_ns for n in failed_names], dtype=np.int64),
        "failed_reasons": _str_array([store.failed[n][1] for n in failed_names]),
    }
    write_atomically(path, lambda stream: np.savez_compressed(stream, **arrays))


def load_store(path: Path) -> FeatureStore:
    """Read a store; StoreError if it is damaged or not a SIMages store."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            names = [str(n) for n in data["names"]]
            fingerprints = [
                Fingerprint(int(s), int(m)) for s, m in zip(data["sizes"], data["mtimes"], strict=True)
            ]
            vectors = np.ascontiguousarray(data["vectors"], dtype=np.float32)
            failed = {
                str(name): (Fingerprint(int(size), int(mtime)), str(reason))
                for name, size, mtime, reason in zip(
                    data["failed_names"],
                    data["failed_sizes"],
                    data["failed_mtimes"],
                    data["failed_reasons"],
                    strict=True,
                )
            }
    except FileNotFoundError:
        raise
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as error:
        raise StoreError(f"cannot read feature store {path.name}: {error}") from error
    if vectors.ndim != 2 or vectors.shape[0] != len(names):
        raise StoreError(f"feature store {path.name} is inconsistent")
    return FeatureStore(names, fingerprints, vectors, meta, failed)


def read_meta(path: Path) -> dict[str, Any] | None:
    """Only the metadata (cheap: one small member of the zip), or None if absent or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["meta"]))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError, EOFError):
        return None


def read_names_count(path: Path) -> int:
    """How many images a store holds, without decompressing its vectors; 0 if there is no readable store."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return int(data["names"].shape[0])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return 0
