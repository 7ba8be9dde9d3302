"""Streaming decode: image sources in, batches of 224x224 arrays out, decoded ahead of the CNN.

A source is a file path, the file's bytes (sent by another machine), or `Unread(reason)` for a file the
sender could not read. A small thread pool decodes the next batches while the consumer runs the network
on the current one (Pillow releases the GIL while it decodes and resizes, so decoding overlaps the
convolutions). Only a few batches are ever in flight, so memory stays bounded however large the set is,
and batches come out in the order of the input. A file that cannot be decoded is reported in its batch's
`failures` and never takes the rest of the batch down with it.
"""

from __future__ import annotations

import io
import itertools
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simages.extraction.images import INPUT_SIZE, UnreadableImage, load_for_network

# Batches decoded ahead of the consumer: one being decoded while one waits keeps the CNN fed.
DEFAULT_AHEAD = 2


@dataclass(frozen=True)
class Unread:
    """A file its sender could not read; `reason` is what the index summary reports."""

    reason: str


Source = Path | bytes | Unread


@dataclass
class DecodedBatch:
    """Decoded images of one batch, in input order; names[i] belongs to images[i]."""

    names: list[str]
    images: np.ndarray  # (k, 224, 224, 3) uint8, k == len(names); k may be 0 if every file failed
    failures: list[tuple[str, str]]  # (name, reason) for files that could not be decoded
    seconds: float = 0.0  # how long the consumer waited for this batch (0 when decoding kept ahead)


def decode_source(source: Source, max_pixels: int) -> np.ndarray | str:
    """The (224, 224, 3) uint8 image, or the reason it could not be decoded (never raises for a bad file)."""
    if isinstance(source, Unread):
        return source.reason
    try:
        if isinstance(source, bytes):
            # Pillow reads a file object like a file: same decoder, same messages.
            return load_for_network(io.BytesIO(source), max_pixels)  # type: ignore[arg-type]
        return load_for_network(Path(source), max_pixels)
    except UnreadableImage as error:
        return str(error)
    except MemoryError:
        raise
    except Exception as error:  # a decoder bug in one file must not stop the whole index
        return f"could not decode: {type(error).__name__}: {error}"


def decode_batch(items: Iterable[tuple[str, Source]], max_pixels: int) -> DecodedBatch:
    """Decode one batch in the calling thread (a cluster worker: one thread per process)."""
    names, results = [], []
    for name, source in items:
        names.append(name)
        results.append(decode_source(source, max_pixels))
    return _collect(names, results)


def _collect(names: list[str], results: list[np.ndarray | str]) -> DecodedBatch:
    good_names: list[str] = []
    arrays: list[np.ndarray] = []
    failures: list[tuple[str, str]] = []
    for name, result in zip(names, results, strict=True):
        if isinstance(result, str):
            failures.append((name, result))
        else:
            good_names.append(name)
            arrays.append(result)
    images = np.stack(arrays) if arrays else np.empty((0, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    return DecodedBatch(good_names, images, failures)


def decode_ahead(
    batches: Iterable[list[tuple[str, Source]]],
    max_pixels: int,
    threads: int = 2,
    ahead: int = DEFAULT_AHEAD,
) -> Iterator[DecodedBatch]:
    """Decoded batches for batches of (name, source) items, in order, decoded on `threads` threads.

    `batches` is consumed lazily, so a generator over a huge directory is fine. At most `ahead` batches
    beyond the one being consumed are decoded or held in memory at any time.
    """
    source = iter(batches)
    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="simages-decode")
    pending: deque[tuple[list[str], list[Future]]] = deque()

    def submit_next() -> bool:
        chunk = next(source, None)
        if chunk is None:
            return False
        names = [name for name, _ in chunk]
        pending.append((names, [pool.submit(decode_source, item, max_pixels) for _, item in chunk]))
        return True

    try:
        exhausted = False
        while True:
            while not exhausted and len(pending) <= ahead:
                exhausted = not submit_next()
            if not pending:
                return
            names, futures = pending.popleft()
            waited = time.perf_counter()
            results = [future.result() for future in futures]
            batch = _collect(names, results)
            batch.seconds = time.perf_counter() - waited
            yield batch
    finally:
        # The consumer may stop early (error, cancelled job): drop queued work instead of decoding it.
        for _, futures in pending:
            for future in futures:
                future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def iter_decoded_batches(
    items: Iterable[tuple[str, Source]],
    batch_size: int,
    max_pixels: int,
    threads: int = 2,
    ahead: int = DEFAULT_AHEAD,
) -> Iterator[DecodedBatch]:
    """Batches of at most `batch_size` decoded images for (name, source) items, in order (see
    decode_ahead); ValueError if batch_size < 1."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    source = iter(items)
    chunks = iter(lambda: list(itertools.islice(source, batch_size)), [])
    return decode_ahead(chunks, max_pixels, threads, ahead)
