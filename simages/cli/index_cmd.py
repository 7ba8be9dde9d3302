"""`simages index [SET ...]`: bring stores up to date, with a progress bar and a summary per set.

The work runs in a background worker process, exactly as in the app, so the CLI and the app behave alike
(and the set lock keeps them from writing the same store at once).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from simages.cli.commands import help_of
from simages.cli.long_lists import print_lists, report_path
from simages.naming import InvalidName, list_sets, set_dir
from simages.settings import ENV_CLUSTER, Settings

if TYPE_CHECKING:
    from tqdm import tqdm

    from simages.jobs import status as st
    from simages.jobs.manager import IndexManager


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("index", help=help_of("index"), description=help_of("index"))
    parser.add_argument("sets", nargs="*", default=[], metavar="SET",
                        help="set names (sub-folders of image_sets/)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar, only the summary")
    parser.add_argument(
        "--verbose", "-v", action="store_true",
        help="list every unreadable or skipped file (otherwise the first few, a count per reason, and the "
        "full list written to features/.reports/SET.txt)",
    )
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the extraction on a Dask cluster: tcp://HOST:8786 (a running scheduler) or local[:N] "
        f"(N worker processes on this machine, for trying it out) (default: ${ENV_CLUSTER}; none: here)",
    )
    parser.add_argument(
        "--shared-path",
        nargs="?",
        const="",
        metavar="FOLDER",
        help="with --cluster: the workers read the image files themselves, at FOLDER (where they see "
        "image_sets/; default: the same path as here; write --shared-path=FOLDER before set names), "
        "instead of being sent their bytes",
    )
    parser.add_argument(
        "--log-batches",
        action="store_true",
        help="log each batch's read, queue, transfer, decode, network and write times (stderr)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from simages.jobs.distributor import ClusterError
    from simages.jobs.manager import IndexManager
    from simages.settings import ENV_LOG_BATCHES

    try:
        settings = _with_cluster_options(args, settings)
    except ValueError as error:
        print(f"simages: error: {error}", file=sys.stderr)
        return 2
    if args.log_batches:
        os.environ[ENV_LOG_BATCHES] = "1"  # read by the indexing process (jobs/worker.py)
    names = args.sets or list_sets(settings.image_sets)
    usable = []
    for name in names:
        try:
            set_dir(settings.image_sets, name)
        except (InvalidName, LookupError) as error:
            # A name the user typed is an error; a folder found on disk that cannot be a set is skipped.
            kind = "error" if args.sets else "warning"
            print(f"simages: {kind}: {error}. Sets are the sub-folders of {settings.image_sets}.",
                  file=sys.stderr)
            if args.sets:
                return 2  # a name the user typed: say so rather than index something else
            continue  # a folder found on disk that cannot be a set: skipped, never fatal to the others
        usable.append(name)
    names = usable
    if not names:
        print(f"No image sets in {settings.image_sets}: put a folder of images there, then run again.")
        return 0
    # `simages atlas SET` maps on demand; `simages duplicates --calibrate` estimates the threshold.
    manager = IndexManager(settings, watch=False, build_atlas=False, calibrate=False)
    try:
        manager.start(names)
    except ClusterError as error:
        manager.stop()
        print(f"simages: error: {error}", file=sys.stderr)
        return 2
    try:
        failed = _follow(manager, names, quiet=args.quiet, verbose=args.verbose)
        _follow_derived(manager, names)
    except KeyboardInterrupt:
        print(
            "\nInterrupted: what was computed so far is kept and the next run resumes from it.",
            file=sys.stderr,
        )
        return 130
    finally:
        manager.stop()
    return 1 if failed else 0


def _with_cluster_options(args: argparse.Namespace, settings: Settings) -> Settings:
    """Settings with --cluster / --shared-path applied (options win over the environment)."""
    from simages.jobs.distributor import parse_cluster

    cluster = args.cluster or settings.cluster
    if cluster:
        parse_cluster(cluster)  # a malformed value is refused before anything starts
    if args.shared_path is None:
        shared = settings.shared_path
    else:
        shared = Path(args.shared_path).expanduser() if args.shared_path else settings.image_sets
    if shared is not None and not cluster:
        raise ValueError("--shared-path only applies with --cluster")
    return settings.with_(cluster=cluster, shared_path=shared)


def _follow(manager: IndexManager, names: list[str], quiet: bool, verbose: bool = False) -> int:
    """Show the progress of whichever set is being indexed (the manager picks the order) and print each
    set's summary as it ends; the number of sets that failed."""
    from tqdm import tqdm

    from simages.jobs import status as st

    pending = list(names)
    failed = 0
    bar: tqdm | None = None
    bar_name = ""
    announced: set[str] = set()
    drawn: set[str] = set()  # the sets whose bar was drawn while their images were described
    while pending:
        for name in list(pending):
            status = manager.status(name)
            finished = status.state == st.FAILED or (
                status.state == st.INDEXED and manager.summary(name) is not None
            )
            notice = manager.preparing(name)
            if notice is not None and not finished:
                # The network is being built (the first run also calibrates the engines, a minute or
                # more): say why nothing moves, and start the bar, its rate and its ETA only once images
                # are described.
                # The bar goes first: a line written beside a drawn bar lands inside it on a terminal.
                if bar is not None and bar_name == name and bar.n == 0:
                    bar.close()
                    bar, bar_name = None, ""
                    drawn.discard(name)  # its bar is drawn again once images are described
                if notice and name not in announced and not quiet:
                    tqdm.write(notice)
                    announced.add(name)
                continue
            if status.state == st.INDEXING and status.total and not quiet and not finished:
                if bar_name != name:
                    if bar is not None:
                        bar.close()
                    bar = tqdm(total=status.total, initial=status.done, desc=name, unit="img",
                               dynamic_ncols=True)
                    bar_name = name
                    drawn.add(name)
                if bar is not None and status.done > bar.n:
                    bar.update(status.done - bar.n)
            if not finished:
                continue
            if bar is not None and bar_name == name:
                bar.update(bar.total - bar.n)
                bar.close()
                bar, bar_name = None, ""
            elif not quiet and name not in drawn and status.state == st.INDEXED:
                # Described between two looks (a small set, or a busy machine that ran this loop late): its
                # bar is still drawn, complete, like every other set's.
                summary = manager.summary(name)
                if summary is not None and summary.computed:
                    total = status.total or summary.computed
                    tqdm(total=total, initial=total, desc=name, unit="img", dynamic_ncols=True).close()
            pending.remove(name)
            failed += _report(manager, name, status, verbose)
        time.sleep(0.1)
    return failed


