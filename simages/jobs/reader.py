"""The reader: which images a run computes, in batches, and what travels to the mapper for each.

In-process, and on cluster workers that see the same files (`--shared-path`), a batch carries paths and
the mapper opens the files itself. Workers on other machines get the files' bytes, read here by the
client, so they need no access to the image folders at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from simages.extraction.image_errors import VANISHED
from simages.extraction.pipeline import Source, Unread
from simages.store.content_hash import sample_hash_of_bytes
from simages.store.fingerprint import Fingerprint

# How the reason of a file starts when a worker's copy is not the file the client fingerprinted.
WORKER_COPY_DIFFERS = "the worker's copy differs from this machine's"


@dataclass(frozen=True)
class SharedFile:
    """A file a cluster worker reads itself (`--shared-path`), with what the client saw of it: its size
    and content sample (`Fingerprint.size`, `.content`; 0 = not sampled). A worker whose copy differs (a
    stale mirror, a lagging network share) must not describe it under our name: see `read_verified`."""

    path: Path
    size: int
    content: int = 0


def read_verified(shared: SharedFile) -> bytes | Unread:
    """The worker's bytes of the file if they are the client's version (same size and content sample),
    else Unread(WORKER_COPY_DIFFERS ...) for the client to send its own bytes instead; Unread(VANISHED)
    when the worker does not see the file at all."""
    data = read_bytes(shared.path)
    if isinstance(data, Unread):
        return data
    if len(data) != shared.size or (shared.content and sample_hash_of_bytes(data) != shared.content):
        return Unread(f"{WORKER_COPY_DIFFERS} ({len(data):,} bytes there, {shared.size:,} here, or other "
                      "content): a stale mirror or a lagging share")
    return data


@dataclass
class BatchInput:
    """One batch as a mapper receives it; `items` are (image name, source) in the run's order."""

    index: int
    items: list[tuple[str, Source]] = field(default_factory=list)
    read_seconds: float = 0.0  # time the client spent reading the files' bytes (0 for paths)
    nbytes: int = 0  # bytes of image data sent with the batch (0 for paths)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.items]


def read_bytes(path: Path) -> bytes | Unread:
    """The file's bytes, or why they could not be read (the messages local decoding would give)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return Unread(VANISHED)
    except OSError as error:
        return Unread(f"cannot open: {error}")


@dataclass(frozen=True)
class Reader:
    """Batches of the images `names` below `folder`, read lazily in order.

    `send_bytes`: the client reads each file and the batch carries bytes (workers elsewhere); otherwise
    it carries paths, with `folder` replaced by `worker_folder` when the workers see it elsewhere; with
    `fingerprints` (name -> the client's Fingerprint) too, each path travels as a SharedFile the worker
    checks against what the client saw.
    """

    folder: Path
    names: list[str]
    batch_size: int
    send_bytes: bool = False
    worker_folder: Path | None = None
    fingerprints: dict[str, Fingerprint] | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[BatchInput]:
        for index, start in enumerate(range(0, len(self.names), self.batch_size)):
            yield self.read(index, self.names[start : start + self.batch_size])

    def read(self, index: int, names: list[str]) -> BatchInput:
        """One batch: bytes read now (timed), or paths for the mapper to open."""
        if not self.send_bytes:
            base = self.worker_folder or self.folder
            if self.fingerprints is not None:
                shared: list[tuple[str, Source | SharedFile]] = []
                for name in names:
                    seen = self.fingerprints.get(name)
                    path = base / name
                    shared.append((name, SharedFile(path, seen.size, seen.content) if seen else path))
                return BatchInput(index, shared)  # type: ignore[arg-type]
            return BatchInput(index, [(name, base / name) for name in names])
        started = time.perf_counter()
        items: list[tuple[str, Source]] = [(name, read_bytes(self.folder / name)) for name in names]
        nbytes = sum(len(source) for _, source in items if isinstance(source, bytes))
        return BatchInput(index, items, time.perf_counter() - started, nbytes)
