"""A file's fingerprint: cheap to read, and it changes whenever the file does.

(size, modification time) from `stat` catch ordinary edits for free. An edit that keeps both (`exiftool
-P`, `touch -r`, a restore that sets the old time) still changes the inode's change time (ctime), which no
program can set back; only then is the file's content sampled (`content_hash.sample_hash`: four 4 KB
blocks) and compared with the sample stored for it, so a `chmod` or a rename costs a few reads, not a
new descriptor, and an unchanged folder is checked with `stat` alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from simages.store.content_hash import sample_hash


class Fingerprint(NamedTuple):
    size: int
    mtime_ns: int
    # store.content_hash.sample_hash of the file; 0 = not known (not sampled yet, or an older store).
    content: int = 0
    # The inode's change time; 0 = not known (an older store).
    ctime_ns: int = 0

    @classmethod
    def of(cls, stat: os.stat_result, path: str | Path | None = None) -> Fingerprint:
        """From a stat result; with `path`, the content sample is read too (four small reads)."""
        content = sample_hash(path, stat.st_size) if path is not None else 0
        return cls(stat.st_size, stat.st_mtime_ns, content, stat.st_ctime_ns)

    def with_content(self, path: str | Path) -> Fingerprint:
        """This fingerprint with its content sample (read now unless already known)."""
        return self if self.content else self._replace(content=sample_hash(path, self.size))


def same_version(
    listed: Fingerprint, known: Fingerprint | None, path: str | Path | None
) -> Fingerprint | None:
    """`listed` (from a folder scan) completed with the content sample if it is the same version of the
    file that `known` describes, else None. Reads the file only when size and modification time agree
    but the change time does not (or is not known), and once for a `known` stored before samples existed
    (it is then trusted on size and time, and the sample is taken for the next time)."""
    if known is None or listed.size != known.size or listed.mtime_ns != known.mtime_ns:
        return None
    if listed.ctime_ns and listed.ctime_ns == known.ctime_ns and known.content:
        return listed._replace(content=known.content)
    if path is None:
        return listed if not known.content else None
    sampled = listed.with_content(path)
    if not known.content or sampled.content == known.content:
        return sampled
    return None
