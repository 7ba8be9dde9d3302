"""Watching `image_sets/` so that new folders and added, changed or removed images are indexed unasked."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import watchfiles

from simages.naming import list_sets

log = logging.getLogger(__name__)


def sets_touched(image_sets: Path, paths: Iterable[str]) -> set[str]:
    """Names of the sets (top-level folders) that changed paths belong to; hidden entries are ignored."""
    root = image_sets.resolve()
    touched = set()
    for raw in paths:
        try:
            relative = Path(raw).resolve().relative_to(root)
        except ValueError:
            continue
        if relative.parts and not relative.parts[0].startswith("."):
            touched.add(relative.parts[0])
    return touched


class FolderWatcher:
    """Calls `on_change(set_names)` after file activity settles (watchfiles debounces bursts of events)."""

    def __init__(
        self, image_sets: Path, on_change: Callable[[set[str]], None], debounce_ms: int = 1500
    ) -> None:
        self.image_sets = image_sets
        self.on_change = on_change
        self.debounce_ms = debounce_ms
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simages-watcher", daemon=True)

    def start(self) -> None:
        self.image_sets.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for changes in watchfiles.watch(
                    self.image_sets,
                    stop_event=self._stop,
                    debounce=self.debounce_ms,
                    recursive=True,
                    raise_interrupt=False,
                    ignore_permission_denied=True,
                ):
                    touched = sets_touched(self.image_sets, (path for _, path in changes))
                    if touched:
                        self.on_change(touched)
                return
            except RuntimeError as error:
                # watchfiles cannot hand over a path that is not UTF-8 (`caf\xe9.jpg` from a Latin-1
                # archive) and stops. The lost events could concern any set, so every set is checked again
                # (cheap for unchanged ones), and watching starts over instead of ending for good.
                log.warning("watching image_sets/ restarted after: %s", error)
                self.on_change(set(list_sets(self.image_sets)))
                self._stop.wait(self.debounce_ms / 1000)
