"""Use case: "which of these new photos are already in my collection?", and a plan to act on it.

A is the new folder(s) (sets), B the collection (named sets, or every other indexed set). Each new photo
gets its best existing match in B in the duplicates space (simages.nearest.core.intents.DUPLICATES) and the
level of that pair (simages.copies.levels: exact, edited, look-alike, new), skipping pairs the user
marked "not a duplicate" (simages.triage.decisions). The photos copied from one collection photo form a
copy group with a suggested keeper (simages.triage.keeper). `plan_for` turns the groups into a plan of
moves to the quarantine folder (simages.triage.plan), applied by simages.triage.quarantine.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from simages.copies.levels import (
    EDITED_COSINE,
    Level,
    identical_vectors,
    is_duplicate,
    level_of,
)
from simages.copies.levels import below_threshold as scored_below
from simages.copies.pixels import same_pixels
from simages.copies.verification import PROMOTED, LocalFeatureCache, Verification, file_verifier
from simages.naming import list_sets, validate_set_name
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import (
    duplicate_groups,
    duplicate_pairs,
    level_thresholds,
    pair_levels,
)
from simages.nearest.duplicates.plain_nearest import plain_nearest_pairs
from simages.nearest.joins.join import iter_set_join
from simages.nearest.sets.cache import DescriptorCache, NotIndexed
from simages.operations.schema import BRUTE, header
from simages.operations.sets import read_set
from simages.settings import Settings
from simages.triage.decisions import Decisions
from simages.triage.exif import PhotoFacts, photo_facts
from simages.triage.keeper import Candidate, suggest_keeper
from simages.triage.plan import Move, Plan, new_plan_id, planned_move

# Candidates looked at per new photo in each collection set: the best one may be marked "not a duplicate".
CANDIDATES = 5
_NEAR_ONE = 0.99


@dataclass(frozen=True)
class TriageRequest:
    """new_sets: the sets of new photos (A); against: the collection (B), empty for every other indexed
    set. ValueError (from `triage`) when a name is bad or A and B overlap."""

    new_sets: tuple[str, ...]
    against: tuple[str, ...] = ()


@dataclass(frozen=True)
class TriageRow:
    """One new photo: `image` qualified `set/image`; its best existing match (qualified, None for NEW) and
    the duplicates-space cosine similarity of that pair (None for NEW); `kept_both`: the id of a "keep
    both" decision covering the pair (it is then in no copy group and no plan); `verification`: what the
    pair's keypoints said when they were checked (its turn and mirror say what changed)."""

    image: str
    level: Level
    match: str | None
    score: float | None
    kept_both: str | None = None
    verification: Verification | None = field(default=None, compare=False)
    # The edited-copy threshold of the match's space (a collection too small to whiten has its own).
    threshold: float = field(default=EDITED_COSINE, compare=False)

    @property
    def below_threshold(self) -> bool:
        """A copy whose score misses its duplicate `threshold` (one of the photo's nearest, found a copy by
        its keypoints): marked '*' with BELOW_THRESHOLD_NOTE by the CLI's table and /triage alike."""
        return self.score is not None and scored_below(self.score, self.level, self.threshold)

    def to_json(self) -> dict:
        return {"image": self.image, "level": self.level.value, "match": self.match,
                "score": None if self.score is None else float(self.score), "kept_both": self.kept_both}


@dataclass(frozen=True)
class CopyGroup:
    """A collection photo and the new photos that are copies of it (exact or edited), the suggested keeper
    (any member) and the reason; `facts` of every member for the compare view. keeper/reason/facts are
    filled in by `TriageAnswer.suggested` (reading the files' headers costs about 1 ms per file, so a page
    of 10,000 groups reads only the groups it shows)."""

    existing: str
    copies: tuple[str, ...]
    level: Level
    keeper: str | None = None
    reason: str = ""
    facts: Mapping[str, PhotoFacts] = field(default_factory=dict, compare=False)

    @property
    def members(self) -> tuple[str, ...]:
        return (self.existing, *self.copies)

    def to_json(self) -> dict:
        return {"existing": self.existing, "copies": list(self.copies), "level": self.level.value,
                "keeper": self.keeper, "reason": self.reason}


