"""Query: one key image against one set -- "which images of this set look like that one?".

How a key is named, in this order:
  1. `SET/IMAGE` when SET names a known set (a folder of image_sets/ or an existing store): the image's
     stored descriptor is used. IMAGE may contain '/'.
  2. otherwise, a path to an existing image file anywhere on disk: its descriptor is computed on the
     fly with the searched set's descriptor settings (the only path that loads the network).
  A path to an image of a set's folder is answered from its stored descriptor while the store's entry
  is of this very file (the check indexing makes); otherwise (not indexed yet, changed since, or
  searched turned for duplicates) it is described, and stderr says why.
  To force the file reading for a relative path whose first folder is also a set name, write `./path`.
Without a predicate the intent's default: kNN with k = `DEFAULT_KNN` for similar images, the range at the
duplicate threshold for duplicates (is this photo already in the set?).
The app's results page asks with the same request and gets the same answer: its key is a `StoredKey` (names
it has validated) or a `VectorKey` (an uploaded image's descriptor, kept in memory), never a path.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simages.copies.changes import Change, ImageFacts
from simages.copies.changes import to_json as changes_json
from simages.copies.levels import Level, is_duplicate
from simages.copies.verification import LocalFeatureCache
from simages.naming import InvalidName, list_sets, validate_image_name, validate_set_name
from simages.nearest.core import display
from simages.nearest.core.intents import SIMILAR, Intent, descriptor_for, intent_named
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.results import KeyResult
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import duplicate_threshold
from simages.nearest.sets.cache import DescriptorCache
from simages.nearest.teaching.query_cost import IndexChoice, QueryCost, explained_key_join
from simages.nearest.teaching.views import UNSCALED, VIEWS, unscaled_index
from simages.operations import schema
from simages.operations.query_levels import keep_copies, key_source, match_levels, with_nearest
from simages.operations.sets import did_you_mean, open_set, read_set, require_same_descriptor
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint, same_version
from simages.store.npz_store import read_failed, read_fingerprint

# The predicate when none is given (the app's results page uses the same k).
DEFAULT_KNN = 10


def query_spec(
    metric: str,
    knn: str | None,
    range_threshold: str | None,
    expand: bool = True,
    intent: Intent = SIMILAR,
    index: SetIndex | None = None,
) -> QuerySpec:
    """The predicate asked for (`knn` or `range_threshold`, as typed); without either the intent's default:
    kNN-10 for similar images, the range at the duplicate threshold (of `index`, read for duplicates) for
    duplicates. ValueError with a user message for a bad K or T."""
    if knn is not None:
        return QuerySpec.parse(metric, "knn", knn, expand)
    if range_threshold is not None:
        return QuerySpec.parse(metric, "range", range_threshold, expand)
    if intent.name == "duplicates":
        threshold = duplicate_threshold(metric, index)
        return QuerySpec.parse(metric, "range", display.format_score(threshold, metric), expand)
    return QuerySpec.parse(metric, "knn", str(DEFAULT_KNN), expand)


@dataclass(frozen=True)
class StoredKey:
    """A key that is an indexed image: its stored descriptor is used."""

    set_name: str
    image: str

    def label(self) -> str:
        return f"{self.set_name}/{self.image}"


@dataclass(frozen=True)
class FileKey:
    """A key that is an image file given by its path: its descriptor is computed, unless the file is an
    image of a set's folder (`in_set`) whose stored descriptor is of this very version of the file
    (`why` empty); `why` says otherwise why it is described ("not indexed yet", "changed since ...")."""

    path: Path
    in_set: StoredKey | None = None
    why: str = ""

    def label(self) -> str:
        return str(self.path)


@dataclass(frozen=True, eq=False)
class VectorKey:
    """A key given by its raw (stored-style) descriptor, computed elsewhere: an image uploaded to the app.
    `oriented` (5, d): its descriptors as it is, turned 90/180/270 degrees and mirrored, for a duplicates
    search that tries the turns (simages.copies.turns); `facts`: its file's header facts, to say what
    changed in the copies found (simages.copies.changes)."""

    name: str
    vector: np.ndarray
    oriented: np.ndarray | None = None
    facts: ImageFacts | None = None

    def label(self) -> str:
        return self.name


def _is_known_set(settings: Settings, name: str) -> bool:
    try:
        validate_set_name(name)
    except InvalidName:
        return False
    return (settings.image_sets / name).is_dir() or settings.store_path(name).is_file()


def parse_key(text: str, settings: Settings) -> StoredKey | FileKey:
    """Apply the key rule of this module's docstring; LookupError / InvalidName with a user message."""
    first, slash, rest = text.partition("/")
    if slash and rest and _is_known_set(settings, first):
        return StoredKey(first, validate_image_name(rest))
    path = Path(text).expanduser()
    if path.is_file():
        return file_key(path, settings)
    if slash and rest and not text.startswith(("/", "./", "../", "~")) and not Path(first).is_dir():
        hint = did_you_mean(first, list_sets(settings.image_sets))
        raise LookupError(f"no such file: {text}, and no set named {first!r} for a SET/IMAGE key{hint}")
    raise LookupError(f"no such file: {text} (an image of a set is written SET/IMAGE)")


