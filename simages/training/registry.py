"""Trained heads kept under features/heads/: NAME.npz (the projection and its metadata, one file written
atomically, so an interrupted save leaves the old head or the new one, never half of one) and, when
matplotlib is installed, NAME.png (the training curves).

Numpy only: a query that applies a head never imports torch. The metadata records the set and classes
trained on, the split, the date, the metrics measured on the test split, the base descriptor (the stored
vectors the head expects) and the sha256 of the weights, checked on every load.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simages.extraction.descriptor_spec import HEAD_NAME, HEAD_PREFIX, DescriptorSpec
from simages.store.atomic import write_atomically

HEADS_FOLDER = "heads"
FORMAT = 1


class HeadError(ValueError):
    """A head that does not exist, cannot be read, fails its hash check, or does not fit a set."""


@dataclass(frozen=True)
class Head:
    name: str
    projection: np.ndarray  # (d, d) float32: a stored vector x becomes x @ projection
    meta: dict[str, Any]

    @property
    def base_descriptor(self) -> DescriptorSpec:
        """The descriptor of the set it was trained on (the untrained default it is compared with)."""
        return DescriptorSpec.parse(str(self.meta["base_descriptor"]))

    @property
    def descriptor(self) -> DescriptorSpec:
        """The descriptor `head:NAME` stands for: the base descriptor with this head inserted."""
        return self.base_descriptor.with_(head=self.name)

    @property
    def beats_baseline(self) -> bool:
        return bool(self.meta.get("beats_baseline"))


def heads_folder(features: Path) -> Path:
    return Path(features) / HEADS_FOLDER


def check_name(name: str) -> str:
    """`name` if it can name a head (a file name on every system), HeadError otherwise."""
    if not HEAD_NAME.fullmatch(name or ""):
        raise HeadError(
            f"invalid head name {name!r}: letters, digits, '.', '_' and '-', at most 64 characters, "
            "starting with a letter or digit"
        )
    return name


def head_path(features: Path, name: str) -> Path:
    return heads_folder(features) / f"{check_name(name)}.npz"


def curves_path(features: Path, name: str) -> Path:
    return heads_folder(features) / f"{check_name(name)}.png"


def weights_sha256(projection: np.ndarray) -> str:
    array = np.ascontiguousarray(projection, dtype=np.float32)
    return hashlib.sha256(repr(array.shape).encode() + array.tobytes()).hexdigest()


def save_head(features: Path, name: str, projection: np.ndarray, meta: dict[str, Any]) -> Path:
    """Write features/heads/NAME.npz atomically (replacing a head of that name); the weights' sha256 is
    added to the metadata. Returns the path."""
    path = head_path(features, name)
    projection = np.ascontiguousarray(projection, dtype=np.float32)
    full = {**meta, "name": name, "format": FORMAT, "sha256": weights_sha256(projection)}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, projection=projection, meta=np.array(json.dumps(full)))
    write_atomically(path, lambda stream: stream.write(buffer.getvalue()))
    return path


def load_head(features: Path, name: str) -> Head:
    """The head called `name`; HeadError saying what to do when it is missing, unreadable or corrupt."""
    path = head_path(features, name)
    try:
        with np.load(path, allow_pickle=False) as data:
            projection = np.asarray(data["projection"], dtype=np.float32)
            meta = json.loads(str(data["meta"]))
    except FileNotFoundError:
        known = ", ".join(head.name for head in list_heads(features)) or "none yet"
        raise HeadError(
            f"there is no trained head {name!r} (trained heads: {known}); train one with "
            f"`simages train SET --name {name}`"
        ) from None
    except (OSError, ValueError, KeyError) as error:
        raise HeadError(f"trained head {name!r} cannot be read ({path}): {error}") from None
    if meta.get("format", 0) > FORMAT:
        raise HeadError(f"trained head {name!r} was written by a newer SIMages; upgrade to use it")
    if meta.get("sha256") != weights_sha256(projection):
        raise HeadError(
            f"trained head {name!r} fails its hash check ({path} was changed or damaged); "
            f"remove it with `simages train --remove {name}` and train it again"
        )
    if projection.ndim != 2 or projection.shape[0] != projection.shape[1]:
        raise HeadError(f"trained head {name!r} has a projection of shape {projection.shape}, not (d, d)")
    return Head(name, projection, meta)


def head_version(features: Path, name: str) -> tuple[int, int, int] | None:
    """(mtime_ns, size, inode) of the head's file, None without one: cached projections of a head
    retrained under the same name are never reused (the file is replaced by a rename: new inode)."""
    try:
        stat = os.stat(head_path(features, name))
    except (FileNotFoundError, HeadError):
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def list_heads(features: Path) -> list[Head]:
    """Every readable head, by name; unreadable files are left out (load_head says why)."""
    folder = heads_folder(features)
    heads = []
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
        if path.name.startswith(".") or not HEAD_NAME.fullmatch(path.stem):
            continue
        try:
            heads.append(load_head(features, path.stem))
        except HeadError:
            continue
    return heads


def remove_head(features: Path, name: str) -> bool:
    """Delete the head and its curves; False when there was no such head."""
    path = head_path(features, name)
    existed = path.exists()
    path.unlink(missing_ok=True)
    curves_path(features, name).unlink(missing_ok=True)
    return existed


def resolve_descriptor(text: str, features: Path) -> DescriptorSpec:
    """Parse a descriptor a user typed. `head:NAME` alone (or followed by flags, `head:NAME+qe5`) stands for
    the descriptor the head was trained with, the head inserted (flags given replace that descriptor's
    query-time parts); the full form (`gap+l2+head:NAME+pca128+qe10`) and specs without a head parse as
    usual. HeadError for a head that does not exist, ValueError for a bad spec."""
    stripped = text.strip()
    if not stripped.lower().startswith(HEAD_PREFIX):
        spec = DescriptorSpec.parse(stripped)
        if spec.head is not None:
            load_head(features, spec.head)  # a missing or damaged head is refused now, not at query time
        return spec
    name, _, rest = stripped[len(HEAD_PREFIX) :].partition("+")
    head = load_head(features, name.strip())
    spec = head.descriptor
    if rest.strip():
        extra = DescriptorSpec.parse(f"{spec.extraction_key()}+{rest}")
        spec = extra.with_(head=head.name)
    return spec


def projection_for(spec: DescriptorSpec, features: Path | None) -> np.ndarray | None:
    """The (d, d) projection of the head `spec` names, None when it names none. HeadError when the head is
    missing or damaged, or when `features` is None (nowhere to look)."""
    if spec.head is None:
        return None
    if features is None:
        raise HeadError(f"descriptor {spec.key()!r} needs trained head {spec.head!r}, but no features folder")
    return load_head(features, spec.head).projection


def base_mismatch(head: Head, set_name: str, stored_extraction: str) -> str | None:
    """What to do when a set's stored vectors are not the ones `head` was trained on, None when they are."""
    wanted = head.base_descriptor.extraction_key()
    if stored_extraction == wanted:
        return None
    return (
        f"trained head {head.name!r} was trained on {wanted!r} vectors (set {head.meta.get('set')!r}), but "
        f"set {set_name!r} holds {stored_extraction or 'unknown'!r} vectors; a head applies only to sets "
        f"indexed with the same base descriptor: re-index with `simages --descriptor "
        f"{head.base_descriptor.key()} index {set_name}` or train a head on {set_name!r}"
    )
