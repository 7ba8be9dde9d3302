"""One indexer per set at a time, across processes (the app's workers and the CLI)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from simages.naming import derived_name


@contextmanager
def exclusive_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive flock on the file `path` (created if need be); call `on_wait` once if another
    process holds it, then wait. flock locks die with their process, so a killed holder never leaves the
    lock taken. OSError if the file cannot be opened."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextmanager
def set_lock(lock_dir: Path, set_name: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock for `set_name`; call `on_wait` once if another process holds it, then wait.

    flock locks die with their process, so a killed indexer never leaves a set locked.
    """
    lock_dir.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(lock_dir / derived_name(set_name, ".lock"), on_wait):
        yield