def set_image_at(path: Path, settings: Settings) -> StoredKey | None:
    """The image of a set that the file at `path` is, when it lies in a set's folder of image_sets/
    (its path as written, or with links resolved); None otherwise."""
    for place, root in ((Path(os.path.abspath(path)), Path(os.path.abspath(settings.image_sets))),
                        (path.resolve(), settings.image_sets.resolve())):
        try:
            parts = place.relative_to(root).parts
        except ValueError:
            continue
        if len(parts) < 2:
            return None
        try:
            return StoredKey(validate_set_name(parts[0]), validate_image_name("/".join(parts[1:])))
        except InvalidName:
            return None
    return None


def file_key(path: Path, settings: Settings) -> FileKey:
    """A key file, with the set image it is and whether its stored descriptor is of this very version of
    the file: the check indexing makes to reuse a descriptor (size and modification time, the content
    sampled when the inode changed: store.fingerprint.same_version)."""
    image = set_image_at(path, settings)
    if image is None:
        return FileKey(path)
    known = read_fingerprint(settings.store_path(image.set_name), image.image)
    if known is None:
        return FileKey(path, image, f"{image.label()} is not indexed yet")
    try:
        fresh = same_version(Fingerprint.of(path.stat()), known, path)
    except OSError:
        fresh = None
    if fresh is None:
        return FileKey(path, image, f"{image.label()} changed since its set was indexed")
    return FileKey(path, image)


def refuse_non_image(path: Path, max_pixels: int | None = None) -> None:
    """UnreadableImage (NotAnImage when no image format matches, "decompression bomb" when the header claims
    too many pixels) before the network is loaded; reads only the header. Damaged images are found later,
    when they are decoded."""
    from simages.extraction.images import open_image  # Pillow: only for a key that is a file

    with open_image(path, max_pixels):
        pass


def describe_key_file(path: Path, settings: Settings, index: SetIndex) -> np.ndarray:
    """Descriptor of an outside image, computed with the settings the searched set was indexed with.
    NotAnImage / UnreadableImage for a file that is no image; LookupError when the weights are missing;
    ImportError, OSError or RuntimeError when the network cannot run."""
    from simages.extraction.describe import describe_file  # heavy (Keras, torch): only when needed

    # A text file or a bomb is the user's mistake, said before any missing-weights message.
    refuse_non_image(path, settings.max_image_pixels)
    message = settings.check_weights()
    if message:
        raise LookupError(message)
    spec = index.key_descriptor()
    if spec is not None:
        settings = settings.with_(descriptor=spec)
    return np.asarray(describe_file(path, settings), dtype=np.float32)


