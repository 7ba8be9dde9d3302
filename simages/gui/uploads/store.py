"""Uploaded key images, kept in memory under a random id and never added to any set.

An upload cannot be described by a URL, so the results URL carries only its id; the id is unguessable
(uuid4), which keeps one tab's upload out of another's reach. Only the newest uploads are kept.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class UploadedKey:
    id: str
    filename: str
    vector: np.ndarray
    thumbnail: bytes  # a JPEG, also used as the full-screen image: the original is not kept
    # What the viewer says about the original: its pixel size and file size in bytes (None: unknown).
    width: int | None = None
    height: int | None = None
    size_bytes: int | None = None
    # The key also turned by 90/180/270 degrees and mirrored ((5, d), row 0 = `vector`), for duplicates
    # searches (simages.copies.turns); None when the describer gave only `vector`.
    oriented: np.ndarray | None = None
    # The upload's format (JPEG, PNG...) and SHA-256 of its bytes: "re-encoded" (simages.copies.changes).
    format: str = ""
    sha256: str = ""


class UploadStore:
    """A bounded, thread-safe map from upload id to UploadedKey (oldest forgotten first)."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, UploadedKey] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, filename: str, vector: np.ndarray, thumbnail: bytes, *, width: int | None = None,
            height: int | None = None, size_bytes: int | None = None, oriented: np.ndarray | None = None,
            format: str = "", sha256: str = "") -> UploadedKey:
        rows = None if oriented is None else np.asarray(oriented, dtype=np.float32)
        item = UploadedKey(uuid.uuid4().hex, filename, np.asarray(vector, dtype=np.float32), thumbnail, width,
                           height, size_bytes, rows, format, sha256)
        with self._lock:
            self._items[item.id] = item
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return item

    def get(self, upload_id: str) -> UploadedKey | None:
        with self._lock:
            item = self._items.get(upload_id)
            if item is not None:
                self._items.move_to_end(upload_id)
            return item


# The browser refuses a file before sending it (Quasar's `accept` and `max-file-size`); this hands the
# server what it needs to say why: which check failed, and the file's name, size and type.
REJECTED_JS = (
    "(entries) => emit(entries.map((entry) => ({why: entry.failedPropValidation, "
    "name: entry.file ? entry.file.name : '', size: entry.file ? entry.file.size : 0, "
    "type: entry.file ? entry.file.type : ''})))"
)
# What the file picker offers: images by MIME type, plus extensions browsers often give no image type.
ACCEPT = "image/*,.heic,.heif,.avif,.jfif,.jp2,.j2k,.tif,.tiff,.webp"


def rejection_message(entries: object, limit_bytes: int) -> str:
    """Why the browser refused a file, in words, from REJECTED_JS's report (anything else is tolerated:
    the report comes from the client). Says "too large" only when the size was the reason."""
    items = entries if isinstance(entries, list) else [entries]
    if len(items) == 1 and isinstance(items[0], list):
        items = items[0]  # NiceGUI may pass the emitted list as the only argument
    limit_mb = limit_bytes // (1024 * 1024)
    for item in items:
        if not isinstance(item, dict):
            continue
        name = str(item.get("name") or "That file")
        why = str(item.get("why") or "")
        if why in ("max-file-size", "max-total-size"):
            size = item.get("size")
            size_text = f" ({float(size) / (1024 * 1024):.1f} MB)" if isinstance(size, (int, float)) else ""
            return f"{name} is too large{size_text}: the limit is {limit_mb} MB."
        if why == "accept":
            kind = str(item.get("type") or "")
            kind_text = f" ({kind})" if kind else ""
            return (f"{name} is not an image file{kind_text}: choose a photo (JPEG, PNG, WebP, HEIC, "
                    "TIFF…).")
        if why:
            return f"{name} was refused by the browser ({why})."
    return f"That file was refused: upload one image file of at most {limit_mb} MB."
