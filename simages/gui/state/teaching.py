"""What the teaching panel ("How was this computed?") remembers in one tab across searches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The dimension select's value for "the searched space itself".
AS_SEARCHED = 0


@dataclass
class TeachingMemory:
    """Open or not, the pivot count the user picked (None: the set's own default), the dimension
    (AS_SEARCHED or a PCA dimension), the join key shown, and whether to scroll to the panel once drawn."""

    open: bool = False
    pivots: int | None = None
    dimension: int = AS_SEARCHED
    key: str | None = None
    scroll: bool = False


def memory_of(holder: TeachingMemory | dict[str, Any]) -> TeachingMemory:
    """The tab's TeachingMemory; a plain dict (a test's own page, a script) keeps one under "teaching"."""
    if isinstance(holder, TeachingMemory):
        return holder
    found = holder.setdefault("teaching", TeachingMemory())
    assert isinstance(found, TeachingMemory)
    return found