def why_not_indexed(settings: Settings, set_name: str, image: str) -> str:
    """Why an image of a set has no descriptor, in words: unreadable when the set was indexed (indexing
    again would not help), added since (it would), or not in the set at all."""
    reason = read_failed(settings.store_path(set_name)).get(image)
    if reason is not None:
        return (f"image {image!r} of set {set_name!r} could not be read when the set was indexed ({reason}); "
                "it has no descriptor")
    if not (settings.image_sets / set_name / image).is_file():
        return f"there is no image {image!r} in set {set_name!r}"
    return (f"image {image!r} is not in the index of set {set_name!r}; "
            f"run `{settings.command(f'index {set_name}')}` if it was added since")


# key_vector's default reading: the set opened as `open_set` reads it for the intent.
AS_INTENT = object()


def key_vector(
    key: StoredKey | FileKey | VectorKey,
    settings: Settings,
    index: SetIndex,
    intent: Intent = SIMILAR,
    cache: DescriptorCache | None = None,
    reading: object = AS_INTENT,
) -> tuple[np.ndarray, str | None]:
    """The raw descriptor of the key, and the image of the searched set to leave out (the key itself).
    A key of another set is read through `cache` (required then) -- with `reading` (DescriptorCache.get's
    `descriptor`) when given, else as `open_set` reads it for `intent` -- and must share the set's
    descriptor."""
    if isinstance(key, VectorKey):
        return np.asarray(key.vector, dtype=np.float32), None
    if isinstance(key, FileKey):
        return describe_key_file(key.path, settings, index), None
    if key.set_name == index.set_name:
        key_index = index
    else:
        if cache is None:
            raise ValueError("a key of another set needs the descriptor cache")
        if reading is AS_INTENT:
            key_index = open_set(cache, settings, key.set_name, intent)
        else:
            key_index = read_set(cache, settings, key.set_name, reading)
    require_same_descriptor(key_index, index)
    if key.image not in key_index:
        hint = did_you_mean(key.image, key_index.names)
        raise LookupError(why_not_indexed(settings, key.set_name, key.image) + hint)
    exclude = key.image if key.set_name == index.set_name else None
    return key_index.raw_vector(key.image), exclude


@dataclass(frozen=True)
class QueryRequest:
    """One key against one set. `key`: `SET/IMAGE` or an image file's path as typed, or a key already
    resolved (a StoredKey of validated names, a VectorKey); `knn` / `range_threshold`: the predicate's
    parameter as typed (neither: the intent's default); `index`: `brute`, `pivots[:P]` or None (the default
    search); `exact`: no ANN index even on a large set. `head`: read the sets with that trained head
    (simages train; similar images only); `view`: "" or a teaching view (nearest.teaching.views: `unscaled`
    keeps each vector's length); `apply_chosen=False` reads each set with its own descriptor even when one
    was chosen with --descriptor (the app, like its joins)."""

    key: str | StoredKey | VectorKey
    set_name: str
    metric: str = "cosine"
    knn: str | None = None
    range_threshold: str | None = None
    expand: bool = True
    intent: str = SIMILAR.name
    limit: int | None = None
    include_self: bool = False
    index: str | None = None
    exact: bool = False
    head: str | None = None
    view: str = ""
    apply_chosen: bool = True


