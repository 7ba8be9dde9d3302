"""The two questions SIMages answers, each with the descriptor settings that answer it well.

- **similar** ("similar images"): which images show the same kind of thing (any bus for a bus)? Scored
  with the set's full descriptor, by default `gap+l2+pca128+qe10`: PCA learned on the set and query
  expansion make class-level rankings better (Corel-1k mAP 0.910 against 0.863 for plain `gap+l2`).
- **duplicates** ("duplicates"): which images are copies of the same photo, edited or not? Scored with
  the stored vectors, square-rooted (power normalisation) and PCA-whitened, without query expansion:
  `gap+sqrt+l2+whiten` on a default store. The whitening is the collection's duplicates space
  (simages.copies.space: learned once on all the user's indexed photos, the same for every set
  searched). Expansion pulls a key toward its class, so other photos of the class outrank its own
  rotated or letterboxed copies (top-1 0.78 against 0.999); one whitening for the whole collection gives
  the same pair the same score in any set, so one duplicate threshold means the same everywhere
  (docs/duplicates.md has the measurements).

Both intents read the same feature store: they differ only in the parts applied at load and query time,
so switching intent never re-indexes anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from simages.extraction.descriptor_spec import DescriptorSpec


@dataclass(frozen=True)
class Intent:
    """One question, its plain name (`name`, used in the CLI and URLs), a title for screens, and how it
    turns a store's descriptor into the descriptor its joins apply."""

    name: str
    title: str
    question: str
    # Whether the load- and query-time parts of the store's descriptor (PCA, whitening, expansion) apply;
    # if not, the stored vectors are square-rooted and whitened on the set instead (the duplicates space).
    keeps_learned_parts: bool
    # Whether its whitening is the collection's duplicates space (simages.copies.space), the same for
    # every set, rather than one learned on the searched set.
    collection_space: bool = False

    def descriptor(self, stored: DescriptorSpec | str) -> DescriptorSpec:
        """The descriptor this intent's joins apply to a store written with `stored` (its index-time part is
        kept, so the same store serves both intents).

        ValueError if `stored` is text that does not parse."""
        spec = DescriptorSpec.parse(stored) if isinstance(stored, str) else stored
        if self.keeps_learned_parts:
            return spec
        stored_part = DescriptorSpec.parse(spec.extraction_key())
        return stored_part.with_(sqrt=True, whiten=True)

    def describe(self) -> str:
        """One line for screens and CLI output: which intent ran and what it answers."""
        return f"{self.title}: {self.question}"


SIMILAR = Intent(
    name="similar",
    title="Similar images",
    question="images that show the same kind of thing",
    keeps_learned_parts=True,
)
DUPLICATES = Intent(
    name="duplicates",
    title="Duplicates",
    question="copies of the same photo, exact or edited (resized, cropped, re-encoded...)",
    keeps_learned_parts=False,
    collection_space=True,
)
INTENTS: dict[str, Intent] = {intent.name: intent for intent in (SIMILAR, DUPLICATES)}
DEFAULT_INTENT = SIMILAR

# Whitened cosine similarity at or above which two images are called duplicates (docs/duplicates.md):
# distinct photos score 0 +- 0.05 in any set (one pair in 10,000 reaches about 0.45 on Corel-1k), edited
# copies mostly 0.6-1; the threshold sits between, at ten spreads of distinct pairs. Here, beside the
# intent it serves, so the CLI's help can name it without loading the joins.
DUPLICATE_COSINE = 0.5
# The same on square-rooted vectors that are not whitened (a collection under 20 images, too small to learn
# a whitening from): distinct photos score 0.54 +- 0.10.
UNWHITENED_DUPLICATE_COSINE = 0.9


def descriptor_for(intent: Intent, chosen: DescriptorSpec | None = None) -> DescriptorSpec | Intent | None:
    """What to read a set with (DescriptorCache.get's `descriptor`) for `intent`, given the descriptor a
    user chose for this run (`--descriptor` / $SIMAGES_DESCRIPTOR), if any: the duplicates intent always
    uses its own space; the similar intent applies the chosen descriptor (the cache applies its PCA,
    whitening and expansion to the stored vectors, or raises DescriptorMismatch saying to re-index), or
    the store's own descriptor (None) when none was chosen."""
    if not intent.keeps_learned_parts:
        return intent
    return chosen


def intent_named(name: str) -> Intent:
    """The intent called `name` (case and spaces ignored); ValueError naming the choices otherwise."""
    key = str(name).strip().lower()
    try:
        return INTENTS[key]
    except KeyError:
        raise ValueError(f"unknown intent {name!r}; choose {' or '.join(INTENTS)}") from None


def no_duplicate_sentence(set_name: str) -> str:
    """What a duplicates search of one photo that found nothing answers (CLI and app): the curator's
    question, "is this photo already in SET?", is a yes/no one."""
    return f"No duplicate of this photo in {set_name}."
