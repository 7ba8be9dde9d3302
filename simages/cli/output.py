"""What the command line writes: any file name, into any pipe, under any locale, without a traceback.

Names: a file name that is not valid UTF-8 reaches Python as str with surrogate escapes (PEP 383). Written
out, each escape becomes its original byte again, so CSV and table output name the very same file (as
`ls` and `find` do in a pipe); a character the output's encoding lacks (a Latin-1 locale) is written as a
backslash escape instead of stopping the output half way. JSON escapes every non-ASCII character anyway.

Pipes: when the reader goes away (`simages join ... | head -1`) the command stops quietly with the
status a process killed by SIGPIPE has (141), as the usual Unix tools do, instead of an error message.
"""

from __future__ import annotations

import codecs
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from simages.store.atomic import current_umask, fsync_dir, replaceable

# The codec error handler that writes names back as their file-system bytes (see the module docstring).
NAME_ERRORS = "simages-names"
# Exit status of a process stopped by SIGPIPE (128 + 13), what `yes | head -1` leaves for `yes`.
EXIT_BROKEN_PIPE = 141


def _names_handler(error: UnicodeError) -> tuple[str | bytes, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    if all("\udc80" <= char <= "\udcff" for char in text):
        return bytes(ord(char) - 0xDC00 for char in text), error.end
    return "".join(f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}" for c in text), error.end


codecs.register_error(NAME_ERRORS, _names_handler)


class OutputClosed(Exception):
    """The reader of standard output went away (a closed pipe). Not an OSError, so a command's own
    handling of write errors (a full disk, a missing folder) never mistakes it for one."""


class _PipeAwareStream:
    """Standard output as commands see it: writes that hit a closed pipe raise OutputClosed."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError as error:
            raise OutputClosed from error

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError as error:
            raise OutputClosed from error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def prepare_stdout() -> None:
    """Make sys.stdout safe for any name and any pipe (call once, before a command writes)."""
    stream = sys.stdout
    if isinstance(stream, _PipeAwareStream):
        return
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors=NAME_ERRORS)
    sys.stdout = _PipeAwareStream(stream)  # type: ignore[assignment]


def silence_stdout() -> int:
    """After OutputClosed: point the standard output descriptor at /dev/null, so the interpreter's final
    flush cannot complain either (Python's documented recipe for SIGPIPE); the exit status to return."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


def open_text_output(path: Path) -> TextIO:
    """A CSV or text file for writing: UTF-8 whatever the locale, names written as their own bytes."""
    return path.open("w", newline="", encoding="utf-8", errors=NAME_ERRORS)


def check_target(target: str | None) -> None:
    """LookupError when `target` names a file in a folder that does not exist (said before the work)."""
    if target is not None and target != "-":
        folder = Path(target).expanduser().parent
        if not folder.is_dir():
            raise LookupError(f"cannot write {target}: folder {folder} does not exist")


@contextmanager
def output_to(target: str | None) -> Iterator[TextIO]:
    """Where a command writes its answer: standard output for None or '-', else the file `target`,
    written atomically -- into a hidden temporary file beside it, flushed to the disk, then renamed over
    it -- so a failure (a full disk), Ctrl-C or a kill part way leaves the earlier file as it was and no
    half-written one. LookupError when the folder does not exist; OSError when the file cannot be written
    (the temporary file is removed). A target that exists and is no regular file (/dev/null, a named pipe,
    /dev/stdout) is written in place: renaming over it would replace the device or pipe itself."""
    if target is None or target == "-":
        yield sys.stdout
        return
    check_target(target)
    path = Path(target).expanduser()
    if not replaceable(path):
        with open_text_output(path) as stream:
            yield stream
        return
    path = path.resolve()  # through a link: the file it names is replaced, the link stays
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, 0o666 & ~current_umask())
        with os.fdopen(handle, "w", newline="", encoding="utf-8", errors=NAME_ERRORS) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