@dataclass(frozen=True)
class QueryAnswer:
    """The matches (`result`, its `search` naming the search actually used: "exact" or the ANN method),
    the predicate actually used (`spec`, the intent's default filled in), the intent, the descriptor in
    words, and what the query cost (`cost.approximate` names the ANN method when an index answered)."""

    result: KeyResult
    spec: QuerySpec
    intent: Intent
    descriptors: str
    cost: QueryCost
    # Images found with the key turned (degrees counter-clockwise), for a file key's duplicates query.
    turns: dict[str, int] = field(default_factory=dict)
    # What changed between the key file and each copy found (exact or edited level; simages.copies.changes).
    changes: dict[str, list[Change]] = field(default_factory=dict)
    # Each match's duplicate level (the duplicates question only; simages.operations.query_levels).
    levels: dict[str, Level] = field(default_factory=dict)

    def duplicates(self) -> list[str]:
        """The matches that are copies of the key (exact or edited level), best first."""
        return [m.image for m in self.result.matches
                if m.image in self.levels and is_duplicate(self.levels[m.image])]

    @property
    def index(self) -> str:
        """The search actually used, as the JSON names it: brute, pivots or ann."""
        if self.result.search != "exact":
            return schema.ANN
        return schema.PIVOTS if self.cost.pivots else schema.BRUTE

    def to_json(self, explain: bool = False) -> dict[str, Any]:
        """The answer in the JSON schema of `operations.schema` (with the deprecated "set" and results'
        "image" kept for one release); `explain` adds the "cost"."""
        result = self.result
        payload = schema.header(self.intent.name, [result.set], self.index, self.spec)
        old = result.to_json()
        old["results"] = [{"name": schema.qualified(result.set, m.image), **m.to_json(),
                           **({"turned": self.turns[m.image]} if m.image in self.turns else {}),
                           **({"level": self.levels[m.image].value} if m.image in self.levels else {}),
                           **(changes_json(self.changes[m.image]) if m.image in self.changes else {})}
                          for m in result.matches]
        payload.update({key: value for key, value in old.items() if key not in payload})
        if explain:
            payload["cost"] = self.cost.to_json()
        return payload


def check_request(request: QueryRequest) -> tuple[Intent, IndexChoice]:
    """The checks that need no set: intent, K or T, --index, --limit. ValueError with a user message."""
    intent = intent_named(request.intent)
    query_spec(request.metric, request.knn, request.range_threshold, request.expand)
    choice = IndexChoice() if request.index is None else IndexChoice.parse(request.index)
    if request.limit is not None and request.limit < 1:
        raise ValueError("--limit must be a positive integer")
    if request.head and intent is not SIMILAR:
        raise ValueError("a trained head applies to the similar-images question only")
    if request.view not in VIEWS:
        raise ValueError(f"unknown view {request.view!r}; the only teaching view is {UNSCALED!r}")
    return intent, choice


def reading_of(request: QueryRequest, settings: Settings, intent: Intent) -> object:
    """What the sets are read with (DescriptorCache.get's `descriptor`): the trained head, else the intent's
    reading of the descriptor chosen with --descriptor (unless `apply_chosen` is off), else of the store's
    own. HeadError (a ValueError) for a head that does not exist."""
    if request.head:
        from simages.training.registry import resolve_descriptor  # only for a head

        return resolve_descriptor(f"head:{request.head}", settings.features)
    chosen = settings.descriptor if request.apply_chosen and settings.descriptor_chosen else None
    return descriptor_for(intent, chosen)


def viewed(index: SetIndex, view: str) -> SetIndex:
    """The searched set as the teaching `view` shows it ("" : as it is)."""
    return unscaled_index(index) if view == UNSCALED else index


