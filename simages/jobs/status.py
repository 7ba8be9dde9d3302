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
    seconds_left: float | None = None  # of the running job, once its rate is known

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def time_left(self) -> str:
        """'about 3 min left' while a running job's rate is known, else ''."""
        return format_time_left(self.seconds_left) if self.state == INDEXING else ""

    @property
    def queryable(self) -> bool:
        """A store exists, even if a newer run is on its way: joins can use it meanwhile."""
        return self.count > 0 or self.state == INDEXED


# Before this many images or seconds, a rate says more about start-up than about the set.
_MIN_IMAGES_FOR_ESTIMATE = 4
_MIN_SECONDS_FOR_ESTIMATE = 2.0


def estimate_seconds_left(done: int, total: int, first_done: int, elapsed: float) -> float | None:
    """Time left for `total - done` images at the rate seen since progress stood at `first_done`
    `elapsed` seconds ago; None while too little has been seen to tell."""
    measured = done - first_done
    if measured < _MIN_IMAGES_FOR_ESTIMATE or elapsed < _MIN_SECONDS_FOR_ESTIMATE or total <= done:
        return None
    return (total - done) * elapsed / measured


def format_time_left(seconds: float | None) -> str:
    """'about 40 s left', 'about 3 min left', 'about 1 h 20 min left'; '' when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60} min left"
