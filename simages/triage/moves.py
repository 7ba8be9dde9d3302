"""Moving one file so that no crash can lose it, duplicate it or overwrite another file.

`transfer(source, target, digest)` is idempotent: called again after a kill -9 at any point of an earlier
call, it finishes that call from what is on disk. Within one file system the file is hard-linked to its
target (which fails rather than overwrite an existing file), the link is made durable, then the source
name is removed: at every instant the content has at least one name, and two names only between the two
steps, which a rerun resolves (same inode: drop the source name). Across file systems (an image set that
is a link to another disk) the content is copied to a hidden partial file beside the target, fsync'd,
checked against the digest, linked to the target name, and only then is the source removed; a rerun
deletes a left-over partial file (never anything else) and starts that copy again.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from simages.store.content_hash import file_digest

PARTIAL_SUFFIX = ".simages-partial"
_CHUNK = 1 << 20
# Errors that mean "this file system cannot hard-link": fall back to a rename after checking the target.
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}


class Refused(Exception):
    """The file was not moved, for a reason meant for the user (it is left where it was)."""


def partial_path(target: Path) -> Path:
    """The hidden file a cross-device copy is written to before it gets the target's name."""
    return target.with_name(f".{target.name}{PARTIAL_SUFFIX}")


def transfer(source: Path, target: Path, digest: str) -> None:
    """Move `source` to `target` (a new name; parent folders created), the content checked to have the
    whole-file `digest` (store.content_hash.file_digest) first.

    Raises Refused when the file must stay where it is (gone, changed, a link, another file at the target),
    and OSError when the system refuses (ENOSPC, EROFS, EACCES): in both cases nothing is half-moved (a
    partial copy is removed) and the source keeps its content."""
    for left_over in (partial_path(target), partial_path(source)):
        _remove_partial(left_over)
    source_there, target_there = os.path.lexists(source), os.path.lexists(target)
    if target_there:
        _finish_existing(source, target, digest, source_there)
        return
    if not source_there:
        raise Refused("it is gone (deleted or moved since the plan was made)")
    if os.path.islink(source) or not source.is_file():
        raise Refused("it is not a regular file (a link or a folder); only regular files are moved")
    if file_digest(source) != digest:
        raise Refused("it changed since the plan was made (its content is not the one planned)")
    created = _make_parents(target.parent)
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        raise Refused(f"another file appeared at {target}") from None
    except OSError as error:
        if error.errno == errno.EXDEV:
            _copy_across(source, target, digest)
        elif error.errno in _NO_LINKS:
            _rename_no_clobber(source, target)
            return
        else:
            _remove_empty(created)
            raise
    _fsync_dir(target.parent)
    os.unlink(source)
    _fsync_dir(source.parent)


def _finish_existing(source: Path, target: Path, digest: str, source_there: bool) -> None:
    """The target name exists: an earlier call got that far (finish it), or another file is there."""
    if not source_there:
        if os.path.isfile(target) and file_digest(target) == digest:
            return  # moved already
        raise Refused(f"another file is at {target}")
    if os.path.samefile(source, target):
        pass  # linked, not yet unlinked
    elif not (file_digest(target) == digest and file_digest(source) == digest):
        raise Refused(f"another file is already at {target}")
    # Both names hold the planned content (a link, or a verified copy): the source name is the extra one.
    _fsync_dir(target.parent)
    os.unlink(source)
    _fsync_dir(source.parent)


def _copy_across(source: Path, target: Path, digest: str) -> None:
    partial = partial_path(target)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with open(source, "rb") as reader:
            while chunk := reader.read(_CHUNK):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
        shutil.copystat(source, partial)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        partial.unlink(missing_ok=True)
        raise
    os.close(fd)
    if file_digest(partial) != digest:
        partial.unlink(missing_ok=True)
        raise Refused("its copy on the other disk did not read back identical; it was left in place")
    try:
        os.link(partial, target)
    except FileExistsError:
        partial.unlink(missing_ok=True)
        raise Refused(f"another file appeared at {target}") from None
    except OSError as error:
        if error.errno not in _NO_LINKS:
            partial.unlink(missing_ok=True)
            raise
        _rename_no_clobber(partial, target)
        return
    partial.unlink()


def _rename_no_clobber(source: Path, target: Path) -> None:
    # Only on file systems without hard links; the caller holds the triage lock, so nobody else of
    # SIMages creates the target between the check and the rename.
    if os.path.lexists(target):
        raise Refused(f"another file is already at {target}")
    os.rename(source, target)
    _fsync_dir(target.parent)
    _fsync_dir(source.parent)


def _remove_partial(path: Path) -> None:
    if path.name.endswith(PARTIAL_SUFFIX) and os.path.lexists(path):
        path.unlink()


def _make_parents(folder: Path) -> list[Path]:
    """Create `folder` and missing parents durably; the folders created, deepest first."""
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        _fsync_dir(path.parent)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
