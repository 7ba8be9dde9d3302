"""`simages bench atlas`: the atlas of a 10,000-image set: the background UMAP fit, the reuse of the kept
map, new images placed without a new fit, and the work of opening the page from the kept map.

The descriptors are realistic synthetic ones (simages.bench.realistic_descriptors) modelled on an indexed
set of real photos (--from, default the largest), unit length, 512 values, as the default store keeps
them. Each step prints wall time and the process's CPU seconds (all threads), with the load average: on
a shared machine wall time grows with the load, CPU seconds much less. Floors (docs/atlas.md): the map of
10,000 images within 60 s, the page's server-side work from the kept map within 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from simages.bench.ann_bench import add_model_arguments, source_vectors
from simages.cli.common import USER_ERRORS, fail, user_error
from simages.extraction.calibration import describe_cpu
from simages.settings import Settings

FIT_FLOOR_S = 60.0
PAGE_FLOOR_S = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=10_000,
                        help="images in the synthetic set (default 10,000)")
    parser.add_argument("--added", type=int, default=200,
                        help="images added afterwards, placed on the kept map (default 200)")
    add_model_arguments(parser)


def _step(label: str, fn):
    load = os.getloadavg()[0]
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<46} {wall:8.2f} s wall {cpu:8.2f} s CPU   load {load:5.1f} -> {os.getloadavg()[0]:5.1f}",
          flush=True)
    return result, wall


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    from simages.atlas.cache import refresh_map
    from simages.atlas.projection import umap_available
    from simages.bench.realistic_descriptors import fit_model, sample
    from simages.gui.pages.atlas import set_map_options
    from simages.nearest.core.set_index import SetIndex
    from simages.operations.atlas import set_atlas

    if not umap_available():
        return fail("the atlas benchmark measures UMAP: pip install 'simages[atlas]'")
    try:
        if args.size < 1000 or args.added < 1:
            raise ValueError("--size >= 1000 and --added >= 1")
        fitted_on, real = source_vectors(settings, args.source)
    except USER_ERRORS as error:
        return user_error(error)
    print(f"CPU: {describe_cpu()}")
    model = fit_model(real, seed=args.seed)
    vectors = sample(model, args.size + args.added, seed=args.seed)
    names = [f"folder{i % 20:02d}/img_{i:06d}.jpg" for i in range(len(vectors))]
    base, more = slice(0, args.size), slice(0, args.size + args.added)
    print(f"{args.size:,} descriptors ({vectors.shape[1]} values) modelled on set {fitted_on!r}; "
          f"{args.added} more added later")
    with tempfile.TemporaryDirectory(prefix="simages-atlas-") as temp:
        local = Settings(root=Path(temp))
        features = local.features
        (found, _), fit_s = _step(f"UMAP map of {args.size:,} images (first fit)",
                                  lambda: refresh_map(features, "big", names[base], vectors[base]))
        assert found.method == "umap"
        (_, done), reuse_s = _step("kept map, nothing changed (no recompute)",
                                   lambda: refresh_map(features, "big", names[base], vectors[base]))
        assert done == "", done
        (placed, done), place_s = _step(f"+{args.added} images placed with UMAP.transform",
                                        lambda: refresh_map(features, "big", names[more], vectors[more]))
        index = SetIndex("big", names[more], vectors[more], "gap+l2")

        def page() -> int:
            atlas = set_atlas(local, index)
            assert atlas.final and atlas.method == "umap"
            options, _ = set_map_options(atlas)
            return len(json.dumps(options))

        size, page_s = _step("page open from the kept map (server side)", page)
    print(f"\nplaced: {placed.placed} of {len(placed):,} points ({done})")
    print(f"page payload: {size / 1e6:.1f} MB of chart options for {args.size + args.added:,} points")
    print(f"fit: {fit_s:.1f} s (floor {FIT_FLOOR_S:.0f} s: {'met' if fit_s <= FIT_FLOOR_S else 'NOT met'}); "
          f"reuse {reuse_s * 1000:.0f} ms; placing {args.added}: {place_s:.1f} s "
          f"({fit_s / max(place_s, 1e-9):.0f}x faster than a new fit); page {page_s:.2f} s "
          f"(floor {PAGE_FLOOR_S:.0f} s: {'met' if page_s <= PAGE_FLOOR_S else 'NOT met'})")
    print(f"load average at end: {os.getloadavg()[0]:.2f} (2 cores; wall times grow with it)")
    return 0

