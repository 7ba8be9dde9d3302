"""`simages bench pivots SET`: how much a pivot table (LAESA) saves on an indexed set, dimension by dimension.

For each dimension (the set's stored descriptor reduced by PCA and scaled to unit length again, see
nearest.teaching.reduced) and each number of pivots, the same keys (images of the set, each left out of its
own answer) are answered by brute force and through the pivot table: the table prints the share of the
set whose distance still had to be computed, for kNN and for a range query at the set's duplicate
threshold (simages.nearest.duplicates.exact, defined on the set's duplicates reading; carried to each
dimension as the threshold that the same share of that view's pairs pass), with milliseconds per query of
both beside it. Every pivot answer is checked against brute
force; a difference is reported and the exit code is 1. The intrinsic dimensionality rho (Chávez et al.)
of each dimension's distance distribution explains the table: pruning collapses as rho grows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from simages.cli.common import USER_ERRORS, user_error
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.core.query_spec import QuerySpec
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import duplicate_threshold
from simages.nearest.pivots.table import space_of, space_points
from simages.nearest.sets.cache import default_cache
from simages.nearest.teaching.intrinsic_dim import intrinsic_dimensionality
from simages.nearest.teaching.query_cost import IndexChoice, explained_key_join
from simages.nearest.teaching.reduced import carried_threshold, pair_share, reduced_index
from simages.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("set", metavar="SET", help="an indexed set")
    parser.add_argument("--dims", default="512,128,32,16,8", help="PCA dimensions, comma-separated")
    parser.add_argument("--pivots", default="8,32,64", help="numbers of pivots, comma-separated")
    parser.add_argument("--queries", type=int, default=100, help="keys per measurement (images of the set)")
    parser.add_argument("--k", type=int, default=10, help="k of the kNN queries")
    parser.add_argument("--metric", choices=("cosine", "euclidean"), default="cosine", help="default: cosine")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="default: table")
    parser.add_argument("--seed", type=int, default=0, help="which images are the keys")


@dataclass(frozen=True)
class Row:
    dimension: int
    rho: float
    predicate: str
    param: float
    pivots: int
    computed_share: float  # mean over keys of computed / total
    pivot_ms: float  # median per query
    brute_ms: float  # median per query, brute force on the same keys
    identical: bool  # every pivot answer equal to brute force


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{what} must be whole numbers separated by commas, got {text!r}") from None
    if not values or min(values) < 1:
        raise ValueError(f"{what} must be positive whole numbers, got {text!r}")
    return values


def measure(
    index: SetIndex,
    dims: list[int],
    pivots: list[int],
    queries: int,
    k: int,
    metric: str,
    seed: int = 0,
    range_share: float = 0.0,
) -> list[Row]:
    """The rows of the table; see the module docstring. The range query of each dimension uses the
    threshold that `range_share` of that view's pairs pass (nearest.teaching.reduced.carried_threshold).
    ValueError for a set too small to query."""
    if len(index) < 2:
        raise ValueError(f"set {index.set_name!r} has {len(index)} image(s); the benchmark needs at least 2")
    rng = np.random.default_rng(seed)
    keys = [index.names[r] for r in np.sort(rng.choice(len(index), min(queries, len(index)), replace=False))]
    rows = []
    for dimension in dims:
        reduced = reduced_index(index, dimension)
        rho = intrinsic_dimensionality(space_points(reduced, space_of(metric))).rho
        threshold = carried_threshold(reduced, metric, range_share)
        for spec in (QuerySpec(metric, "knn", k, expand=False), QuerySpec(metric, "range", threshold,
                                                                         expand=False)):
            choices = [IndexChoice("brute"), *(IndexChoice("pivots", count) for count in pivots)]
            for choice in choices:  # warm-up; builds the pivot tables, paid once per set, not per query
                explained_key_join(reduced, reduced.raw_vector(keys[0]), spec, choice, exclude=keys[0])
            ms: dict[IndexChoice, list[float]] = {choice: [] for choice in choices}
            share = dict.fromkeys(choices, 0.0)
            used = dict.fromkeys(choices, 0)
            identical = dict.fromkeys(choices, True)
            # Each key runs every way in turn, so a burst of load from other processes hits all alike.
            for key in keys:
                brute = None
                for choice in choices:
                    result, cost = explained_key_join(reduced, reduced.raw_vector(key), spec, choice,
                                                      exclude=key)
                    brute = result.matches if brute is None else brute
                    identical[choice] &= result.matches == brute
                    ms[choice].append(cost.ms)
                    share[choice] += cost.share()
                    used[choice] = max(used[choice], cost.pivots)
            brute_ms = float(np.median(ms[choices[0]]))
            for choice in choices[1:]:
                rows.append(Row(reduced.vectors.shape[1], rho, spec.predicate, float(spec.param),
                                used[choice], share[choice] / len(keys), float(np.median(ms[choice])),
                                brute_ms, identical[choice]))
    return rows


def cpu_name() -> str:
    """The CPU's model name, family and model numbers and core count (figures differ between CPUs)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    family = f", family {fields['cpu family']} model {fields['model']}" if "cpu family" in fields else ""
    return f"{name}{family}, {os.cpu_count()} cores"


