"""A file's fingerprint, (size, modification time): cheap to read, and it changes whenever the file does."""

from __future__ import annotations

import os
from typing import NamedTuple


class Fingerprint(NamedTuple):
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> Fingerprint:
        return cls(stat.st_size, stat.st_mtime_ns)
