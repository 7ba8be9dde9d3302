"""What an indexing run reports: progress while it runs, a summary when it ends."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from simages.wording import plural


@dataclass(frozen=True)
class Progress:
    set_name: str
    done: int
    total: int


@dataclass
class IndexSummary:
    set_name: str
    new: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    resumed: int = 0  # taken from checkpoints of an interrupted run instead of recomputed
    computed: int = 0
    reused: int = 0  # found by content in another store or under another name, not computed again
    total: int = 0  # images in the store after the run
    unreadable: dict[str, str] = field(default_factory=dict)  # every unreadable image now in the set
    skipped: dict[str, str] = field(
        default_factory=dict
    )  # entries not even tried (links leaving image_sets/)
    rebuilt_because: str | None = None
    network: str | None = None  # which computation path ran; None when the model was not needed
    distributor: str | None = None  # where the mappers ran (in-process, a Dask cluster)
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage over all batches
    seconds: float = 0.0
    # Of `seconds`, the time spent building the network before the first image (on the first run, choosing
    # the engine for this CPU: a minute or more), so the images' own time is said apart from it.
    preparing_seconds: float = 0.0

    @property
    def nothing_to_do(self) -> bool:
        return (
            self.computed == 0
            and self.removed == 0
            and self.rebuilt_because is None
            and not self.resumed
            and not self.reused
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexSummary:
        return cls(**data)

    def describe(self) -> str:
        """One line for people: what changed, then what could not be read."""
        if self.nothing_to_do:
            head = f"{self.set_name}: up to date, {plural(self.total, 'image')}"
        else:
            head = (
                f"{self.set_name}: {plural(self.total, 'image')}; {self.new} new, {self.changed} changed, "
                f"{self.removed} removed"
            )
            if self.reused:
                head += (f", {self.reused} reused by content (the same bytes as an image already described: "
                         "renamed, moved or copied)")
            if self.resumed:
                head += f", {self.resumed} resumed from an interrupted run"
            if self.rebuilt_because:
                head += f" (rebuilt: {self.rebuilt_because})"
        if self.unreadable:
            head += f"; {len(self.unreadable)} unreadable"
        return head