def _follow_derived(manager: IndexManager, names: list[str]) -> None:
    """Wait for the search files built after indexing (memory-mapped copy, ANN index: seconds, or a
    minute for a million images) and say what was built, so the command ends with everything ready."""
    from tqdm import tqdm

    from simages.jobs import status as st

    waiting = [name for name in names if manager.status(name).state == st.INDEXED]
    announced = False
    while waiting and manager.indexer_alive():
        if not announced and any(manager.derived(name) is None for name in waiting):
            # Said before any set's outcome, not after the first ones are already written.
            tqdm.write("Preparing the search files (memory-mapped copy, ANN index for large sets)...")
            announced = True
        for name in list(waiting):
            message = manager.derived(name)
            if message is None:
                continue
            waiting.remove(name)
            if message:
                tqdm.write(f"{name}: {message}")
        time.sleep(0.1)


def _report(manager: IndexManager, name: str, status: st.SetStatus, verbose: bool = False) -> int:
    """Print one set's summary (above any progress bar); 1 if it failed."""
    from tqdm import tqdm

    from simages.jobs import status as st

    if status.state == st.FAILED:
        tqdm.write(f"{name}: FAILED: {status.message}", file=sys.stderr)
        return 1
    summary = manager.summary(name)
    assert summary is not None
    line = summary.describe()
    if summary.computed:
        # The images' own time: the first run's engine choice (a minute or more) is said apart.
        images = max(summary.seconds - summary.preparing_seconds, 0.0)
        line += f" ({summary.computed} computed in {images:.1f} s, {summary.network}"
        if summary.preparing_seconds >= 1:
            line += f", after {summary.preparing_seconds:.1f} s preparing the network"
        if summary.distributor and summary.distributor != "in-process":
            line += f", on the {summary.distributor}"
        line += ")"
    tqdm.write(line)
    if summary.computed and summary.distributor != "in-process" and summary.stages:
        spent = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in summary.stages.items())
        tqdm.write(f"  time per stage, summed over batches: {spent}")
    print_lists(tqdm.write, {"unreadable": summary.unreadable, "skipped": summary.skipped}, verbose,
                report_path(manager.settings.features, name))
    return 0
