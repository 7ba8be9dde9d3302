"""The indexing status of a set as the app shows it."""

from __future__ import annotations

from dataclasses import dataclass, field

INDEXED = "indexed"
INDEXING = "indexing"
WAITING = "waiting"
FAILED = "failed"
NOT_INDEXED = "not indexed"


@dataclass(frozen=True)
class SetStatus:
    name: str
    state: str = NOT_INDEXED
    count: int = 0  # images in the store
    done: int = 0  # progress of the running job
    total: int = 0
    message: str = ""  # a failure's reason, or the last run's summary
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def queryable(self) -> bool:
        """A store exists, even if a newer run is on its way: joins can use it meanwhile."""
        return self.count > 0 or self.state == INDEXED
