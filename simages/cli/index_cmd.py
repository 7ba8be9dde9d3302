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
    try:
        failed = _follow(manager, names, quiet=args.quiet)
    except KeyboardInterrupt:
        print(
            "\nInterrupted: what was computed so far is kept and the next run resumes from it.",
            file=sys.stderr,
        )
        return 130
    finally:
        manager.stop()
    return 1 if failed else 0


def _follow(manager: IndexManager, names: list[str], quiet: bool) -> int:
    """Show the progress of whichever set is being indexed (the manager picks the order) and print each
    set's summary as it ends; the number of sets that failed."""
    pending = list(names)
    failed = 0
    bar: tqdm | None = None
    bar_name = ""
    while pending:
        for name in list(pending):
            status = manager.status(name)
            finished = status.state == st.FAILED or (
                status.state == st.INDEXED and manager.summary(name) is not None
            )
            if status.state == st.INDEXING and status.total and not quiet and not finished:
                if bar_name != name:
                    if bar is not None:
                        bar.close()
                    bar, bar_name = tqdm(total=status.total, desc=name, unit="img", dynamic_ncols=True), name
                if bar is not None and status.done > bar.n:
                    bar.update(status.done - bar.n)
            if not finished:
                continue
            if bar is not None and bar_name == name:
                bar.update(bar.total - bar.n)
                bar.close()
                bar, bar_name = None, ""
            pending.remove(name)
            failed += _report(manager, name, status)
        time.sleep(0.1)
    return failed


def _report(manager: IndexManager, name: str, status: st.SetStatus) -> int:
    """Print one set's summary (above any progress bar); 1 if it failed."""
    if status.state == st.FAILED:
        tqdm.write(f"{name}: FAILED: {status.message}", file=sys.stderr)
        return 1
    summary = manager.summary(name)
    assert summary is not None
    line = summary.describe()
    if summary.computed:
        line += f" ({summary.computed} computed in {summary.seconds:.1f} s, {summary.network})"
    tqdm.write(line)
    for image, reason in summary.unreadable.items():
        tqdm.write(f"  unreadable: {image}: {reason}")
    for entry, reason in summary.skipped.items():
        tqdm.write(f"  skipped: {entry}: {reason}")
    return 0
