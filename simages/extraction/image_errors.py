"""Why an image file cannot be used, as exceptions and reasons (no Pillow import: the CLI reports these
without loading the decoders)."""

from __future__ import annotations

# The reason given for a file removed between listing and decoding; the indexer treats it as removed.
VANISHED = "file disappeared before it could be read"
# How the reason of a file that is no image at all starts: such files are listed as skipped, not unreadable.
NOT_AN_IMAGE = "not an image file"


class UnreadableImage(OSError):
    """An image that cannot be decoded; the message says why, for the index summary.

    An OSError, so every caller that already handles unreadable files handles this one too."""


class NotAnImage(UnreadableImage):
    """A file whose content is no image format Pillow (with its plug-ins) reads: notes and sidecar files,
    which the indexer skips with a word, or a damaged or mislabelled image when its name claims one."""