@dataclass
class TriageAnswer:
    new_sets: tuple[str, ...]
    against: tuple[str, ...]
    rows: list[TriageRow]
    groups: list[CopyGroup]
    # Collection sets left out, with why (not indexed yet...).
    left_out: dict[str, str] = field(default_factory=dict)
    root: Path | None = None
    # Copies among the new photos themselves (qualified names, each group sorted, largest first): reported,
    # not planned (`simages duplicates NEW` lists their pairs).
    within_new: list[list[str]] = field(default_factory=list)
    _suggested: dict[str, CopyGroup] = field(default_factory=dict, repr=False, compare=False)
    _changes: dict[str, dict[str, Any]] | None = field(default=None, repr=False, compare=False)

    def suggested(self, group: CopyGroup) -> CopyGroup:
        """`group` with its suggested keeper, reason and facts (computed once per answer)."""
        if group.keeper is not None or self.root is None:
            return group
        if group.existing not in self._suggested:
            self._suggested[group.existing] = with_keeper(self.root, group)
        return self._suggested[group.existing]

    def suggest_all(self) -> None:
        self.groups = [self.suggested(group) for group in self.groups]

    def counts(self) -> dict[str, int]:
        counts = {level.value: 0 for level in Level}
        for row in self.rows:
            counts[row.level.value] += 1
        counts["total"] = len(self.rows)
        counts["already"] = counts[Level.EXACT.value] + counts[Level.EDITED.value]
        return counts

    def headline(self) -> str:
        """'10 of 30 new photos are already in your collection (7 exact, 3 edited); 20 are new'."""
        c = self.counts()
        total, already = c["total"], c["already"]
        photos = "photo" if total == 1 else "photos"
        if not total:
            return "No new photos to check"  # callers end the sentence
        verb = "is" if already == 1 else "are"
        if not already:  # "0 of 2 ... (0 exact, 0 edited)" made a reader count zeros to learn "none"
            text = ("The new photo is not in your collection" if total == 1 else
                    f"None of the {total} new photos is already in your collection")
        else:
            copies = (Level.EXACT, Level.EDITED)
            starred = sum(row.below_threshold for row in self.rows if row.level in copies)
            marked = ""
            if starred:  # the same count as the join's and duplicates': below the threshold, by keypoints
                its = "its" if starred == 1 else "their"
                marked = f"; of them, {starred} below the threshold, found by {its} keypoints, marked *"
            text = (f"{already} of {total} new {photos} {verb} already in your collection "
                    f"({c['exact']} exact, {c['edited']} edited{marked})")
        looks = c["look-alike"]
        if looks:
            text += f"; {looks} {'is a look-alike' if looks == 1 else 'are look-alikes'} (not copies)"
        new = c["new"]
        text += f"; {new} {'is' if new == 1 else 'are'} new"
        if self.within_new:
            copies = sum(len(group) for group in self.within_new)
            text += (f"; {copies} new photos are copies of each other ({len(self.within_new)} "
                     f"{'group' if len(self.within_new) == 1 else 'groups'})")
        return text

    def bucket(self, level: Level) -> list[TriageRow]:
        return [row for row in self.rows if row.level == level]

    def member_level(self, name: str) -> Level | None:
        """The level of a new photo `name` (qualified) against its match; None for a collection photo. A
        group's level is its strongest member's: an exact and an edited copy of one photo share a group."""
        return next((row.level for row in self.rows if row.image == name), None)

    def changes(self) -> dict[str, dict[str, Any]]:
        """What changed between each copy (exact or edited) and its match, where the pixels tell
        (simages.copies.changes, about 30 ms a pair, read once per answer; the turn and mirror from the
        pair's keypoints): new photo -> {"changes": [codes], "changed": "phrase"}; {} without the root to
        read the files from."""
        if self.root is None:
            return {}
        if self._changes is None:
            self._changes = self._read_changes(self.root)
        return self._changes

    @property
    def changes_read(self) -> bool:
        """Whether `changes` has read what changed (a page draws its cards before, and again after)."""
        return self._changes is not None

    def row_of(self, name: str) -> TriageRow | None:
        """The row of the new photo `name` (qualified); None for a collection photo."""
        return next((row for row in self.rows if row.image == name), None)

    def summary_of(self, name: str) -> str:
        """What a new photo is, for a card or a compare view: "Edited copy: 0.181692 · a.jpg is b.jpg turned
        90° clockwise; re-encoded" (the level, its score against its match, and what changed once
        `changes` has read it: never read here, so a page can draw before the files are read); "" for a
        collection photo."""
        from simages.nearest.core.display import format_score

        row = self.row_of(name)
        if row is None:
            return ""
        text = row.level.title
        if row.score is not None:
            text += f": {format_score(row.score, 'cosine')}" + (" *" if row.below_threshold else "")
        changed = self.changed_of(name)
        return f"{text} · {changed}" if changed else text

    def changed_of(self, name: str) -> str:
        """What changed in the new photo `name` against its match, once `changes` has read it ("" before,
        and for a photo that is no copy)."""
        return (self._changes or {}).get(name, {}).get("changed", "")

    def what_each_is(self, group: CopyGroup) -> dict[str, str]:
        """Each member of a copy group in words, for its compare view: a new photo's `summary_of`, a
        collection photo "in the collection"."""
        return {member: self.summary_of(member) or "in the collection" for member in group.members}

    def _read_changes(self, root: Path) -> dict[str, dict[str, Any]]:
        from simages.copies.changes import FactsCache, changes_between
        from simages.copies.changes import to_json as changes_json

        cache = FactsCache()
        found = {}
        for row in self.rows:
            if row.match is None or row.level not in (Level.EXACT, Level.EDITED):
                continue
            new, existing = (cache.facts(image_file(root, name)) for name in (row.image, row.match))
            found[row.image] = changes_json(changes_between(new, existing, verification=row.verification,
                                                            cache=cache, names=(row.image, row.match)))
        return found

    def to_json(self) -> dict:
        """The schema's common keys (simages.operations.schema: the sets new first, each new photo's
        CANDIDATES nearest in each collection set, every pair compared), then the answer's own; each copy's
        row says what changed ("changes", "changed")."""
        spec = QuerySpec.parse("cosine", "knn", CANDIDATES, expand=False)
        common = header(DUPLICATES.name, [*self.new_sets, *self.against], BRUTE, spec)
        changed = self.changes()
        return {**common, "new_sets": list(self.new_sets), "against": list(self.against),
                "headline": self.headline(),
                "counts": self.counts(),
                "new": [{**row.to_json(), **changed.get(row.image, {})} for row in self.rows],
                "groups": [self.suggested(group).to_json() for group in self.groups],
                "left_out": self.left_out, "within_new": self.within_new}


