"""The start page (`/`) apart from drawing: one tab's state -- the chosen sets, the rule that the searched
set follows the key set, the shuffle order and the grid page -- its URL, and the decisions it shows."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from simages.gui.urls.query import home_url
from simages.naming import display_name

# Key images per grid page.
PAGE_SIZE = 48


def initial_set(requested: str | None, sets: Sequence[str]) -> str | None:
    """The set a link asks for when it exists, else the first set (None without sets)."""
    if requested in sets:
        return requested
    return sets[0] if sets else None


def positive_int(text: str | None, default: int) -> int:
    """A positive integer from a URL parameter (below 2**31), else `default`."""
    try:
        value = int(text or "")
    except ValueError:
        return default
    return value if 0 < value < 1 << 31 else default


def shuffled_link(params: Mapping[str, str]) -> bool:
    """Whether a link asks for the shuffled order (`shuffle=SEED`)."""
    return positive_int(params.get("shuffle"), 0) > 0


def new_seed(rng: random.Random | None = None) -> int:
    """A shuffle order's seed: a positive integer, so `shuffle=SEED` in the URL restores it."""
    return (rng or random).randrange(1, 1 << 30)


@dataclass
class HomeTab:
    """One browser tab's start page, made by the page builder for that tab (never shared). `pinned`: the
    searched set was picked by hand and no longer follows the key set. `seed`: the shuffle order (used
    while the Shuffle switch is on). `page`: the grid page, from 1."""

    key_set: str | None
    join_set: str | None
    pinned: bool
    seed: int
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str], sets: Sequence[str],
                    rng: random.Random | None = None) -> HomeTab:
        """The state a link describes (`key_set`, `set`, `shuffle`, `page`), with what is missing or unknown
        replaced by the defaults: the first set, the searched set following the key set."""
        key_set = initial_set(params.get("key_set"), sets)
        join_set = initial_set(params.get("set") or key_set, sets)
        seed = positive_int(params.get("shuffle"), 0)
        return cls(key_set, join_set, pinned=join_set != key_set, seed=seed or new_seed(rng),
                   page=positive_int(params.get("page"), 1))

    def choose_key_set(self, name: str | None) -> bool:
        """The key set picked: the grid starts at its first page, and an unpinned searched set follows.
        Whether the searched set changed with it (its picker must show it)."""
        self.key_set, self.page = name, 1
        if not self.pinned and name is not None:
            self.join_set = name
            return True
        return False

    def choose_join_set(self, name: str | None) -> None:
        """The searched set picked: pinned unless it is the key set."""
        self.join_set = name
        self.pinned = name != self.key_set

    def follow_key_set(self) -> str | None:
        """Search the key set again (the "Follow" button): the set the searched-set picker must show."""
        self.pinned = False
        return self.key_set

    def reshuffle(self, rng: random.Random | None = None) -> None:
        """A new shuffle order, from the first page."""
        self.seed, self.page = new_seed(rng), 1

    def gone(self, names: Sequence[str]) -> list[str]:
        """The chosen sets (key set, then searched set, once each) that are not among `names`: removed while
        the page was open."""
        return list(dict.fromkeys(n for n in (self.key_set, self.join_set) if n and n not in names))

    def follow_hint(self) -> str:
        """The rule between the two set pickers, in words, for the line under them."""
        return follow_hint(self.key_set, self.join_set, self.pinned)

    def offers_follow(self) -> bool:
        """Whether the "Follow" button shows: the searched set was pinned to another set."""
        return self.pinned and self.key_set != self.join_set

    def url(self, metric: str, predicate: str, param: str, expand: bool, shuffled: bool) -> str:
        """The page's URL with this state and the query settings, so Back returns to it as it was."""
        extra = {"metric": metric, "predicate": predicate, "param": param, "expand": "" if expand else "0",
                 "page": str(self.page) if self.page > 1 else "",
                 "shuffle": str(self.seed) if shuffled else ""}
        return home_url(self.join_set, self.key_set, **extra)

    def ordered(self, names: list[str], shuffled: bool) -> list[str]:
        """The key set's images in display order: as given, or in this tab's shuffle order."""
        if shuffled:
            names = list(names)
            random.Random(self.seed).shuffle(names)
        return names

    def grid_page(self, count: int) -> GridPage:
        """The page of `count` images shown (the tab's page, kept within the pages there are)."""
        pages = max(1, (count + PAGE_SIZE - 1) // PAGE_SIZE)
        self.page = min(max(1, self.page), pages)
        start = (self.page - 1) * PAGE_SIZE
        return GridPage(self.page, pages, start, min(start + PAGE_SIZE, count))


@dataclass(frozen=True)
class GridPage:
    """Which images the grid shows: `page` of `pages`, the images from `start` up to `stop`."""

    page: int
    pages: int
    start: int
    stop: int


def follow_hint(key_set: str | None, join_set: str | None, pinned: bool) -> str:
    """The rule between the two set pickers, in words, for the line under them."""
    if not pinned or key_set == join_set:
        return "The set searched follows the key set, unless you pick another."
    return display_name(f"Searching {join_set} with keys from {key_set}, until you pick the key set again.")


def key_set_note(state: str | None, indexed: bool) -> str | None:
    """Which note the grid gets for a key set that cannot be searched yet: "indexing" (it is being
    indexed or waits its turn), "failed", "not indexed"; None when it can be searched."""
    if indexed and state in ("indexed", None):
        return None
    if state in ("indexing", "waiting"):
        return "indexing"
    if state == "failed":
        return "failed"
    return "not indexed"


def describing_message(filename: str, ready: bool) -> str:
    """The line beside the spinner while an upload is described, with why it may take a while."""
    if ready:
        return f"Describing {filename}…"
    return (f"Describing {filename}… The network is still loading (it starts with the app; the first image "
            "takes up to about 15 s, later ones about a second).")
