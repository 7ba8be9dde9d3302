"""The sets a use case names, opened through the caller's cache and checked to be comparable."""

from __future__ import annotations

from collections.abc import Sequence

from simages.nearest.core.intents import SIMILAR, Intent, descriptor_for
from simages.nearest.core.set_index import SetIndex
from simages.nearest.sets.cache import DescriptorCache
from simages.settings import Settings


def open_set(cache: DescriptorCache, settings: Settings, name: str, intent: Intent = SIMILAR) -> SetIndex:
    """A set read for `intent`: with `--descriptor` (or $SIMAGES_DESCRIPTOR) the similar intent applies that
    descriptor to the stored vectors, or fails with a message saying to re-index (DescriptorMismatch).
    NotIndexed (a LookupError), InvalidName or StoreError when the set cannot be read."""
    chosen = settings.descriptor if settings.descriptor_chosen else None
    return cache.get(settings, name, descriptor_for(intent, chosen))


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
        return cache.get(settings, name, intent)

    a = read(a_name)
    bs = [a if name == a_name else read(name) for name in b_names]
    for b in bs:
        require_same_descriptor(a, b)
    return a, bs
