"""What a leave-one-out table cannot say on a small folder, in words beside it.

Two things made `simages eval` on small sets misleading: it scored descriptor options (PCA, whitening,
query expansion) that the app would not use on a set of that size (nearest.core.set_index.applicable_spec
leaves them out), and it printed P@k for k beyond what a class can hold, where even a perfect ranking
scores below 1 (a key has at most class size - 1 relevant images).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from simages.extraction.descriptor_spec import DescriptorSpec
from simages.extraction.network import MAP_SHAPE
from simages.nearest.core.set_index import applicable_spec
from simages.wording import plural


def _stored_dimension(spec: DescriptorSpec) -> int:
    """Values per image before anything is learned on the set: the pooled 512 channels, or the whole
    flattened map."""
    return int(MAP_SHAPE[0] * MAP_SHAPE[1] * MAP_SHAPE[2]) if spec.pooling == "flat" else int(MAP_SHAPE[2])


def unused_option_notes(options: Sequence[DescriptorSpec], images: int) -> list[str]:
    """One sentence per option the app would search differently on a set of `images` images: what it
    would use instead. Empty when every option applies as scored."""
    notes = []
    for spec in options:
        used = applicable_spec(spec, images, _stored_dimension(spec))
        if used.key() != spec.key():
            notes.append(f"{spec.key()}: on a set of {plural(images, 'image')} the app searches with "
                         f"{used.key()} "
                         "(too few images for the rest); its rows score the full option, which the app would "
                         "not use here.")
    return notes


def precision_notes(classes: Mapping[str, int], ks: Sequence[int]) -> list[str]:
    """One sentence per P@k whose k exceeds what the smallest class can hold: the most it can reach."""
    if not classes:
        return []
    smallest = min(classes, key=lambda name: (classes[name], name))
    relevant = classes[smallest] - 1  # a key's relevant images: the rest of its class
    notes = []
    for k in ks:
        if k > relevant:
            notes.append(f"P@{k}: the smallest class ({smallest}) has {plural(classes[smallest], 'image')}, "
                         f"so its keys have at most {plural(relevant, 'relevant image')} and P@{k} stays at "
                         "or below "
                         f"{relevant / k:.2f} for them even when the ranking is perfect.")
    return notes
