"""Reading and writing `features/<set>.npz`.

Layout (all plain arrays, loaded with `allow_pickle=False`):
  names (str), sizes (int64), mtimes (int64 ns), contents (int64, sampled content hash), ctimes (int64
  ns, inode change times), digests (str, whole-file hash, '' if unknown), vectors (float32, n x d),
  meta (JSON text), failed_names, failed_sizes, failed_mtimes, failed_contents, failed_ctimes,
  failed_reasons: files that could not be read, remembered with their fingerprints so an unchanged
  broken file is reported again without being decoded again. `contents`, `ctimes` and `digests` came
  later: a store without them reads as "unknown" (0, '').
The file's mode follows the umask, like any file the user writes, so a group can share `features/`.
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
from simages.store.errors import StoreError, StoreFromNewerVersion, StoreInaccessible, StoreNotReadable
from simages.store.fingerprint import Fingerprint

FORMAT_VERSION = 1
MODEL_ID = "keras.applications.VGG16(include_top=False, input 224x224, block5_pool)"


def newer_format(version: object, ours: int) -> bool:
    """Whether a file's recorded format `version` is one a newer SIMages wrote (an int above `ours`)."""
    return isinstance(version, int) and not isinstance(version, bool) and version > ours


def refuse_newer(meta: dict[str, Any], path: Path) -> None:
    """StoreFromNewerVersion when the store's metadata says a newer SIMages wrote it."""
    version = meta.get("format_version")
    if newer_format(version, FORMAT_VERSION):
        raise StoreFromNewerVersion(
            f"feature store {path.name} was written by a newer SIMages (store format {version}; this "
            f"version reads format {FORMAT_VERSION})"
        )


def check_not_newer(path: Path) -> None:
    """StoreFromNewerVersion when the store at `path` was written by a newer SIMages (reads only its
    metadata); nothing when it is not, is missing or is unreadable (reading it will say why)."""
    meta = read_meta(path)
    if meta is not None:
        refuse_newer(meta, path)


@dataclass
class FeatureStore:
    names: list[str]
    fingerprints: list[Fingerprint]
    vectors: np.ndarray
    meta: dict[str, Any]
    failed: dict[str, tuple[Fingerprint, str]] = field(default_factory=dict)
    # name -> store.content_hash.file_digest of the file the vector was computed from ('' if unknown)
    digests: dict[str, str] = field(default_factory=dict)

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
        "contents": np.array([fp.content for fp in store.fingerprints], dtype=np.int64),
        "ctimes": np.array([fp.ctime_ns for fp in store.fingerprints], dtype=np.int64),
        "digests": _str_array([store.digests.get(name, "") for name in store.names]),
        "vectors": np.ascontiguousarray(store.vectors, dtype=np.float32),
        "meta": np.array(json.dumps(store.meta, sort_keys=True)),
        "failed_names": _str_array(failed_names),
        "failed_sizes": np.array([store.failed[n][0].size for n in failed_names], dtype=np.int64),
        "failed_mtimes": np.array([store.failed[n][0].mtime_ns for n in failed_names], dtype=np.int64),
        "failed_contents": np.array([store.failed[n][0].content for n in failed_names], dtype=np.int64),
        "failed_ctimes": np.array([store.failed[n][0].ctime_ns for n in failed_names], dtype=np.int64),
        "failed_reasons": _str_array([store.failed[n][1] for n in failed_names]),
    }
    write_atomically(path, lambda stream: np.savez_compressed(stream, **arrays))


