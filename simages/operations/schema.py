"""The one JSON shape of SIMages' answers (`--format json` of query, join, duplicates; the app's
/join.json), version `JSON_SCHEMA`.

Every answer starts with the same keys:
  "schema"     this version (an integer; a reader checks it before anything else)
  "intent"     "similar" or "duplicates": which question the scores answer
  "sets"       the set names involved, the searched or first set first
  "index"      the search actually used: "brute" (exact, every image compared), "pivots" (exact, a pivot
               table pruned distances) or "ann" (candidates from an approximate index, scored exactly)
  "metric", "predicate", "param", "threshold"   the cut-off actually used ("threshold": the range
               threshold, null for kNN)
then its rows, with every image named `set/image` ("name" in a query's results; "a" and "b" in pairs).

Deprecated keys, kept for one release (0.2 removes them): a query's "set" (use "sets") and its results'
"image" (the name inside the set; use "name").
"""

from __future__ import annotations

from typing import Any

from simages.nearest.core.query_spec import QuerySpec

JSON_SCHEMA = 1
BRUTE, PIVOTS, ANN = "brute", "pivots", "ann"


def header(intent: str, sets: list[str], index: str, spec: QuerySpec | None = None) -> dict[str, Any]:
    """The keys every JSON answer starts with (see the module docstring)."""
    out: dict[str, Any] = {"schema": JSON_SCHEMA, "intent": intent, "sets": list(sets), "index": index}
    if spec is not None:
        out.update(metric=spec.metric, predicate=spec.predicate, param=spec.param,
                   threshold=float(spec.param) if spec.predicate == "range" else None)
    return out


def qualified(set_name: str, image: str) -> str:
    """An image's name in every JSON answer: `set/image`."""
    return f"{set_name}/{image}"