def triage(settings: Settings, request: TriageRequest, cache: DescriptorCache,
           keepers: bool = True) -> TriageAnswer:
    """Check the new sets against the collection; `keepers` False leaves the groups' keepers to be
    suggested when asked (`TriageAnswer.suggested`). Errors: InvalidName (a ValueError) for a bad name,
    ValueError when a set is both new and collection or no collection set is indexed, NotIndexed when a
    new set has no store yet."""
    new_sets = tuple(validate_set_name(name) for name in request.new_sets)
    if not new_sets:
        raise ValueError("name at least one set of new photos")
    named = tuple(validate_set_name(name) for name in request.against)
    overlap = set(new_sets) & set(named)
    if overlap:
        raise ValueError(f"{sorted(overlap)[0]!r} is named both as new photos and as the collection")
    new_indexes = [read_set(cache, settings, name, DUPLICATES) for name in new_sets]
    left_out: dict[str, str] = {}
    collection: list[SetIndex] = []
    for name in named or tuple(s for s in list_sets(settings.image_sets) if s not in new_sets):
        try:
            collection.append(read_set(cache, settings, name, DUPLICATES))
        except NotIndexed as error:
            if named:
                raise
            left_out[name] = str(error)
    if not collection:
        raise ValueError("no indexed collection set to check against: index the collection first "
                         "(`simages index`)")
    decisions = Decisions(settings.root).all()
    rows = [row for index in new_indexes for row in _rows(index, collection, decisions, settings.root)]
    rows.sort(key=lambda row: (row.level.rank, -(row.score or 0.0), row.image))
    answer = TriageAnswer(new_sets, tuple(index.set_name for index in collection), rows, _groups(rows),
                          left_out, settings.root, _within_new(new_indexes, decisions, settings.root))
    if keepers:
        answer.suggest_all()
    return answer


