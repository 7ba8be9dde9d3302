"""Writing the files of a cache (thumbnails, pivot tables): a cache that cannot be written is not an error.

With `features/` read-only (a shared copy, a full disk, a folder blocked by a file of the same name), the
app still answers: what would have been cached is used from memory, and the log says so once per cache
instead of once per request.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from simages.store.atomic import write_atomically


class CacheWriter:
    """Writes one cache's files atomically; a failed write returns False and is logged only the first time.

    One per cache instance (the app's ThumbnailCache, a set's pivot tables): no process-wide state."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self.log = log
        self.what = what  # e.g. "the thumbnail cache", for the warning
        self.failures = 0
        self._lock = threading.Lock()

    def write(self, path: Path, data: bytes, durable: bool = False) -> bool:
        """Whether `data` is now the file at `path`; False (never an exception) when it cannot be written."""
        try:
            write_atomically(path, lambda stream: stream.write(data), durable=durable)
        except OSError as error:
            with self._lock:
                self.failures += 1
                first = self.failures == 1
            if first:
                self.log.warning(
                    "%s cannot be written at %s (%s): its files are kept in memory instead; "
                    "this is logged once", self.what, path.parent, error.strerror or error,
                )
            return False
        return True
