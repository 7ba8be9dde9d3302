"""Sets and images are addressed by names, never by paths: every name is checked to lie inside its set.

A set is a direct sub-folder of `image_sets/`; an image is a path relative to its set, written with `/`,
sub-folders allowed. Names come from URLs, uploads and the command line, so each is validated before it
touches the file system, and the resolved path is checked once more (symlinks may point anywhere). A set
folder may itself be a link to a folder anywhere (the user's choice); images must resolve inside it.

Every name the file system allows is a valid name: colons (`8:30 am.jpg`), quotes, `#`, `%`, and bytes
that are not UTF-8 (`caf\\xe9.jpg` written in Latin-1). Python hands the latter over as str with
"surrogate escapes" (PEP 383, `os.fsdecode`), and that str is the name everywhere inside SIMages. At the
edges it is encoded so it round-trips to the same file: in URLs as the percent-encoded file-system bytes
(`url_quote` / `url_unquote`), in text for people with `\\xNN` escapes (`display_name`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
_MAX_NAME = 1024
# The longest file name (in bytes) of ext4, XFS, Btrfs, APFS and NTFS (255 UTF-16 units there, at least as
# many bytes); a set name may be that long, so every file named after a set goes through `derived_name`.
NAME_MAX = 255
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
    """Return the name if it can be a set (one folder name, not hidden), else raise InvalidName. The length
    is counted in the file system's bytes (81 CJK characters are 243 bytes), as the file system counts it."""
    if not isinstance(name, str) or not name or len(os.fsencode(name)) > NAME_MAX:
        raise InvalidName(f"a set name is a folder name of 1 to {NAME_MAX} bytes")
    if "/" in name:
        raise InvalidName("a set name is a single folder name, without '/'")
    _check_component(name, "set")
    return name


def derived_name(name: str, suffix: str = "", limit: int = NAME_MAX) -> str:
    """The file name of something derived from `name` (a set's store `name + ".npz"`, its lock, its ANN
    index...): `name + suffix` when that fits in `limit` bytes, else the longest start of `name` that
    leaves room (cut between characters), `~`, 12 hex digits of the sha256 of the whole name, and `suffix`.

    Every file named after a set is named through this, so a set whose folder name is as long as the file
    system allows (255 bytes) still gets a store, checkpoints, a lock and indexes; two long names sharing
    their start get different names. Names that fit are unchanged, so existing files keep their names.
    ValueError if `suffix` alone leaves no room."""
    raw = os.fsencode(name)
    tail = os.fsencode(suffix)
    if len(raw) + len(tail) <= limit:
        return name + suffix
    digest = "~" + hashlib.sha256(raw).hexdigest()[:12]
    room = limit - len(tail) - len(digest)
    if room < 1:
        raise ValueError(f"no room for a name in {limit} bytes with the suffix {suffix!r}")
    cut = room
    while cut > 0 and (raw[cut] & 0xC0) == 0x80:  # do not cut a UTF-8 character in two
        cut -= 1
    return os.fsdecode(raw[:cut]) + digest + suffix


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
    """The folder of an existing set; InvalidName if the name is bad, LookupError if there is no such set.

    The one rule for sets, used by the CLI, the indexer and the app: a set is a visible direct entry of
    `image_sets/` that is a folder, or a symbolic link to a folder anywhere (linking ~/Pictures into
    image_sets/ is the user's explicit choice). The name itself cannot leave image_sets/ (one component,
    no '..'); what is checked to stay inside is each image, see image_path."""
    validate_set_name(set_name)
    folder = image_sets / set_name
    refusal = refused_link(image_sets, set_name)
    if refusal:
        raise LookupError(refusal)
    if not folder.is_dir():
        if folder.is_symlink():
            target = os.readlink(folder)
            raise LookupError(f"image set {set_name!r} is a link to {target}, which is no folder")
        raise LookupError(f"no image set named {set_name!r}")
    return folder


def refused_link(image_sets: Path, set_name: str) -> str | None:
    """Why the entry `set_name` of `image_sets/` is a link that cannot be a set, or None. A link to a folder
    that holds image_sets/ itself (`/`, the home folder holding the root) would index the image sets, the
    features and everything beside them as one set."""
    folder = image_sets / set_name
    if not folder.is_symlink() or not folder.is_dir():
        return None
    if is_inside(image_sets.resolve(), Path(os.path.realpath(folder))):
        return (f"{display_name(set_name)} is a link to {os.path.realpath(folder)}, a folder holding "
                "image_sets/ itself: it is not used as a set (link a folder of photos instead)")
    return None


def image_path(image_sets: Path, set_name: str, image_name: str) -> Path:
    """The file of an existing image of a set, guaranteed to resolve inside its set's real folder (or inside
    `image_sets/`: a link from one set to another set's image is fine)."""
    folder = set_dir(image_sets, set_name)
    validate_image_name(image_name)
    path = folder.joinpath(*image_name.split("/"))
    real = Path(os.path.realpath(path))
    inside = is_inside(real, Path(os.path.realpath(folder))) or is_inside(real, image_sets.resolve())
    if not inside or not real.is_file():
        raise LookupError(f"no image {image_name!r} in set {set_name!r}")
    return path


def list_sets(image_sets: Path) -> list[str]:
    """The sets of `image_sets/` by set_dir's rule: visible folders, or links to folders anywhere."""
    if not image_sets.is_dir():
        return []
    names = []
    for entry in os.scandir(image_sets):
        if entry.name.startswith(".") or not entry.is_dir():  # is_dir follows links; a broken one is not
            continue
        if entry.is_symlink() and refused_link(image_sets, entry.name):
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