def run_query(request: QueryRequest, settings: Settings, cache: DescriptorCache,
              tell: Callable[[str], None] | None = None) -> QueryAnswer:
    """Answer one query. Raises (never prints): ValueError / LookupError / StoreError / InvalidName for
    bad input, UnreadableImage for a key file that is no image, ImportError / OSError / RuntimeError when
    the descriptor of a key file cannot be computed. A key file that is an image of a set is answered
    from its stored descriptor when that is of this very file (as `SET/IMAGE` would be); when it is
    described instead (not indexed yet, changed since, another descriptor, or searched turned for
    duplicates), `tell` is given why, before the work."""
    intent, choice = check_request(request)  # a bad K or T is reported before the set is read
    reading = reading_of(request, settings, intent)
    index = read_set(cache, settings, request.set_name, reading)
    spec = query_spec(request.metric, request.knn, request.range_threshold, request.expand, intent, index)
    key = parse_key(request.key, settings) if isinstance(request.key, str) else request.key
    copies = intent.collection_space and not request.view  # the duplicates question, in its own space
    stored: tuple[np.ndarray, str | None] | None = None
    if isinstance(key, FileKey) and key.in_set is not None:
        why = key.why
        if not why and copies:
            why = f"copies are searched turned too (the stored descriptor of {key.in_set.label()} is upright)"
        elif not why:
            try:
                stored = key_vector(key.in_set, settings, index, intent, cache, reading)
            except ValueError:  # its set was indexed with another descriptor than the set searched
                why = f"{key.in_set.set_name!r} was indexed with another descriptor than {index.set_name!r}"
        if stored is not None:
            key = key.in_set
        elif tell is not None:
            refuse_non_image(key.path, settings.max_image_pixels)  # no "describing it" for a non-image
            tell(f"{key.path}: {why}: describing it")
    if isinstance(key, FileKey) and copies:
        return _turned_file_query(request, settings, index, intent, spec, choice, key)
    raw, exclude = stored or key_vector(key, settings, index, intent, cache, reading)
    if request.include_self:
        exclude = None
    searched = viewed(index, request.view)  # after the key's descriptor was checked against the set's own
    search, costs = _searcher(request, settings, searched, spec, choice, key.label(), exclude)

    if not copies:
        result = search(raw)
        return QueryAnswer(result, spec, intent, searched.explain(spec.expand), costs[0])
    turns: dict[str, int] = {}
    mirrored: set[str] = set()
    if isinstance(key, VectorKey) and key.oriented is not None:  # an upload: its turns were described
        from simages.copies.turns import search_oriented

        result, turns, mirrored = search_oriented(search, key.oriented, request.limit)
    else:
        result = search(raw)
    facts: Path | ImageFacts | None = (
        key.facts if isinstance(key, VectorKey) else settings.image_sets / key.set_name / key.image
    )
    local = LocalFeatureCache()  # the copies' verifications, kept to say what changed
    result, levels = copy_levels(result, searched, settings, facts, raw, exclude, local)
    changes = copy_changes_of(result, searched, settings, facts, turns, mirrored, levels, local)
    turns = turns_confirmed(turns, changes)
    return QueryAnswer(result, spec, intent, searched.explain(spec.expand), costs[0], turns, changes, levels)


def copy_levels(result: KeyResult, index: SetIndex, settings: Settings, facts: Path | ImageFacts | None,
                raw: np.ndarray, exclude: str | None, local: LocalFeatureCache | None = None
                ) -> tuple[KeyResult, dict[str, Level]]:
    """The duplicates answer's matches and their levels: the key's `PROMOTED` nearest images (raw: its
    upright stored-style descriptor) are verified even below the threshold, as triage verifies a new
    photo's, and listed when their keypoints prove a copy (simages.operations.query_levels). `local`
    keeps the verifications (one per call when None)."""
    from simages.copies.verification import PROMOTED
    from simages.nearest.duplicates.plain_nearest import plain_nearest_matches
    from simages.nearest.joins.join import key_join

    nearest = key_join(index, raw, QuerySpec.parse(result.metric, "knn", PROMOTED, expand=False),
                       exclude=exclude)
    # The nearest on the square-rooted vectors too: a relearned duplicates space never hides an original.
    plain = [m for m in plain_nearest_matches(raw, index, result.metric, PROMOTED, exclude)
             if m.image not in {n.image for n in nearest.matches}]
    nearest = dataclasses.replace(nearest, matches=[*nearest.matches, *plain])
    merged, added = with_nearest(result, nearest)
    levels = match_levels(merged, index, settings, facts, local,
                          promoted=frozenset(m.image for m in nearest.matches))
    return keep_copies(merged, levels, added), levels


