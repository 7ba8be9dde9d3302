"""`simages atlas SET [--output map.png] [--format table|json] [--pca]`: every image of a set on a 2-D map.

The map is the one the app's /atlas page shows (simages.operations.atlas): read from features/.atlas/ when
it is current, otherwise computed now and kept (UMAP with the extra `atlas`, from 100 images; PCA
otherwise, or with --pca, which is not kept). --output writes a PNG coloured by sub-folder (matplotlib);
without it, one line per image: x, y, sub-folder, image (or JSON: {"set", "method", "images": [{"image",
"x", "y", "folder"}]}).
With a trained head (`simages --descriptor head:NAME atlas SET`, see `simages train`), the set before and
after training: the untrained descriptor's map and the head's, side by side in the PNG (the head's map kept
under the head's name and weights hash, so a retrained head is mapped again); the table gains the head's
x and y, the JSON `"head"` and per image `"head_x"`, `"head_y"`.
Exit codes: 0 success, 2 a user error (bad name, set not indexed...).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from simages.cli.commands import help_of
from simages.cli.common import USER_ERRORS, user_error
from simages.settings import Settings
from simages.wording import plural


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "atlas",
        help=help_of("atlas"),
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("set", metavar="SET", help="the set to map")
    parser.add_argument("--output", metavar="PNG", help="write the map as a PNG image")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="default: table")
    parser.add_argument("--pca", action="store_true", help="the instant PCA map (not kept), not UMAP")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here, not at the top: `simages atlas --help` must not load the map's dependencies.
    from simages.nearest.sets.cache import default_cache
    from simages.operations.atlas import SetAtlas, build_set_atlas, folder_of

    head = settings.descriptor.head if settings.descriptor is not None else None
    if head:
        return _run_head(args, settings, head)
    try:
        index = default_cache.get(settings, args.set)
        started = time.perf_counter()
        if args.pca:
            from simages.atlas.cache import compute_map

            found, _ = compute_map(index.names, index.vectors, method="pca")
            atlas = SetAtlas(args.set, list(index.names), found.coords, [folder_of(n) for n in index.names],
                             "pca", True, found.seconds)
            done = ""
        else:
            atlas, done = build_set_atlas(settings, index)
        if done:
            print(done, file=sys.stderr)
        if args.output:
            from simages.atlas.render import render_png

            render_png(args.output, atlas.coords, atlas.folders,
                       f"{args.set}: {plural(len(atlas.names), 'image')}, {atlas.method.upper()} map")
            print(f"{atlas.note()}\nwritten to {args.output} ({time.perf_counter() - started:.1f} s)",
                  file=sys.stderr)
            return 0
    except USER_ERRORS as error:
        return user_error(error)
    except ImportError as error:
        print(f"simages: error: {error}; install the extra: pip install 'simages[atlas]'", file=sys.stderr)
        return 2
    if args.format == "json":
        json.dump({"set": args.set, "method": atlas.method,
                   "images": [{"image": n, "x": float(x), "y": float(y), "folder": f}
                              for n, (x, y), f in zip(atlas.names, atlas.coords.tolist(), atlas.folders,
                                                      strict=True)]},
                  sys.stdout, ensure_ascii=False)
        print()
        return 0
    for name, (x, y), folder in zip(atlas.names, atlas.coords.tolist(), atlas.folders, strict=True):
        print(f"{x:9.4f}\t{y:9.4f}\t{folder}\t{name}")
    return 0


def _run_head(args: argparse.Namespace, settings: Settings, head: str) -> int:
    """The set before and after the trained head `head`: two maps of the same images."""
    from simages.nearest.sets.cache import default_cache
    from simages.operations.atlas import build_head_atlas

    if args.pca:
        print("simages: error: --pca is not offered with a trained head (both maps are the kept ones)",
              file=sys.stderr)
        return 2
    try:
        untrained = default_cache.get(settings, args.set)
        trained = default_cache.get(settings, args.set, settings.descriptor)
        started = time.perf_counter()
        drawn = build_head_atlas(settings, untrained, trained, head)
        if args.output:
            from simages.atlas.render import render_panels_png

            size = plural(len(drawn.before.names), "image")
            render_panels_png(args.output, [
                (drawn.before.coords, f"{args.set}: {size}, untrained ({drawn.before.method.upper()})"),
                (drawn.after.coords, f"after training {head} ({drawn.after.method.upper()})"),
            ], drawn.before.folders)
            print(f"{drawn.note()}\nwritten to {args.output} ({time.perf_counter() - started:.1f} s)",
                  file=sys.stderr)
            return 0
    except USER_ERRORS as error:
        return user_error(error)
    except ImportError as error:
        print(f"simages: error: {error}; install the extra: pip install 'simages[atlas]'", file=sys.stderr)
        return 2
    rows = zip(drawn.before.names, drawn.before.coords.tolist(), drawn.after.coords.tolist(),
               drawn.before.folders, strict=True)
    if args.format == "json":
        json.dump({"set": args.set, "head": head, "method": drawn.before.method,
                   "head_method": drawn.after.method,
                   "images": [{"image": n, "x": float(x), "y": float(y), "head_x": float(hx),
                               "head_y": float(hy), "folder": f} for n, (x, y), (hx, hy), f in rows]},
                  sys.stdout, ensure_ascii=False)
        print()
        return 0
    for name, (x, y), (hx, hy), folder in rows:
        print(f"{x:9.4f}\t{y:9.4f}\t{hx:9.4f}\t{hy:9.4f}\t{folder}\t{name}")
    return 0
