"""Cheap and full content hashes of image files.

`sample_hash` reads four 4 KB blocks (start, one third, two thirds, end): it catches an edit that keeps a
file's size and modification time (`exiftool -P`, `touch -r`, a restore from a backup) at the cost of a
few page reads per file, so it can be part of every folder scan. `file_digest` hashes the whole file: it
identifies a file's content for reusing descriptors after a rename or a move, where a sample could be
fooled by two uncompressed scans that differ only between the sampled blocks.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

BLOCK = 4096
_CHUNK = 1 << 20


def _offsets(size: int) -> list[int]:
    return sorted({0, size // 3, (2 * size) // 3, max(0, size - BLOCK)})


def _value(digest: hashlib._Hash) -> int:  # type: ignore[name-defined]
    value = int.from_bytes(digest.digest(), "little", signed=True)
    return value or 1


def sample_hash(path: str | Path, size: int) -> int:
    """A non-zero signed 64-bit hash of the size and four sampled blocks; 0 if the file cannot be read
    (0 means "content unknown" in a Fingerprint). Errors: none (unreadable files give 0)."""
    digest = hashlib.blake2b(size.to_bytes(8, "little", signed=False), digest_size=8)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return 0
    try:
        for offset in _offsets(size):
            digest.update(os.pread(fd, BLOCK, offset))
    except OSError:
        return 0
    finally:
        os.close(fd)
    return _value(digest)


def sample_hash_of_bytes(data: bytes) -> int:
    """`sample_hash` of a file whose whole content is `data` (what a cluster worker read)."""
    digest = hashlib.blake2b(len(data).to_bytes(8, "little", signed=False), digest_size=8)
    for offset in _offsets(len(data)):
        digest.update(data[offset : offset + BLOCK])
    return _value(digest)


def file_digest(path: str | Path) -> str:
    """BLAKE2b-128 of the whole file as 32 hex digits; OSError if it cannot be read."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