def _turned_file_query(request: QueryRequest, settings: Settings, index: SetIndex, intent: Intent,
                       spec: QuerySpec, choice: IndexChoice, key: FileKey) -> QueryAnswer:
    """A file key searched for its copies as it is and turned by 90, 180 and 270 degrees
    (simages.copies.turns): each image keeps its best score; the answer says which were found turned."""
    from simages.copies.turns import oriented, search_oriented, stack_inputs
    from simages.extraction.describe import describe_images, network_for
    from simages.extraction.images import open_rgb

    refuse_non_image(key.path, settings.max_image_pixels)
    message = settings.check_weights()
    if message:
        raise LookupError(message)
    descriptor = index.key_descriptor() or settings.descriptor
    with open_rgb(key.path, settings.max_image_pixels) as image:
        inputs = stack_inputs(oriented(image))
    raws = describe_images(network_for(settings.weights, settings.model_cache), inputs, descriptor)
    search, costs = _searcher(request, settings, index, spec, choice, key.label(), None)

    merged, turns, mirrored = search_oriented(search, np.asarray(raws, dtype=np.float32), request.limit)
    local = LocalFeatureCache()
    merged, levels = copy_levels(merged, index, settings, key.path, np.asarray(raws[0], np.float32), None,
                                 local)
    changes = copy_changes_of(merged, index, settings, key.path, turns, mirrored, levels, local)
    turns = turns_confirmed(turns, changes)
    return QueryAnswer(merged, spec, intent, index.explain(spec.expand), costs[0], turns, changes, levels)


def _searcher(request: QueryRequest, settings: Settings, index: SetIndex, spec: QuerySpec,
              choice: IndexChoice, label: str, exclude: str | None,
              ) -> tuple[Callable[[np.ndarray], KeyResult], list[QueryCost]]:
    """One search of `index` per key vector (the key as it is, or each of its turns), all with the request's
    options, and the list its costs are gathered in, in the order searched."""
    costs: list[QueryCost] = []

    def search(vector: np.ndarray) -> KeyResult:
        result, spent = explained_key_join(index, vector, spec, choice, key=label, exclude=exclude,
                                           limit=request.limit, settings=settings, exact=request.exact)
        costs.append(spent)
        return result

    return search, costs


def turns_confirmed(turns: dict[str, int], changes: dict[str, list[Change]]) -> dict[str, int]:
    """The turns the answer says copies were found with, less those the pixels showed the copy is not
    turned (simages.copies.changes drops them: e.g. a crop that scored a little better turned)."""
    from simages.copies.changes import TURNED

    return {image: turn for image, turn in turns.items()
            if image not in changes or any(change.code == TURNED for change in changes[image])}


def copy_changes_of(result: KeyResult, index: SetIndex, settings: Settings, key: Path | ImageFacts | None,
                    turns: dict[str, int], mirrored: set[str], levels: dict[str, Level] | None = None,
                    local: LocalFeatureCache | None = None) -> dict[str, list[Change]]:
    """What changed between the key (its file, or its facts) and each copy found in `result` (the pairs
    of the exact or edited level in `index`'s duplicates space: `levels`, else by score alone), where it
    can be told (simages.copies.changes): the turn and mirror of a copy whose keypoints `local` verified
    are its homography's, else those the scores found (`turns`, `mirrored`)."""
    from simages.copies.changes import FactsCache, changes_between, image_facts
    from simages.copies.levels import level_of
    from simages.nearest.core.query_spec import higher_is_better
    from simages.nearest.duplicates.exact import level_thresholds

    thresholds = level_thresholds(index)
    kind = "cosine" if higher_is_better(result.metric) else "euclidean"
    if levels is None:
        levels = {m.image: level_of(m.score, metric=kind, thresholds=thresholds) for m in result.matches}
    key_facts = image_facts(key) if isinstance(key, Path) else key
    source = key_source(key)
    cache = FactsCache()
    found: dict[str, list[Change]] = {}
    for match in result.matches:
        if match.image not in levels or not is_duplicate(levels[match.image]):
            continue
        path = settings.image_sets / index.set_name / match.image
        known = local.known(source, path) if local is not None and source is not None else None
        found[match.image] = changes_between(key_facts, cache.facts(path), turn=turns.get(match.image, 0),
                                             mirrored=match.image in mirrored, verification=known,
                                             cache=cache, names=("the key", match.image))
    return found