def load_store(path: Path) -> FeatureStore:
    """Read a store; StoreNotReadable if this user may not read it, StoreError if it is damaged or not a
    SIMages store, FileNotFoundError if there is none."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            refuse_newer(meta, path)  # before its arrays: a newer format may lay them out otherwise
            names = [str(n) for n in data["names"]]
            contents = _optional(data, "contents", len(names), 0)
            ctimes = _optional(data, "ctimes", len(names), 0)
            fingerprints = [
                Fingerprint(int(s), int(m), int(c), int(t))
                for s, m, c, t in zip(data["sizes"], data["mtimes"], contents, ctimes, strict=True)
            ]
            digests = {
                name: str(digest)
                for name, digest in zip(names, _optional(data, "digests", len(names), ""), strict=True)
                if digest
            }
            vectors = np.ascontiguousarray(data["vectors"], dtype=np.float32)
            failed_names = data["failed_names"]
            failed = {
                str(name): (Fingerprint(int(size), int(mtime), int(content), int(ctime)), str(reason))
                for name, size, mtime, content, ctime, reason in zip(
                    failed_names,
                    data["failed_sizes"],
                    data["failed_mtimes"],
                    _optional(data, "failed_contents", len(failed_names), 0),
                    _optional(data, "failed_ctimes", len(failed_names), 0),
                    data["failed_reasons"],
                    strict=True,
                )
            }
    except FileNotFoundError:
        raise
    except PermissionError as error:
        raise StoreNotReadable(
            f"feature store {path} is not readable by this user ({error.strerror or error})"
        ) from error
    except OSError as error:
        if error.errno is None:  # numpy reports some damaged archives as OSError without a system errno
            raise StoreError(f"cannot read feature store {path.name}: {error}") from error
        raise StoreInaccessible(f"cannot open feature store {path}: {error.strerror or error}") from error
    except (KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as error:
        raise StoreError(f"cannot read feature store {path.name}: {error}") from error
    if vectors.ndim != 2 or vectors.shape[0] != len(names):
        raise StoreError(f"feature store {path.name} is inconsistent")
    return FeatureStore(names, fingerprints, vectors, meta, failed, digests)


def _optional(data: Any, key: str, length: int, default: Any) -> list[Any]:
    """A column added after version 1 of the format, or `default` for each row of an older store."""
    return [value.item() for value in data[key]] if key in data.files else [default] * length


def read_meta(path: Path) -> dict[str, Any] | None:
    """Only the metadata (cheap: one small member of the zip), or None if absent or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["meta"]))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError, EOFError):
        return None


def read_versions(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(names, sizes (n,) int64, mtimes (n,) int64 ns) of a store's images, in its row order, without
    decompressing its vectors: what derived files compare to find added, removed and changed images.
    StoreError when the store cannot be read, FileNotFoundError without one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            names = [str(n) for n in data["names"]]
            sizes = np.asarray(data["sizes"], dtype=np.int64)
            mtimes = np.asarray(data["mtimes"], dtype=np.int64)
    except FileNotFoundError:
        raise
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise StoreError(f"cannot read feature store {path.name}: {error}") from error
    if not len(names) == len(sizes) == len(mtimes):
        raise StoreError(f"feature store {path.name} is inconsistent")
    return names, sizes, mtimes


def read_fingerprint(path: Path, name: str) -> Fingerprint | None:
    """The fingerprint the store at `path` keeps for image `name` (what indexing compares to reuse its
    descriptor), without decompressing its vectors; None when the store has no such image, is missing or
    cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            names = [str(n) for n in data["names"]]
            if name not in names:
                return None
            row = names.index(name)
            contents = _optional(data, "contents", len(names), 0)
            ctimes = _optional(data, "ctimes", len(names), 0)
            return Fingerprint(int(data["sizes"][row]), int(data["mtimes"][row]), int(contents[row]),
                               int(ctimes[row]))
    except (OSError, KeyError, ValueError, IndexError, zipfile.BadZipFile, EOFError):
        return None


def read_failed(path: Path) -> dict[str, str]:
    """The store's unreadable files and their reasons (name -> reason), without its vectors; {} when the
    store is missing or cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {str(n): str(r) for n, r in zip(data["failed_names"], data["failed_reasons"], strict=True)}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return {}


def read_names_count(path: Path) -> int:
    """How many images a store holds, without decompressing its vectors; 0 if there is no readable store."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return int(data["names"].shape[0])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError):
        return 0
