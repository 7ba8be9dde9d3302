"""Streaming decode for indexing: image files in, batches of 224x224 arrays out, decoded ahead of the CNN.

A small thread pool decodes the next batches while the consumer runs the network on the current one
(Pillow releases the GIL while it decodes and resizes, so decoding overlaps the convolutions). Only a
few batches are ever in flight, so memory stays bounded however large the set is, and batches come out
in the order of the input. A file that cannot be decoded is reported in its batch's `failures` and never
takes the rest of the batch down with it.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simages.extraction.images import INPUT_SIZE, UnreadableImage, load_for_network

# Batches decoded ahead of the consumer: one being decoded while one waits keeps the CNN fed.
DEFAULT_AHEAD = 2


@dataclass
class DecodedBatch:
    """Decoded images of one batch, in input order; names[i] belongs to images[i]."""

    names: list[str]
    images: np.ndarray  # (k, 224, 224, 3) uint8, k == len(names); k may be 0 if every file failed
    failures: list[tuple[str, str]]  # (name, reason) for files that could not be decoded


def _decode_one(path: Path, max_pixels: int) -> np.ndarray | str:
    """The image array, or the reason it could not be decoded (never raises for a bad file)."""
    try:
        return load_for_network(Path(path), max_pixels)
    except UnreadableImage as error:
        return str(error)
    except MemoryError:
        raise
    except Exception as error:  # a decoder bug in one file must not stop the whole index
        return f"could not decode: {type(error).__name__}: {error}"


def _collect(names: list[str], futures: list[Future]) -> DecodedBatch:
    good_names: list[str] = []
    arrays: list[np.ndarray] = []
    failures: list[tuple[str, str]] = []
    for name, future in zip(names, futures, strict=True):
        result = future.result()
        if isinstance(result, str):
            failures.append((name, result))
        else:
            good_names.append(name)
            arrays.append(result)
    images = np.stack(arrays) if arrays else np.empty((0, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    return DecodedBatch(good_names, images, failures)


def iter_decoded_batches(
    items: Iterable[tuple[str, Path]],
    batch_size: int,
    max_pixels: int,
    threads: int = 2,
    ahead: int = DEFAULT_AHEAD,
) -> Iterator[DecodedBatch]:
    """Batches of at most `batch_size` decoded images for (name, path) items, in order.

    `items` is consumed lazily, so a generator over a huge directory is fine. At most `ahead` batches
    beyond the one being consumed are decoded or held in memory at any time.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    source = iter(items)
    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="simages-decode")
    pending: deque[tuple[list[str], list[Future]]] = deque()

    def submit_next() -> bool:
        chunk = list(itertools.islice(source, batch_size))
        if not chunk:
            return False
        names = [name for name, _ in chunk]
        pending.append((names, [pool.submit(_decode_one, path, max_pixels) for _, path in chunk]))
        return True

    try:
        exhausted = False
        while True:
            while not exhausted and len(pending) <= ahead:
                exhausted = not submit_next()
            if not pending:
                return
            names, futures = pending.popleft()
            yield _collect(names, futures)
    finally:
        # The consumer may stop early (error, cancelled job): drop queued work instead of decoding it.
        for _, futures in pending:
            for future in futures:
                future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
