"""`simages index [SET ...]`: bring stores up to date, with a progress bar and a summary per set.

The work runs in a background worker process, exactly as in the app, so the CLI and the app behave alike
(and the set lock keeps them from writing the same store at once).
"""

from __future__ import annotations

import argparse
import sys
import time

from tqdm import tqdm

from simages.jobs import status as st
from simages.jobs.manager import IndexManager
from simages.naming import InvalidName, list_sets, set_dir
from simages.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("index", help="compute descriptors for all sets or the named ones")
    parser.add_argument("sets", nargs="*", metavar="SET", help="set names (sub-folders of image_sets/)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar, only the summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    names = args.sets or list_sets(settings.image_sets)
    for name in names:
        try:
            set_dir(settings.image_sets, name)
        except (InvalidName, LookupError) as error:
            print(
                f"simages index: {error}. Sets are the sub-folders of {settings.image_sets}.", file=sys.stderr
            )
            return 2
    if not names:
        print(f"No image sets in {settings.image_sets}: put a folder of images there, then run again.")
        return 0
    manager = IndexManager(settings, watch=False)
    manager.start(names)
    failed = 0
    try:
        for name in names:
            failed += _follow(manager, name, quiet=args.quiet)
    except KeyboardInterrupt:
        print(
            "\nInterrupted: what was computed so far is kept and the next run resumes from it.",
            file=sys.stderr,
        )
        return 130
    finally:
        manager.stop()
    return 1 if failed else 0


def _follow(manager: IndexManager, name: str, quiet: bool) -> int:
    """Show one set's progress until its run ends; print its summary; 1 if it failed."""
    bar: tqdm | None = None
    while True:
        status = manager.status(name)
        if status.state == st.INDEXING and status.total and not quiet:
            if bar is None:
                bar = tqdm(total=status.total, desc=name, unit="img", dynamic_ncols=True)
            if status.done > bar.n:
                bar.update(status.done - bar.n)
        if status.state == st.FAILED or (status.state == st.INDEXED and manager.summary(name) is not None):
            break
        time.sleep(0.1)
    if bar is not None:
        bar.update(status.total - bar.n)
        bar.close()
    if status.state == st.FAILED:
        print(f"{name}: FAILED: {status.message}", file=sys.stderr)
        return 1
    summary = manager.summary(name)
    assert summary is not None
    line = summary.describe()
    if summary.computed:
        line += f" ({summary.computed} computed in {summary.seconds:.1f} s, {summary.network})"
    print(line)
    for image, reason in summary.unreadable.items():
        print(f"  unreadable: {image}: {reason}")
    for entry, reason in summary.skipped.items():
        print(f"  skipped: {entry}: {reason}")
    return 0
