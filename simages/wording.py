"""Counts in words: "1 pivot", "2 pivots", "1,234 images" (every message a person reads).

One helper, so no message says "1 pivots" or "1 images": tests/test_wording.py finds f-strings that put a
count before a plural noun by hand.
"""

from __future__ import annotations

_IRREGULAR = {"photo": "photos", "index": "indexes", "child": "children", "person": "people"}


def plural_of(noun: str) -> str:
    """The English plural of a countable `noun` ("match" -> "matches", "copy" -> "copies"); for a noun
    phrase the last word is made plural ("pair of images" is not handled: pass `many` to `plural`)."""
    head, _, last = noun.rpartition(" ")
    if last in _IRREGULAR:
        word = _IRREGULAR[last]
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        word = last + "es"
    elif last.endswith("y") and last[-2:-1] not in tuple("aeiou"):
        word = last[:-1] + "ies"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def agree(number: int | float, one: str, many: str) -> str:
    """The word that agrees with `number` as its subject: agree(1, "has", "have") is "has" ("1 of 51
    images has ..."), agree(2, "its place", "their places") is "their places"."""
    return one if number == 1 else many


def plural(number: int | float, noun: str, many: str | None = None) -> str:
    """`number` and the noun agreeing with it, the number with thousands separators: plural(1, "pivot") is
    "1 pivot", plural(1234, "image") is "1,234 images", plural(2, "pair of images", "pairs of images")."""
    shown = f"{number:,}" if isinstance(number, int) else f"{number:g}"
    return f"{shown} {noun if number == 1 else (many or plural_of(noun))}"