def _within_new(new_indexes: list[SetIndex], decisions: list, root: Path) -> list[list[str]]:
    """Groups of copies among the new photos: each new set with itself and with the other new sets, at
    the duplicate threshold, less the pairs the user marked "not a duplicate" or "keep both" and those
    whose images show two different photos (simages.copies.verification)."""
    pairs = []
    for number, index in enumerate(new_indexes):
        for other in new_indexes[number:]:
            pairs += duplicate_pairs(index, other if other is not index else None)
    kept = [pair for pair in pairs if not any(d.covers(pair.a, pair.b) for d in decisions)]
    levels = pair_levels(kept, new_indexes, "cosine", lambda name: image_file(root, name))
    return duplicate_groups([pair for pair, level in zip(kept, levels, strict=True) if is_duplicate(level)])


def _rows(new: SetIndex, collection: list[SetIndex], decisions: list, root: Path) -> list[TriageRow]:
    spec = QuerySpec.parse("cosine", "knn", CANDIDATES, expand=False)
    local = LocalFeatureCache()  # a new photo is verified against each of its candidates
    candidates: dict[str, list[tuple[float, SetIndex, str]]] = {name: [] for name in new.names}
    for other in collection:
        for image, matches in iter_set_join(new, other, spec):
            candidates[image] += [(float(match.score), other, match.image) for match in matches]
    # The nearest on the square-rooted vectors are verified too: a relearned space never hides an original.
    plain: dict[str, set[tuple[str, str]]] = {name: set() for name in new.names}
    by_name = {other.set_name: other for other in collection}
    for pair in plain_nearest_pairs(new, collection, "cosine", PROMOTED):
        image, (set_name, _, match) = pair.a.partition("/")[2], pair.b.partition("/")
        plain[image].add((set_name, match))
        if not any(o.set_name == set_name and m == match for _, o, m in candidates[image]):
            candidates[image].append((pair.score, by_name[set_name], match))
    found: dict[str, list[tuple[int, float, str]]] = {name: [] for name in new.names}
    edited = {other.set_name: level_thresholds(other).edited for other in collection}
    for image, scored in candidates.items():
        new_file = image_file(root, f"{new.set_name}/{image}")
        scored.sort(key=lambda candidate: -candidate[0])
        for number, (score, other, match) in enumerate(scored):
            nearest = number < PROMOTED or (other.set_name, match) in plain[image]
            # Identical stored vectors score 1 up to rounding: only near-1 scores need the check.
            identical = score >= _NEAR_ONE and identical_vectors(new.raw_vector(image),
                                                                 other.raw_vector(match))
            old_file = image_file(root, f"{other.set_name}/{match}")
            level = level_of(score, identical, thresholds=level_thresholds(other),
                             same_pixels=partial(same_pixels, new_file, old_file),
                             verified=file_verifier(new_file, old_file, local), promote=nearest)
            found[image].append((level.rank, -score, f"{other.set_name}/{match}"))
    rows = []
    for image in new.names:
        name = f"{new.set_name}/{image}"
        kept_both = None
        best = None
        for rank, negative, match in sorted(found[image]):
            decision = next((d for d in decisions if d.covers(name, match)), None)
            if decision is not None and decision.kind == "not-duplicate":
                continue  # the user said these are different photos: the next candidate answers
            best = (rank, -negative, match)
            kept_both = decision.id if decision is not None else None
            break
        level = Level.NEW if best is None else _LEVELS[best[0]]
        if level == Level.NEW:
            rows.append(TriageRow(name, Level.NEW, None, None))
        else:
            known = local.known(image_file(root, name), image_file(root, best[2]))
            rows.append(TriageRow(name, level, best[2], best[1], kept_both, known,
                                  edited[best[2].partition("/")[0]]))
    return rows


