"""What every page of one app shares: settings, the index manager and the caches, created by the app factory.

Pages get this object as an argument instead of reaching for module globals, so two apps (two tests) in
one process never see each other's state, and per-tab state stays in each page's own closure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from simages.atlas.cache import MapCache
from simages.gui.routes.thumbnails import ThumbnailCache
from simages.gui.uploads.store import UploadStore
from simages.jobs.join_runner import JoinRunner
from simages.nearest.sets.cache import DescriptorCache
from simages.settings import Settings


class SetStatusLike(Protocol):
    name: str
    state: str  # "indexed" | "indexing" | "waiting" | "failed" | "not indexed"
    count: int
    done: int
    total: int
    message: str
    unreadable: dict[str, str]


class ManagerLike(Protocol):
    """The part of simages.jobs.manager.IndexManager the GUI uses."""

    def statuses(self) -> list[Any]: ...

    def status(self, set_name: str) -> Any: ...

    async def describe_upload(self, path: Path) -> np.ndarray: ...


@dataclass
class GuiContext:
    settings: Settings
    manager: ManagerLike
    descriptors: DescriptorCache = field(default_factory=DescriptorCache)
    uploads: UploadStore = field(default_factory=UploadStore)
    thumbnails: ThumbnailCache = field(init=False)
    # The atlas maps this app computed but could not write to features/ (kept in memory instead).
    maps: MapCache = field(default_factory=MapCache)
    # Set joins of the join page, run in the background and cached per (sets, settings, store versions).
    joins: JoinRunner = field(init=False)
    # Upload size limit (bytes): large enough for any camera photo, small enough to refuse junk quickly.
    max_upload_bytes: int = 25 * 1024 * 1024
    # `simages serve --read-only`: pages show, nothing acts on the user's files (the triage page's marking,
    # apply, undo and decisions are not offered, and refused if reached).
    read_only: bool = False

    def __post_init__(self) -> None:
        self.thumbnails = ThumbnailCache(self.settings)
        self.joins = JoinRunner(self.settings, self.descriptors)
