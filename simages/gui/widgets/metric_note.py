"""When cosine similarity and Euclidean distance must list a set in the same order, and how to say so.

For a key q and images x of equal length r, |q - x|^2 = |q|^2 + r^2 - 2 |q| r cos(q, x): distance grows
exactly as similarity falls, so both metrics rank the images identically. Stored descriptors scaled to unit
length (`l2`, the default) are such a set; the raw flattened map (`flat`) is not.
"""

from __future__ import annotations

import os
import shlex

import numpy as np

from simages.nearest.core.set_index import SetIndex

# Relative spread of squared lengths under which float32 rounding, not the data, decides any difference.
_EQUAL_LENGTH_TOLERANCE = 1e-4


def metrics_rank_alike(index: SetIndex) -> bool:
    """True when every vector the set is searched with has the same length, so cosine similarity and
    Euclidean distance order its images identically for any key."""
    norms = np.asarray(index.sq_norms, dtype=np.float64)
    if len(norms) < 2:
        return True
    top = float(norms.max())
    return top == 0.0 or float(norms.max() - norms.min()) <= _EQUAL_LENGTH_TOLERANCE * top


def metrics_note(set_name: str) -> str:
    """One plain sentence for the results page, shown where the two metrics agree."""
    return (f"Cosine similarity and Euclidean distance list {set_name} in the same order: all its "
            "descriptors have the same length (1), and then distance² = 2 − 2 × similarity. Only the numbers "
            "differ.")


def differing_demo(set_name: str, key_set: str | None, image: str | None) -> list[str]:
    """Shell commands that show the two metrics disagreeing when searching `set_name` with this key (a file
    placeholder for an uploaded key): the raw flattened map, in a second root that links the same
    image_sets/, so this app's stores stay as they are."""
    sets = [set_name] + ([key_set] if key_set and key_set != set_name else [])
    key = _quoted(f"{key_set}/{image}" if key_set and image else "PHOTO.jpg")
    run = "simages --root flat-demo --descriptor flat"
    return [
        'mkdir -p flat-demo && ln -sfn "$PWD/image_sets" flat-demo/image_sets',
        f"{run} index {' '.join(_quoted(s) for s in sets)}",
        *(f"{run} query {key} --set {_quoted(set_name)} --metric {metric}"
          for metric in ("euclidean", "cosine")),
    ]


def _quoted(text: str) -> str:
    if text.isascii() or not any("\udc80" <= char <= "\udcff" for char in text):
        return shlex.quote(text)
    # A name that is not UTF-8: bash's $'...' quoting names its exact bytes.
    raw = os.fsencode(text)
    escaped = (chr(b) if 32 <= b < 127 and chr(b) not in "'\\" else f"\\x{b:02x}" for b in raw)
    return "$'" + "".join(escaped) + "'"