_LEVELS = {level.rank: level for level in Level}


def _groups(rows: list[TriageRow]) -> list[CopyGroup]:
    """A copy group per collection photo that new photos copy (exact or edited, not kept both)."""
    by_match: dict[str, list[TriageRow]] = {}
    for row in rows:
        if is_duplicate(row.level) and row.match is not None and row.kept_both is None:
            by_match.setdefault(row.match, []).append(row)
    groups = []
    for existing, copies in by_match.items():
        level = min((row.level for row in copies), key=lambda level: level.rank)
        groups.append(CopyGroup(existing, tuple(row.image for row in copies), level))
    groups.sort(key=lambda group: (group.level.rank, group.existing))
    return groups


def with_keeper(root: Path, group: CopyGroup) -> CopyGroup:
    """The group with its members' facts and the suggested keeper (simages.triage.keeper) filled in."""
    facts = {name: photo_facts(image_file(root, name)) for name in group.members}
    choice = suggest_keeper([Candidate(name, facts[name], name == group.existing) for name in group.members])
    return dataclasses.replace(group, keeper=choice.keeper, reason=choice.reason, facts=facts)


def image_file(root: Path, qualified: str) -> Path:
    """The file of a qualified name `set/image` under ROOT/image_sets/ (names come from the stores)."""
    set_name, _, image = qualified.partition("/")
    return root / "image_sets" / set_name / Path(*image.split("/"))


def plan_for(settings: Settings, answer: TriageAnswer, keepers: Mapping[str, str] | None = None,
             levels: tuple[Level, ...] = (Level.EXACT, Level.EDITED)) -> Plan:
    """The plan that moves, in every copy group of the given levels, every member but its keeper to the
    quarantine folder. `keepers` overrides the suggestion: group's existing name -> the member to keep
    (ValueError when it is not a member). Files that cannot be read now are left out."""
    keepers = dict(keepers or {})
    moves: list[Move] = []
    scores = {row.image: row.score for row in answer.rows}
    # Each new copy moves only when its own level is asked for: a group holding an exact and an edited
    # copy is not an exact group for the edited one (an exact-only plan never touches an edit).
    member_levels = {row.image: row.level for row in answer.rows}
    for group in answer.groups:
        if group.level not in levels:
            continue
        group = answer.suggested(group)
        keeper = keepers.get(group.existing, group.keeper)
        if keeper not in group.members:
            raise ValueError(f"{keeper!r} is not a copy in the group of {group.existing!r}")
        why = group.reason if keeper == group.keeper else "chosen by you"
        for member in group.members:
            if member == keeper:
                continue
            level = member_levels.get(member, member_levels.get(keeper, group.level))
            if level not in levels:
                continue
            set_name, _, image = member.partition("/")
            score = scores.get(member, scores.get(keeper))
            try:
                moves.append(planned_move(settings.root, set_name, image, keeper=keeper,
                                          level=level.value, score=score,
                                          reason=f"{level.title} of {keeper}; kept: {why}"))
            except OSError:
                continue
    return Plan(new_plan_id(), _now(), tuple(moves))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

