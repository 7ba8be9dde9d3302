"""The sets a use case names, opened through the caller's cache and checked to be comparable."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from simages.naming import list_sets
from simages.nearest.core.intents import SIMILAR, Intent, descriptor_for
from simages.nearest.core.set_index import SetIndex
from simages.nearest.sets.cache import DescriptorCache, NotIndexed
from simages.settings import Settings

# Beyond this many names a suggestion would cost more than the mistake (difflib compares every name).
SUGGEST_AMONG = 200_000


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """"; did you mean 'x'?" for the closest of `choices` to a mistyped `word` (difflib's ratio >= 0.6),
    else ""."""
    if len(choices) > SUGGEST_AMONG:
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def read_set(cache: DescriptorCache, settings: Settings, name: str, reading: object) -> SetIndex:
    """`cache.get` with a suggestion when the set does not exist (NotIndexed, a LookupError)."""
    try:
        return cache.get(settings, name, reading)  # type: ignore[arg-type]
    except NotIndexed as error:
        if not (settings.image_sets / name).is_dir():
            error.args = (f"{error}{did_you_mean(name, list_sets(settings.image_sets))}",)
        raise


def open_set(cache: DescriptorCache, settings: Settings, name: str, intent: Intent = SIMILAR) -> SetIndex:
    """A set read for `intent`: with `--descriptor` (or $SIMAGES_DESCRIPTOR) the similar intent applies that
    descriptor to the stored vectors, or fails with a message saying to re-index (DescriptorMismatch).
    NotIndexed (a LookupError; "did you mean ...?" for a mistyped name), InvalidName or StoreError when
    the set cannot be read."""
    chosen = settings.descriptor if settings.descriptor_chosen else None
    return read_set(cache, settings, name, descriptor_for(intent, chosen))


def require_same_descriptor(a: SetIndex, b: SetIndex) -> None:
    """ValueError unless both sets were indexed with the same descriptor (vectors of two descriptors are
    not comparable, even when their dimensions agree)."""
    if a.descriptor != b.descriptor:
        raise ValueError(
            f"set {a.set_name!r} was indexed with descriptor {a.descriptor!r} but set {b.set_name!r} with "
            f"{b.descriptor!r}; re-index one of them with the other's descriptor"
        )


def open_join_sets(
    cache: DescriptorCache,
    settings: Settings,
    a_name: str,
    b_names: Sequence[str],
    intent: Intent = SIMILAR,
    *,
    apply_chosen: bool = True,
) -> tuple[SetIndex, list[SetIndex]]:
    """A and the sets B, read with the intent. ValueError for a set named twice, A among several
    sets B, or sets of different descriptors; LookupError/StoreError for a set that cannot be read.
    `apply_chosen=False` reads the intent's own descriptor even when one was chosen (the app's joins)."""
    if len(set(b_names)) != len(b_names):
        raise ValueError("each set B may be named once")
    if len(b_names) > 1 and a_name in b_names:
        raise ValueError(f"{a_name} cannot be both A and one of several sets B: join it with itself "
                         f"on its own (`simages join {a_name} {a_name}`)")

    def read(name: str) -> SetIndex:
        if apply_chosen:
            return open_set(cache, settings, name, intent)
        return read_set(cache, settings, name, intent)

    a = read(a_name)
    bs = [a if name == a_name else read(name) for name in b_names]
    for b in bs:
        require_same_descriptor(a, b)
    return a, bs