def format_table(
    rows: list[Row], set_name: str, size: int, queries: int, metric: str, range_note: str = ""
) -> str:
    """Two markdown tables (kNN, range): dimension x pivots, share computed and ms per query."""
    lines = [f"Pivot table (LAESA, farthest-first pivots) on {set_name}: {size:,} images, {queries} keys, "
             f"{metric}; CPU: {cpu_name()}",
             "Each cell: share of the set whose distance was computed (the pivots' own distances included), "
             "and median ms per query (brute force computes every distance: ms in its own column). "
             "Times measured in this run; on a shared machine they are inflated, compare them only "
             "with each other."]
    for predicate in ("knn", "range"):
        part = [r for r in rows if r.predicate == predicate]
        if not part:
            continue
        counts = sorted({r.pivots for r in part})
        if predicate == "knn":
            title = f"kNN, k = {int(part[0].param)}"
        else:
            title = f"range at the duplicate threshold ({range_note or 'per dimension'}: " + ", ".join(
                f"{r.dimension}-d {r.param:.3f}" for r in part if r.pivots == counts[0]) + ")"
        lines += ["", f"{title}:", "",
                  "| dimension | ρ | brute force ms | " + " | ".join(f"{c} pivots" for c in counts) + " |",
                  "|---:|---:|---:|" + "---:|" * len(counts)]
        for dimension in dict.fromkeys(r.dimension for r in part):
            cells = {r.pivots: r for r in part if r.dimension == dimension}
            first = next(iter(cells.values()))
            text = [f"{100 * cells[c].computed_share:.0f}% ({cells[c].pivot_ms:.2f} ms)" if c in cells
                    else "-" for c in counts]
            head = f"| {dimension} | {first.rho:.1f} | {first.brute_ms:.2f} | "
            lines.append(head + " | ".join(text) + " |")
    if not all(r.identical for r in rows):
        lines += ["", "ERROR: some pivot answers differ from brute force"]
    else:
        lines += ["", "Every pivot answer was identical to brute force."]
    return "\n".join(lines)


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    try:
        dims = _int_list(args.dims, "--dims")
        pivots = _int_list(args.pivots, "--pivots")
        if args.queries < 1 or args.k < 1:
            raise ValueError("--queries and --k must be at least 1")
        index = default_cache.get(settings, args.set)
        duplicates = default_cache.get(settings, args.set, DUPLICATES)
        threshold = duplicate_threshold(args.metric, duplicates)
        share = pair_share(duplicates, args.metric, threshold, expand=False)
        rows = measure(index, dims, pivots, args.queries, args.k, args.metric, args.seed, share)
    except USER_ERRORS as error:
        return user_error(error)
    queries = min(args.queries, len(index))
    if args.format == "json":
        payload: dict[str, Any] = {"set": index.set_name, "images": len(index), "queries": queries,
                                   "metric": args.metric, "cpu": cpu_name(), "duplicate_threshold": threshold,
                                   "duplicate_pair_share": share,
                                   "rows": [asdict(r) for r in rows]}
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        op = ">=" if args.metric == "cosine" else "<="
        note = (f"{op} {threshold:g} in the duplicates reading, passed by {100 * share:.3g}% of the pairs; "
                "each dimension uses the threshold that the same share of its pairs pass")
        print(format_table(rows, index.set_name, len(index), queries, args.metric, note))
    return 0 if all(r.identical for r in rows) else 1
