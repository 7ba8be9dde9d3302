"""A join as it is listed: one row per image of A, names qualified by one rule, a range self-join's pairs
once. The one source of the CLI's CSV and table and the app's /join.csv, so all list the same pairs."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simages.copies.levels import Level
from simages.nearest.core import display
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.results import Match, Pair
from simages.nearest.core.set_index import SetIndex
from simages.nearest.joins.join import is_self_join
from simages.nearest.joins.multi import SetMatch, iter_multi_join
from simages.nearest.joins.pairs import JoinPair, node
from simages.nearest.joins.pairs_once import iter_pairs_once
from simages.operations import schema
from simages.operations.join import ANN_GRAPH, PIVOTS, Groups, JoinAnswer

if TYPE_CHECKING:
    from simages.copies.verification import LocalFeatureCache


def as_set_list(b: SetIndex | Sequence[SetIndex]) -> list[SetIndex]:
    """One set B or several, as a list."""
    return [b] if isinstance(b, SetIndex) else list(b)


def lists_pairs_once(a: SetIndex, bs: Sequence[SetIndex], spec: QuerySpec) -> bool:
    """Whether the join lists each pair of images once: a range self-join (see nearest/joins/pairs_once)."""
    return spec.predicate == "range" and len(bs) == 1 and is_self_join(a, bs[0])


def _rows(
    a: SetIndex, bs: list[SetIndex], spec: QuerySpec, groups: Groups | None
) -> Iterator[tuple[str, list[SetMatch]]]:
    if groups is None:
        yield from iter_multi_join(a, bs, spec)
        return
    for a_image, matches in groups:
        yield a_image, [SetMatch(bs[0].set_name, m.image, m.score) for m in matches]


def iter_listed_pairs(
    a: SetIndex,
    b: SetIndex | Sequence[SetIndex],
    spec: QuerySpec,
    groups: Groups | None = None,
    *,
    qualify: bool | None = None,
) -> Iterator[tuple[str, list[tuple[str, str, float]]]]:
    """The join as it is listed, one group per row: (A's image, [(a, b, score), ...]) with the names as
    written: `set/image` when `qualify` (default: unless B is A, so a CSV row traces back to its file),
    else plain; a range self-join's groups hold the pairs each row completes, each pair of images once
    (a < b by name, best first)."""
    bs = as_set_list(b)
    rows = _rows(a, bs, spec, groups)
    if lists_pairs_once(a, bs, spec):
        plain = ((image, [Match(m.image, m.score) for m in row]) for image, row in rows)
        for pairs in iter_pairs_once(plain, spec.higher_is_better):
            yield (pairs[0].a if pairs else ""), [(p.a, p.b, p.score) for p in pairs]
        return
    if qualify is None:
        qualify = not (len(bs) == 1 and is_self_join(a, bs[0]))
    for a_image, row in rows:
        if not qualify:
            yield a_image, [(a_image, m.image, m.score) for m in row]
        else:
            yield a_image, [(node(a.set_name, a_image), node(m.set, m.image), m.score) for m in row]


def csv_rows(
    a: SetIndex, b: SetIndex | Sequence[SetIndex], spec: QuerySpec, groups: Groups | None = None,
    level_of: Callable[..., Level] | None = None,
) -> Iterator[list[list[str]]]:
    """The join as CSV rows: first the header, then each image of A's rows [a, b, score]. The one source
    of the CLI's CSV and the app's /join.csv, so both are the same file. `b`: one set or several (their
    rows merged per image of A); names are `set/image` unless B is A; a range self-join lists each pair
    of images once (`iter_listed_pairs`). `groups`: the join against one B already under way (e.g.
    through a pivot table), else brute force. `level_of` (`pair_level_reader`, for the duplicates
    intent): a fourth column "level" (exact, edited, look-alike, new: the JSON's words), each A image's
    PROMOTED best verified by their keypoints as the table and the JSON verify them."""
    from simages.copies.verification import PROMOTED  # numpy and Pillow only

    bs = as_set_list(b)
    once = lists_pairs_once(a, bs, spec)
    yield [["a", "b", "score", *(["level"] if level_of is not None else [])]]
    for _, pairs in iter_listed_pairs(a, bs, spec, groups):
        if level_of is None:
            yield [csv_row(x, y, score, spec) for x, y, score in pairs]
            continue
        rows = []
        for rank, (x, y, score) in enumerate(pairs):
            names = (x, y) if not once else (node(a.set_name, x), node(a.set_name, y))
            level = level_of(*names, score, nearest=not once and rank < PROMOTED)
            rows.append([*csv_row(x, y, score, spec), level.value])
        yield rows


def csv_row(a_image: str, b_image: str, score: float, spec: QuerySpec) -> list[str]:
    """One CSV row [a, b, score] with the score written as every CSV of a join writes it."""
    return [a_image, b_image, display.format_score(score, spec.metric)]


def pair_level_reader(a: SetIndex, bs: Sequence[SetIndex], spec: QuerySpec,
                      files: Callable[[str], Path] | None, local: LocalFeatureCache | None = None
                      ) -> Callable[..., Level]:
    """The duplicate level of a pair of the join (qualified names `set/image`, its score), as `simages
    duplicates` gives it (nearest.duplicates.exact.pair_levels: exact only for the same pixels, edited
    only when not shown to be two photos, when the pair's `files` are known). `nearest`: the pair is one
    of its A image's PROMOTED best in a join of A against other sets, verified even below the
    threshold, as `simages duplicates A B` and triage verify a new photo's nearest. `local`: the
    keypoints already read (shared with `pair_change_reader`, so a copy's turn is the one its level
    found)."""
    from simages.copies.verification import LocalFeatureCache
    from simages.nearest.duplicates.exact import pair_levels

    indexes = [a, *bs]
    local = local if local is not None else LocalFeatureCache()  # an image in several pairs is read once

    def level(x: str, y: str, score: float, nearest: bool = False) -> Level:
        promoted = {(x, y)} if nearest else None
        return pair_levels([Pair(x, y, score)], indexes, spec.metric, files, local, promoted)[0]

    return level


def pair_change_reader(files: Callable[[str], Path], local: LocalFeatureCache | None = None
                       ) -> Callable[[str, str], str]:
    """What changed between the two images of a copy pair (qualified names `set/image`), in words, as
    `simages duplicates` lists it under the pair (simages.copies.changes; "" when nothing can be told):
    from their files, the turn and mirror from the keypoints `local` checked for the pair's level."""
    from simages.copies.changes import FactsCache, changes_between, describe

    cache = FactsCache()  # an image in several pairs is read once

    def changed(x: str, y: str) -> str:
        first, second = files(x), files(y)
        known = local.known(first, second) if local is not None else None
        return describe(changes_between(cache.facts(first), cache.facts(second), verification=known,
                                        cache=cache, names=(x, y)))

    return changed


def finds_copies_below(a: SetIndex, bs: Sequence[SetIndex], spec: QuerySpec, intent: str) -> bool:
    """Whether the join also lists copies below its threshold: a duplicates range join of A against
    other sets (new photos against a collection), as `simages duplicates A B` and triage. A self-join
    does not (it would verify three pairs per image: 30,000 for 10,000 photos)."""
    return (intent == DUPLICATES.name and spec.predicate == "range"
            and not any(is_self_join(a, b) for b in bs))


def copies_below(
    a: SetIndex, bs: Sequence[SetIndex], spec: QuerySpec, intent: str, files: Callable[[str], Path] | None,
    *, candidates: Sequence[Pair] | None = None, local: LocalFeatureCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[tuple[Pair, Level]]:
    """The copies a join lists below its threshold (`finds_copies_below`; none without the `files`): of
    each A image's nearest in the sets `bs`, those whose keypoints make them a copy, with their level,
    best first, names `set/image` (nearest.duplicates.exact.copies_among_nearest, the rule of `simages
    duplicates`). `candidates`: `below_candidates` already found; `progress(done, total)`: the checks."""
    from simages.nearest.duplicates.exact import copies_among_nearest

    if files is None or not finds_copies_below(a, bs, spec, intent):
        return []
    return copies_among_nearest(a, list(bs), spec, files, candidates=candidates, local=local,
                                progress=progress)


def below_candidates(a: SetIndex, bs: Sequence[SetIndex], spec: QuerySpec, intent: str) -> list[Pair]:
    """The pairs `copies_below` checks (each A image's nearest that miss the threshold), or none when the
    join does not look below its threshold: counted before the checks start (the app says how many)."""
    from simages.nearest.duplicates.exact import candidates_below

    if not finds_copies_below(a, bs, spec, intent):
        return []
    return candidates_below(a, list(bs), spec)


def as_join_pair(pair: Pair) -> JoinPair:
    """A pair named `set/image` on both sides as the app keeps it (A's image plain, B's set apart)."""
    _, a_image = pair.a.split("/", 1)
    b_set, b_image = pair.b.split("/", 1)
    return JoinPair(a_image, b_set, b_image, pair.score)


def join_json(answer: JoinAnswer, files: Callable[[str], Path] | None = None) -> dict[str, Any]:
    """The join as JSON (`operations.schema`): the header, "self_join", "expansion", every pair
    {"a", "b", "score"} with names `set/image` (a range self-join: each pair of images once; for the
    duplicates intent also its "level", exact confirmed by `files`: qualified name -> file), and
    "groups", largest first: for the duplicates intent groups of copies (`duplicate_groups`, as
    `simages duplicates` and the join page), else the connected components of the pairs. A duplicates
    join of A against other sets also lists, after each A image's pairs, the copies below the threshold
    found among its nearest (`copies_below`, `"below_threshold": true`). Holds all pairs: the CSV
    streams."""
    from simages.copies.levels import is_duplicate
    from simages.copies.verification import PROMOTED, LocalFeatureCache
    from simages.nearest.duplicates.exact import (
        compared_pairs,
        duplicate_groups,
        linked_groups,
        nearest_pairs,
        pair_levels,
    )

    a, bs, spec = answer.a, answer.bs, answer.spec
    once = lists_pairs_once(a, bs, spec)
    duplicates = answer.intent.name == DUPLICATES.name
    local = LocalFeatureCache() if duplicates and files is not None else None
    found: dict[str, list[tuple[Pair, Level]]] = {}
    for pair, level in copies_below(a, bs, spec, answer.intent.name, files if duplicates else None,
                                    local=local):
        found.setdefault(pair.a, []).append((pair, level))
    pairs: list[Pair] = []
    below: list[tuple[Pair, Level]] = []  # each after its A image's passing pairs
    for a_image, listed in iter_listed_pairs(a, bs, spec, answer.groups, qualify=True):
        for x, y, score in listed:
            if once:  # listed with plain names: all from A itself
                x, y = node(a.set_name, x), node(a.set_name, y)
            pairs.append(Pair(x, y, score))
        below.extend((len(pairs), row) for row in found.get(node(a.set_name, a_image), []))
    listed = [pair.to_json() for pair in pairs]
    if duplicates:
        promoted = None if once else nearest_pairs(pairs, spec.higher_is_better, PROMOTED)
        levels = pair_levels(pairs, [a, *bs], spec.metric, files, local, promoted)
        for row, level in zip(listed, levels, strict=True):
            row["level"] = level.value
        for offset, (at, (pair, level)) in enumerate(below):
            row = {**pair.to_json(), "level": level.value, "below_threshold": True}
            listed.insert(at + offset, row)
            pairs.insert(at + offset, pair)
            levels.insert(at + offset, level)
        copies = [pair for pair, level in zip(pairs, levels, strict=True) if is_duplicate(level)]
        searched = compared_pairs(a.set_name, [b.set_name for b in bs])
        groups = duplicate_groups(copies, spec.higher_is_better, searched)
    else:
        groups = linked_groups(pairs)
    index = {ANN_GRAPH: schema.ANN, PIVOTS: schema.PIVOTS}.get(answer.search, schema.BRUTE)
    sets = [a.set_name, *(b.set_name for b in bs if b is not a)] if len(bs) > 1 or bs[0] is not a \
        else [a.set_name]
    return {
        **schema.header(answer.intent.name, sets, index, spec),
        "self_join": len(bs) == 1 and is_self_join(a, bs[0]),
        "expansion": max((b.expansion_for(spec.expand) for b in bs), default=0),
        "pairs": listed,
        "groups": groups,
    }

