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


class UploadStore:
    """A bounded, thread-safe map from upload id to UploadedKey (oldest forgotten first)."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, UploadedKey] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, filename: str, vector: np.ndarray, thumbnail: bytes, *, width: int | None = None,
            height: int | None = None, size_bytes: int | None = None) -> UploadedKey:
        item = UploadedKey(uuid.uuid4().hex, filename, np.asarray(vector, dtype=np.float32), thumbnail, width,
                           height, size_bytes)
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
