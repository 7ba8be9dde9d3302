"""The triage page (`/triage`) apart from drawing: one tab's state -- the answer shown, the marked copy
groups with the keeper chosen for each, the group page and focus, the bucket browsed and its page, the
group compared -- and how it changes. The answer itself is operations.triage's."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from simages.copies.levels import Level
from simages.operations.triage import CopyGroup, TriageAnswer, TriageRow

GROUPS_PER_PAGE = 20
TILES_PER_PAGE = 60


@dataclass
class TriageTab:
    """One browser tab's triage page, made by the page builder for that tab (never shared). `marked`: the
    copy groups marked to act on (by their collection photo), each with the keeper chosen (None: the
    suggested one). `page` and `focus` count from 0 (the group page, the group focused on it); `tile_page`
    is the page of the `bucket` browsed. `versions`: the stores the answer was read from, to notice a
    change; `busy` while an apply or undo runs (the page does not answer again meanwhile)."""

    answer: TriageAnswer | None = None
    marked: dict[str, str | None] = field(default_factory=dict)
    page: int = 0
    focus: int = 0
    bucket: Level = Level.EXACT
    tile_page: int = 0
    compared: str | None = None
    versions: tuple = ()
    busy: bool = False

    def restart(self) -> None:
        """A new check: no marks, the first page and group, the first tiles."""
        self.marked = {}
        self.page = self.focus = self.tile_page = 0

    def answered(self, answer: TriageAnswer | None, versions: tuple = ()) -> None:
        """A fresh answer (None: the check failed). Marks of groups that are gone (moved, decided) are
        dropped; the others stay."""
        self.answer = answer
        if answer is None:
            return
        self.versions = versions
        present = {group.existing for group in answer.groups}
        self.marked = {k: v for k, v in self.marked.items() if k in present}

    def pages(self) -> int:
        """How many pages of copy groups there are (at least 1)."""
        groups = len(self.answer.groups) if self.answer is not None else 0
        return max(1, (groups + GROUPS_PER_PAGE - 1) // GROUPS_PER_PAGE)

    def page_groups(self) -> list[CopyGroup]:
        """The copy groups of the page shown, with their suggested keepers."""
        if self.answer is None:
            return []
        start = self.page * GROUPS_PER_PAGE
        return [self.answer.suggested(group) for group in self.answer.groups[start:start + GROUPS_PER_PAGE]]

    def focused(self) -> CopyGroup | None:
        shown = self.page_groups()
        return shown[self.focus] if shown and self.focus < len(shown) else None

    def go_page(self, step: int) -> None:
        """`step` pages on (or back), kept within the pages; the focus on its first group."""
        self.page = min(self.pages() - 1, max(0, self.page + step))
        self.focus = 0

    def move_focus(self, step: int) -> bool:
        """The next (or previous) group: past the page's end the next page, before its start the previous
        page's last group. Whether anything changed."""
        shown = self.page_groups()
        if not shown:
            return False
        focus = self.focus + step
        if focus >= len(shown):
            self.go_page(1)
        elif focus < 0:
            if not self.page:
                return False
            self.go_page(-1)
            self.focus = len(self.page_groups()) - 1
        else:
            self.focus = focus
        return True

    def mark(self, group: CopyGroup, value: bool) -> None:
        """Mark (with the suggested keeper) or unmark a group."""
        if value:
            self.marked.setdefault(group.existing, None)
        else:
            self.marked.pop(group.existing, None)

    def choose(self, group: CopyGroup, member: str) -> None:
        """Keep `member` of the group (and mark it)."""
        self.marked[group.existing] = member

    def mark_many(self, groups: list[CopyGroup]) -> None:
        """Mark every group, keeping a keeper already chosen."""
        for group in groups:
            self.marked.setdefault(group.existing, None)

    def keeper(self, group: CopyGroup) -> str | None:
        """The member kept: the one chosen, else the suggested one."""
        return self.marked.get(group.existing) or group.keeper

    def is_marked(self, group: CopyGroup) -> bool:
        return group.existing in self.marked

    def toggle_compare(self, group: CopyGroup) -> None:
        """Show the group's facts side by side, or hide them when shown."""
        self.compared = None if self.compared == group.existing else group.existing

    def pick_bucket(self, level: Level) -> None:
        self.bucket, self.tile_page = level, 0

    def step_tiles(self, step: int) -> None:
        self.tile_page = max(0, self.tile_page + step)

    def tiles(self) -> TilePage:
        """The bucket's rows and which of them the tiles show."""
        rows = self.answer.bucket(self.bucket) if self.answer is not None else []
        start = self.tile_page * TILES_PER_PAGE
        return TilePage(rows, start, min(len(rows), start + TILES_PER_PAGE))

    def to_apply(self) -> tuple[TriageAnswer, dict[str, str]] | None:
        """The answer cut to the marked groups and the keepers chosen by hand, for the plan; None when
        nothing is marked."""
        if self.answer is None or not self.marked:
            return None
        marked = [g for g in self.answer.groups if g.existing in self.marked]
        keepers = {existing: keeper for existing, keeper in self.marked.items() if keeper}
        return dataclasses.replace(self.answer, groups=marked), keepers


@dataclass(frozen=True)
class TilePage:
    """The rows of the bucket browsed, and the shown ones: rows[start:stop]."""

    rows: list[TriageRow]
    start: int
    stop: int

    @property
    def paged(self) -> bool:
        """Whether there is more than one page (the pager shows)."""
        return len(self.rows) > self.stop or self.start > 0
