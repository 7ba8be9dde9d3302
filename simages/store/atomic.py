"""Writing a file so that a crash leaves either the old file or the whole new one, never half of one."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from simages.naming import NAME_MAX, derived_name

# What a temporary name adds to the prefix's stem: the leading ".", 8 random characters and ".tmp".
_TEMP_EXTRA = 1 + 8 + 4
# A temporary file untouched for this long, and whose writer holds no lock on it, was left by a killed one.
STALE_SECONDS = 10.0


def replaceable(path: Path) -> bool:
    """Whether `path` may be replaced by renaming a new file over it: it does not exist, or it is a regular
    file (through links). A device (/dev/null), a named pipe or a socket must be written in place: a rename
    would put a regular file where the device was (as root, /dev/null itself)."""
    try:
        return path.is_file() or not path.exists()
    except OSError:
        return True


def write_atomically(path: Path, write: Callable[[BinaryIO], None], durable: bool = True) -> None:
    """Run `write` on a temporary file beside `path`, then rename it over `path`.

    The temporary name starts with a dot, so folder scans that skip hidden files never see it.
    `durable` also flushes the data and the rename to the disk: worth it for descriptor stores and
    caches that cost minutes to rebuild, not for thumbnails. A `path` that is no regular file (see
    `replaceable`) is written in place; a link is followed, so the file it names is replaced, not the link.
    """
    if not replaceable(path):
        with path.open("wb") as stream:
            write(stream)
        return
    path = path.resolve() if path.is_symlink() else path
    path.parent.mkdir(parents=True, exist_ok=True)
    # "." + stem + "." + mkstemp's 8 random characters + ".tmp" must fit NAME_MAX too: a long stem is cut
    # and hashed like any derived name (the random part keeps concurrent writers apart).
    prefix = "." + derived_name(path.stem, ".", limit=NAME_MAX - _TEMP_EXTRA)
    handle, temp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    # Locked while it is being written, until renamed: `remove_stale_temporaries` removes only the temporary
    # files of writers that died (a kill -9 leaves them, and an ANN index's can be gigabytes).
    alive = os.dup(handle)
    try:
        # A file system without locks (some network shares) refuses: its temporaries are then never removed.
        with contextlib.suppress(OSError):
            fcntl.flock(alive, fcntl.LOCK_EX)
        # mkstemp makes the file 0600 whatever the umask; the finished file gets the mode any new file of
        # this user gets (0644 with umask 022, 0664 with 002), so a group can share features/.
        os.fchmod(handle, 0o666 & ~current_umask())
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    finally:
        os.close(alive)
    if durable:
        fsync_dir(path.parent)


def remove_stale_temporaries(folder: Path, min_age: float = STALE_SECONDS) -> int:
    """Delete the temporary files `write_atomically` left in `folder` when its process was killed; how
    many. A temporary file is stale when no process holds its lock (the lock dies with its writer) and it
    is older than `min_age` seconds (a writer locks its file a moment after creating it)."""
    removed = 0
    now = time.time()
    try:
        candidates = list(folder.glob(".*.tmp"))
    except OSError:
        return 0
    for path in candidates:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            if now - os.fstat(fd).st_mtime < min_age:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is alive
            path.unlink(missing_ok=True)
            removed += 1
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask, e.g. 0o022. Read from /proc on Linux; elsewhere set and restored at once
    under a lock (the only portable way to read it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            match = re.search(r"^Umask:\s*([0-7]+)", status.read(), re.MULTILINE)
        if match:
            return int(match.group(1), 8)
    except OSError:
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    # The rename itself must reach the disk, or a power cut could bring back the old name.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
