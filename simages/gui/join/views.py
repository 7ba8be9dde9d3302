"""The three views of a finished join, drawn one page at a time: pairs, kNN rows, and groups.

Each function draws into the current NiceGUI container and touches only the rows of the page shown, so a
join of 10,000 x 10,000 images draws as fast as one of ten.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nicegui import ui

from simages.copies.levels import Level, LevelThresholds, below_threshold_note, is_duplicate
from simages.gui.context import GuiContext
from simages.gui.join.compare import pair_files
from simages.gui.pages.common import name_caption, thumbnail_img
from simages.gui.state.join_views import GROUPS_PER_PAGE, KEYS_PER_PAGE, PAIRS_PER_PAGE, listed_keys
from simages.gui.state.sets import status_of
from simages.gui.urls.image import thumb_url
from simages.gui.urls.query import QueryState, results_url
from simages.gui.widgets.controls import format_score, score_label
from simages.gui.widgets.levels import level_chip, pair_level
from simages.gui.widgets.status_panel import describe_status
from simages.naming import display_name
from simages.nearest.core.display import format_threshold
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.joins.pairs import JoinPair, JoinPairs
from simages.wording import agree, plural

# Thumbnails in one row of the kNN view or one group strip; the rest is counted ("+ 12 more").
STRIP_LIMIT = 24

CSS = """
.join-pairs { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 10px; }
.join-pair { background: white; border: 1px solid #e0e0e0; border-radius: 6px; padding: 8px; }
.join-pair-images { display: flex; gap: 6px; cursor: pointer; }
.join-pair-images img { width: 50%; height: 128px; object-fit: contain; border-radius: 4px;
  background: #eee; }
.join-pair-names { display: flex; gap: 6px; font-size: 12px; }
.join-pair-names > * { width: 50%; overflow-wrap: anywhere; }
.join-score { font-weight: 600; font-size: 14px; }
.join-strip { display: flex; flex-wrap: wrap; gap: 6px; }
.join-strip .thumb-tile { width: 104px; }
.join-strip .join-key { outline: 2px solid #1e88e5; }
.join-row { background: white; border: 1px solid #e0e0e0; border-radius: 6px; padding: 8px; width: 100%; }
"""


@dataclass(frozen=True)
class ViewContext:
    """What every view needs: the join's parameters and what to do when a pair is clicked (its position
    among all kept pairs, best first)."""

    pairs: JoinPairs
    spec: QuerySpec
    on_compare: Callable[[int], None]
    # For a duplicates join: the level thresholds of its space, so each pair shows its level (exact,
    # edited, look-alike); None for a similar-images join, whose scores mean likeness, not copying.
    levels: LevelThresholds | None = None
    # For a duplicates join: what changed between the two images of a copy pair (a_set, a, b_set, b) in
    # words, "" when nothing can be told (simages.copies.changes).
    changed: Callable[[str, str, str, str], str] | None = None
    # Qualified name -> its file, so an exact level is confirmed by the pair's pixels (None: by score).
    files: Callable[[str], Path] | None = None
    # The join's own level of each kept pair (JoinOutcome.levels, by position): pixels and keypoints
    # checked once for the whole join, so the pairs, Compare and the groups agree.
    known: Sequence[Level] | None = None
    # The join's keypoints are still being checked: levels are the scores' until they are.
    checking: bool = False


def split_node(name: str) -> tuple[str, str]:
    """`set/image` into (set, image): set names never contain '/'."""
    set_name, _, image = name.partition("/")
    return set_name, image


def similar_link(set_name: str, image: str, searched: str, spec: QuerySpec) -> str:
    """The /similar page of an image, searching `searched` with the join's metric (k nearest)."""
    return results_url(QueryState(searched, key_set=set_name, image=image, metric=spec.metric,
                                  expand=spec.expand))


def _tile(set_name: str, image: str, caption_score: str | None = None) -> ui.element:
    tile = ui.element("div").classes("thumb-tile relative-position")
    tile.props["title"] = display_name(f"{set_name}/{image}")
    with tile:
        thumbnail_img(thumb_url(set_name, image))
        name_caption(image, set_name)
        if caption_score is not None:
            ui.label(caption_score).classes("thumb-score").mark("score")
    return tile


def draw_pairs(view: ViewContext, page: int) -> None:
    """Every kept pair best first, PAIRS_PER_PAGE per page (a self-join's x ~ y and y ~ x once): both
    thumbnails, names linking to each image's /similar page, and the score. Clicking the thumbnails opens
    Compare."""
    pairs, spec = view.pairs, view.spec
    start = (page - 1) * PAIRS_PER_PAGE
    shown = pairs.distinct[start : start + PAIRS_PER_PAGE]
    with ui.element("div").classes("w-full join-pairs").mark("pairs-view"):
        for number, position in enumerate(shown, start + 1):
            _pair_card(view, pairs.pairs[position], position, number, spec)
    if any(pairs.is_below(position) for position in shown):
        ui.label(below_threshold_note()).classes("text-caption text-grey-8").mark("below-note")


def level_of_pair(view: ViewContext, position: int) -> Level | None:
    """The level of the kept pair at `position` in a duplicates join (the join's own once its keypoints
    are checked, its score's until then), None in a similar-images join."""
    if view.levels is None:
        return None
    if view.known is not None:
        return view.known[position]
    pair = view.pairs.pairs[position]
    files = pair_files(view.files, view.pairs.a_set, pair)
    return pair_level(pair.score, view.spec.metric, view.levels, files)


def changed_line(view: ViewContext, position: int, level: Level | None, *, narrow: bool = False) -> None:
    """Under a copy of a duplicates join: what changed between its two images ("changed: turned 90°
    clockwise"), nothing when it cannot be told or the pair is no copy. `narrow` (a thumbnail tile): two
    lines at most, the whole of it as a tooltip, so a row's tiles keep one height."""
    if level is None or not is_duplicate(level) or view.changed is None:
        return
    pair = view.pairs.pairs[position]
    said = view.changed(view.pairs.a_set, pair.a, pair.b_set, pair.b)
    if said:
        line = ui.label(f"changed: {said}").classes("text-caption text-grey-8").mark("pair-changed")
        if narrow:
            line.classes("ellipsis-2-lines").tooltip(f"changed: {said}")


def _pair_card(view: ViewContext, pair: JoinPair, position: int, number: int, spec: QuerySpec) -> None:
    a_set = view.pairs.a_set
    with ui.element("div").classes("join-pair").mark(f"pair:{pair.a}|{pair.b_set}/{pair.b}"):
        with ui.row().classes("items-center justify-between no-wrap"):
            below = view.pairs.is_below(position)
            score = ui.label(f"{score_label(spec.metric)} {format_score(spec.metric, pair.score)}"
                             + (" *" if below else "")).classes("join-score").mark("pair-score")
            if below:
                score.tooltip(below_threshold_note())
            level = level_of_pair(view, position)
            if level is not None:
                level_chip(level)
            ui.label(f"#{number}").classes("text-caption text-grey-6")
        changed_line(view, position, level)
        images = ui.element("div").classes("join-pair-images").mark("pair-images")
        images.props["title"] = "Compare side by side"
        images.on("click", lambda _, p=position: view.on_compare(p))
        with images:
            thumbnail_img(thumb_url(a_set, pair.a))
            thumbnail_img(thumb_url(pair.b_set, pair.b))
        with ui.element("div").classes("join-pair-names"):
            ui.link(f"{a_set}/{pair.a}", similar_link(a_set, pair.a, pair.b_set, spec)).classes(
                "text-primary").mark("pair-a")
            ui.link(f"{pair.b_set}/{pair.b}", similar_link(pair.b_set, pair.b, a_set, spec)).classes(
                "text-primary").mark("pair-b")


def draw_knn(view: ViewContext, page: int) -> None:
    """Each image of A (KEYS_PER_PAGE per page, in name order) with its matches in a row, best first."""
    pairs, spec = view.pairs, view.spec
    keys = listed_keys(pairs, spec)
    start = (page - 1) * KEYS_PER_PAGE
    shown = keys[start : start + KEYS_PER_PAGE]
    with ui.column().classes("w-full gap-2").mark("knn-view"):
        if spec.predicate == "range":
            ui.label(match_summary(view, keys)).classes("text-body1").mark("match-summary")
        for key in shown:
            positions = pairs.by_key.get(key, [])
            matches = [pairs.pairs[i] for i in positions[:STRIP_LIMIT]]
            with ui.element("div").classes("join-row").mark(f"knn:{key}"):
                with ui.row().classes("items-center gap-2 q-mb-xs"):
                    ui.link(key, similar_link(pairs.a_set, key, pairs.b_sets[0], spec)).classes(
                        "text-weight-medium text-primary")
                    ui.label(plural(len(positions), "match")).classes(
                        "text-caption text-grey-7")
                with ui.element("div").classes("join-strip"):
                    _tile(pairs.a_set, key).classes("join-key")
                    ui.icon("arrow_forward", color="grey-6").classes("self-center")
                    if not positions:
                        ui.label("no match").classes("text-grey-7 self-center").mark("no-match")
                    for position, pair in zip(positions, matches, strict=False):
                        below = pairs.is_below(position)
                        tile = _tile(pair.b_set, pair.b,
                                     format_score(spec.metric, pair.score) + (" *" if below else ""))
                        if below:
                            tile.tooltip(below_threshold_note())
                        level = level_of_pair(view, position)
                        if level is not None:
                            with tile:
                                level_chip(level).classes("self-start")
                                changed_line(view, position, level, narrow=True)
                        tile.classes("cursor-pointer")
                        tile.on("click", lambda _, p=position: view.on_compare(p))
                    if len(positions) > STRIP_LIMIT:
                        more = len(positions) - STRIP_LIMIT
                        ui.label(f"+ {more:,} more").classes("self-center text-grey-7")
        if any(pairs.is_below(p) for key in shown for p in pairs.by_key.get(key, [])[:STRIP_LIMIT]):
            ui.label(below_threshold_note()).classes("text-caption text-grey-8").mark("below-note")


def match_summary(view: ViewContext, keys: Sequence[str]) -> str:
    """The count over the matches per image of a range join: "9 of the 13 images of inbox have a match";
    in a duplicates join worded as its headline, "have a copy in archive", the copies found below the
    threshold counted apart ("(of them, 5 copies below the threshold, found by their keypoints, marked
    *)")."""
    pairs = view.pairs
    kept = "" if pairs.complete else " among the pairs kept"
    if view.levels is None:
        return (f"{len(keys):,} of the {plural(len(pairs.keys), 'image')} of {pairs.a_set} "
                f"{agree(len(keys), 'has', 'have')} a match{kept}")
    searched = pairs.b_sets[0] if len(pairs.b_sets) == 1 else f"{len(pairs.b_sets)} other sets"
    copied = [key for key in keys if any(is_duplicate(level) for level in
                                         (level_of_pair(view, p) for p in pairs.by_key.get(key, []))
                                         if level is not None)]
    its = "its" if pairs.below == 1 else "their"
    below = (f" (of them, {plural(pairs.below, 'copy', 'copies')} below the threshold, found by {its} "
             "keypoints, marked *)") if pairs.below else ""
    return (f"{len(copied):,} of the {plural(len(pairs.keys), 'image')} of {pairs.a_set} "
            f"{agree(len(copied), 'has', 'have')} a copy in {searched}{kept}{below}")


def group_summary(groups: list[list[str]]) -> str:
    """`41 groups, 312 images`: distinct images (a copy grouped with two partners counts once)."""
    images = len({name for group in groups for name in group})
    groups_word = "group" if len(groups) == 1 else "groups"
    images_word = "image" if images == 1 else "images"
    return f"{len(groups):,} {groups_word}, {images:,} {images_word}"


def draw_groups(groups: list[list[str]], page: int) -> None:
    """Groups largest first (GROUPS_PER_PAGE per page), each a strip of its images' thumbnails."""
    start = (page - 1) * GROUPS_PER_PAGE
    with ui.column().classes("w-full gap-2").mark("groups-view"):
        for number, group in enumerate(groups[start : start + GROUPS_PER_PAGE], start + 1):
            with ui.element("div").classes("join-row").mark(f"group:{number}"):
                ui.label(f"Group {number}: {plural(len(group), 'image')}").classes(
                    "text-weight-medium q-mb-xs")
                with ui.element("div").classes("join-strip"):
                    for name in group[:STRIP_LIMIT]:
                        _tile(*split_node(name))
                    if len(group) > STRIP_LIMIT:
                        ui.label(f"+ {len(group) - STRIP_LIMIT:,} more").classes("self-center text-grey-7")


def summary_text(pairs: JoinPairs, spec: QuerySpec) -> str:
    """What the join found, in one sentence with its counts and the threshold exactly as compared. A
    range self-join counts pairs of images once (N of |A|(|A|-1)/2, as its CSV lists them); a kNN
    self-join is directed, and says so."""
    searched = pairs.b_sets[0] if len(pairs.b_sets) == 1 else f"{len(pairs.b_sets)} other sets"
    kept = "" if pairs.complete else f" (showing the best {len(pairs.pairs):,})"
    if spec.predicate == "range":
        op = "≥" if spec.higher_is_better else "≤"
        condition = f"{score_label(spec.metric)} {op} {format_threshold(float(spec.param))}"
        if pairs.pairs_of_images is not None:
            kept = "" if pairs.complete else f" (showing the best {len(pairs.distinct):,})"
            compared = plural(pairs.images_compared_once, "pair of images", "pairs of images")
            return (f"{pairs.pairs_of_images:,} of {compared} of "
                    f"{pairs.a_set} {agree(pairs.pairs_of_images, 'has', 'have')} {condition}{kept}, "
                    "each pair listed once")
        below = (f"; and {plural(pairs.below, 'copy', 'copies')} below it, found among each image's nearest "
                 "by their keypoints (marked *)") if pairs.below else ""
        return (f"{pairs.passed:,} of {plural(pairs.total, 'pair')} of {pairs.a_set} × {searched} "
                f"{agree(pairs.passed, 'has', 'have')} {condition}{kept}{below}")
    best = "most similar" if spec.higher_is_better else "nearest"
    text = (f"The {plural(int(spec.param), best + ' image')} in {searched} of each of the "
            f"{plural(len(pairs.keys), 'image')} of "
            f"{pairs.a_set}: {plural(pairs.passed, 'pair')}{kept}")
    if pairs.self_join:
        text += (" (directed: each image's own nearest, so a pair of images can be listed from both "
                 "ends, and y can be among x's nearest without x among y's)")
    return text


def waiting_card(ctx: GuiContext, names: tuple[str, ...]) -> ui.card:
    """The card shown while the sets a join needs are being indexed: each set's progress, and that the
    join starts by itself (the page adds the timer that starts it, inside the card)."""
    card = ui.card().classes("q-pa-md").props("flat bordered").mark("waiting")
    with card, ui.row().classes("items-center gap-3 no-wrap"):
        ui.spinner(size="lg")
        with ui.column().classes("gap-1"):
            lines = []
            for name in names:
                status = status_of(ctx, name)
                lines.append(f"{name}: {describe_status(status) if status else 'not indexed yet'}.")
            ui.label(" ".join(lines)).classes("text-body1")
            ui.label("The join starts by itself as soon as the sets are ready.").classes(
                "text-body2 text-grey-8")
    return card
