"""Sets and images are addressed by names, never by paths: every name is checked to lie inside its set.

A set is a direct sub-folder of `image_sets/`; an image is a path relative to its set, written with `/`,
sub-folders allowed. Names come from URLs, uploads and the command line, so each is validated before it
touches the file system, and the resolved path is checked once more (symlinks may point anywhere).

Every name the file system allows is a valid name: colons (`8:30 am.jpg`), quotes, `#`, `%`, and bytes
that are not UTF-8 (`caf\\xe9.jpg` written in Latin-1). Python hands the latter over as str with
"surrogate escapes" (PEP 383, `os.fsdecode`), and that str is the name everywhere inside SIMages. At the
edges it is encoded so it round-trips to the same file: in URLs as the percent-encoded file-system bytes
(`url_quote` / `url_unquote`), in text for people with `\\xNN` escapes (`display_name`).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
_MAX_NAME = 1024
_WINDOWS = os.name == "nt"


class InvalidName(ValueError):
    """A set or image name that is not acceptable; the message is meant for the user."""


def is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


def _check_component(component: str, what: str) -> None:
    if component in ("", ".", ".."):
        raise InvalidName(f"invalid {what} name: empty, '.' or '..' parts are not allowed")
    if component.startswith("."):
        raise InvalidName(f"invalid {what} name: hidden entries (starting with '.') are not served")
    if "\x00" in component:
        raise InvalidName(f"invalid {what} name: NUL characters are not allowed")
    # On Windows a backslash separates folders and `C:` names a drive; on POSIX both are ordinary
    # characters of a file name (`1:1 crops`), which the folder join below keeps inside the set.
    if _WINDOWS and ("\\" in component or ":" in component):
        raise InvalidName(f"invalid {what} name: backslashes and colons are not allowed on Windows")


def validate_set_name(name: str) -> str:
    """Return the name if it can be a set (one folder name, not hidden), else raise InvalidName."""
    if not isinstance(name, str) or not name or len(name) > 255:
        raise InvalidName("a set name is a folder name of 1 to 255 characters")
    if "/" in name:
        raise InvalidName("a set name is a single folder name, without '/'")
    _check_component(name, "set")
    return name


def validate_image_name(name: str) -> str:
    """Return the image name (relative, '/'-separated, no '..') if acceptable, else raise InvalidName."""
    if not isinstance(name, str) or not name or len(name) > _MAX_NAME:
        raise InvalidName("an image name is a relative path of 1 to 1024 characters")
    if name.startswith("/"):
        raise InvalidName("an image name is relative to its set; absolute paths are not allowed")
    for component in name.split("/"):
        _check_component(component, "image")
    return name


def is_inside(path: Path, folder: Path) -> bool:
    """Whether `path` lies in `folder` (both taken as given: resolve them first to follow links)."""
    return path.is_relative_to(folder)


def set_dir(image_sets: Path, set_name: str) -> Path:
    """The folder of an existing set; InvalidName if the name is bad, LookupError if there is no such set."""
    validate_set_name(set_name)
    folder = image_sets / set_name
    real_root = image_sets.resolve()
    if not folder.is_dir() or not is_inside(folder.resolve(), real_root):
        raise LookupError(f"no image set named {set_name!r}")
    return folder


def image_path(image_sets: Path, set_name: str, image_name: str) -> Path:
    """The file of an existing image of a set, guaranteed to resolve inside `image_sets/`."""
    folder = set_dir(image_sets, set_name)
    validate_image_name(image_name)
    path = folder.joinpath(*image_name.split("/"))
    real = Path(os.path.realpath(path))
    if not is_inside(real, image_sets.resolve()) or not real.is_file():
        raise LookupError(f"no image {image_name!r} in set {set_name!r}")
    return path


def list_sets(image_sets: Path) -> list[str]:
    """Sub-folders of `image_sets/` that are sets: visible, real folders (or links that stay inside)."""
    if not image_sets.is_dir():
        return []
    real_root = image_sets.resolve()
    names = []
    for entry in os.scandir(image_sets):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        if entry.is_symlink() and not is_inside(Path(os.path.realpath(entry.path)), real_root):
            continue
        names.append(entry.name)
    return sorted(names)


def url_quote(name: str) -> str:
    """A set or image name as a URL query value: its file-system bytes, percent-encoded (UTF-8 names are
    encoded exactly as usual). Inverse: `url_unquote`."""
    return quote(os.fsencode(name), safe="")


def url_unquote(text: str) -> str:
    """The name a `url_quote`d value stands for; bytes that are not UTF-8 come back as surrogate escapes,
    i.e. as the same str `os.scandir` gives for that file."""
    return unquote(text, encoding="utf-8", errors="surrogateescape")


def display_name(name: str) -> str:
    """The name as printable text for people: bytes that are not UTF-8 shown as `\\xNN`."""
    return os.fsencode(name).decode("utf-8", errors="backslashreplace") if _has_escapes(name) else name


def _has_escapes(name: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in name)
