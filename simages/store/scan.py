"""Walking a set's folder: which files it holds now, with their fingerprints.

Every visible regular file is listed, whatever its extension: whether it is an image is decided by its
content when it is first decoded (`.jfif`, `.avif`, `.heic`, a camera's `.JPG_original`, a file without
an extension), and a file that is no image is remembered as such with its fingerprint, so it is read
only once per version. Hidden files and folders are skipped (editors and OSes leave them around), and so
is every symbolic link that leads outside `image_sets/`: a set must never expose a file the user did not
put into it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from simages.store.fingerprint import Fingerprint


@dataclass
class SetListing:
    files: dict[str, Fingerprint] = field(default_factory=dict)
    # name -> why it was left out (links outside image_sets/, files that vanished while listing)
    skipped: dict[str, str] = field(default_factory=dict)


def scan_set(folder: Path, boundary: Path | None = None) -> SetListing:
    """List the files below `folder` by name relative to it, `/`-separated, sorted.

    `boundary` is the folder links may point into (default: the parent of `folder`, i.e. `image_sets/`).
    """
    listing = SetListing()
    boundary_real = os.path.realpath(boundary or folder.parent)
    stack = [("", str(folder))]
    while stack:
        prefix, current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as error:
            listing.skipped[prefix or "."] = f"cannot list folder: {error.strerror or error}"
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            name = prefix + entry.name
            try:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if os.path.commonpath([boundary_real, target]) != boundary_real:
                        listing.skipped[name] = "symbolic link to a place outside image_sets/ (not followed)"
                        continue
                    if os.path.isdir(target):
                        # Links to folders inside the tree could form cycles; sets use real folders.
                        listing.skipped[name] = "symbolic link to a folder (not followed)"
                        continue
                if entry.is_dir():
                    stack.append((name + "/", entry.path))
                elif entry.is_file():
                    listing.files[name] = Fingerprint.of(entry.stat())  # stat only: see fingerprint.py
            except FileNotFoundError:
                continue  # removed while we were listing; the next scan will not see it either
    listing.files = dict(sorted(listing.files.items()))
    return listing
