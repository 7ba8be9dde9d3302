"""`simages eval DIR`: retrieval quality (P@1, P@10, P@20, mAP) of descriptor options on a labeled folder.

DIR's sub-folders are the classes. Every image is a key against all the others (leave-one-out). The
maps are cached under features/.eval/, so a second run only redoes the arithmetic.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from simages.cli.commands import help_of
from simages.cli.common import add_output_arguments
from simages.cli.deprecation import DeprecatedAliases
from simages.cli.long_lists import SHOWN, listing_lines
from simages.cli.output import check_target, output_to
from simages.evaluation.caveats import precision_notes, unused_option_notes
from simages.evaluation.leave_one_out import METRICS
from simages.evaluation.options import DEFAULT_OPTIONS, PLOT_MAX_K, TABLE_KS
from simages.extraction.descriptor_spec import DEFAULT_DESCRIPTOR, DescriptorSpec
from simages.settings import MissingWeightsError, Settings
from simages.training.registry import resolve_descriptor
from simages.wording import plural

if TYPE_CHECKING:
    from simages.evaluation.runner import EvalReport

_NEEDS_CLASSES = "needs at least two class sub-folders with images"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help=help_of("eval"),
        description=__doc__,
    )
    parser.add_argument("folder", metavar="DIR", help="folder whose sub-folders are the classes")
    parser.add_argument(
        "-d",
        "--descriptor",
        dest="options",
        action="append",
        metavar="SPEC",
        help="descriptor option to evaluate, e.g. gap+l2 or gem3+sqrt+flip+l2+whiten+qe5; repeat for "
        f"several (default: {len(DEFAULT_OPTIONS)} options "  # plural-ok: a constant above 1
        "covering every pooling and flag, and the default)",
    )
    parser.add_argument(
        "--metric",
        dest="metrics",
        action="append",
        choices=METRICS,
        help="distance to rank by; repeat for both (default: both)",
    )
    add_output_arguments(parser)
    parser.add_argument("--json", dest="format", action=DeprecatedAliases, const="json",
                        renamed={"--json": "--format json"},
                        help="deprecated (removed in 0.2): --format json")
    parser.add_argument(
        "--plot",
        metavar="PATH",
        help=f"save a plot of precision at k (k = 1..{PLOT_MAX_K}) per option (needs matplotlib)",
    )
    parser.set_defaults(func=run)


def chosen_options(texts: list[str] | None, features: Path | None = None) -> list[DescriptorSpec]:
    """The options asked for, in order, without repeats; ValueError on an unknown spec. `head:NAME`
    options are looked up in `features`/heads/ (HeadError, a ValueError, when there is none)."""
    if texts:
        if features is None:
            specs = [DescriptorSpec.parse(text) for text in texts]
        else:
            specs = [resolve_descriptor(text, features) for text in texts]
    else:
        specs = [DescriptorSpec.parse(text) for text in DEFAULT_OPTIONS]
        specs.append(DEFAULT_DESCRIPTOR)
    return list(dict.fromkeys(specs))


def format_table(report: EvalReport) -> str:
    """The human table: one line per option x metric, the default marked."""
    header = ["descriptor", "metric", "dim", *(f"P@{k}" for k in TABLE_KS), "mAP"]
    lines = [header]
    defaults = []
    for row in report.rows:
        values = [f"{row.precision[k]:.3f}" for k in TABLE_KS]
        lines.append([row.descriptor, row.metric, str(row.dimension), *values, f"{row.mean_ap:.3f}"])
        defaults.append(row.descriptor == DEFAULT_DESCRIPTOR.key())
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    # Names left-aligned, numbers right-aligned.
    text = [
        "  ".join(
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    for index, is_default in enumerate(defaults, start=1):
        if is_default:
            text[index] += "  <- default"
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(text)


def save_plot(report: EvalReport, path: Path) -> None:
    """Precision at k per option and metric; matplotlib is optional (pip install 'simages[plot]')."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(12, 6))
    descriptors = list(dict.fromkeys(row.descriptor for row in report.rows))
    # One colour per descriptor, one line style per metric, so the two metrics of an option pair up.
    colours = plt.get_cmap("tab20" if len(descriptors) > 10 else "tab10")
    for row in report.rows:
        ks = sorted(k for k in row.precision if k <= PLOT_MAX_K)
        style = "-" if row.metric == "cosine" else "--"
        colour = colours(descriptors.index(row.descriptor) % colours.N)
        label = f"{row.descriptor} ({row.metric}, mAP {row.mean_ap:.3f})"
        axis.plot(ks, [row.precision[k] for k in ks], style, color=colour, label=label)
    axis.set_xlabel("k")
    axis.set_ylabel("precision at k")
    axis.set_title(f"Leave-one-out precision at k: {Path(report.folder).name} "
                   f"({plural(report.images, 'image')})")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Atomically, as every file the CLI writes: a failure leaves an earlier plot whole.
    handle, temp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or ".png", dir=path.parent)
    os.close(handle)
    try:
        figure.savefig(temp, dpi=120)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(figure)


def run(args: argparse.Namespace, settings: Settings) -> int:
    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        print(f"simages: error: {folder} is not a folder", file=sys.stderr)
        return 2
    try:
        check_target(args.output)
        options = chosen_options(args.options, settings.features)
    except (ValueError, LookupError) as error:
        print(f"simages: error: {error}", file=sys.stderr)
        return 2
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("simages: error: --plot needs matplotlib (pip install matplotlib)", file=sys.stderr)
            return 2
    metrics = list(dict.fromkeys(args.metrics or METRICS))
    sub_folders = sum(1 for path in folder.iterdir() if path.is_dir())
    if sub_folders < 2:
        # Refused before indexing: a flat folder of many images would otherwise cost a full network pass.
        print(f"simages: error: {folder} {_NEEDS_CLASSES} (found {sub_folders} sub-folders)", file=sys.stderr)
        return 2

    def note(message: str) -> None:
        print(message, file=sys.stderr)

    try:
        from simages.evaluation.runner import run_eval  # the network, the indexer: only when it runs

        report = run_eval(folder, settings, options, metrics, curve=bool(args.plot), progress=note)
    except MissingWeightsError as error:
        print(f"simages: error: {error}", file=sys.stderr)
        return 2
    if len(report.classes) < 2 or report.images < 2:
        print(
            f"simages: error: {folder} {_NEEDS_CLASSES} "
            f"(found {plural(len(report.classes), 'class')}, {plural(report.images, 'image')})",
            file=sys.stderr,
        )
        return 2
    if args.plot:
        save_plot(report, Path(args.plot))
    # What the table cannot say on a small folder (options the app would not use, P@k beyond a class).
    caveats = precision_notes(report.classes, TABLE_KS) + unused_option_notes(options, report.images)
    try:
        with output_to(args.output) as out:
            write_report(report, args.format, out, plot=args.plot, caveats=caveats)
    except OSError as error:
        print(f"simages: error: cannot write {args.output}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0


def write_report(
    report: EvalReport, fmt: str, out: TextIO, plot: str | None = None, caveats: list[str] | None = None
) -> None:
    """The evaluation as a table (with the classes and what was left out), CSV (one row per option x
    metric: descriptor, metric, dimension, P@k..., mAP, seconds) or JSON (`EvalReport.as_dict`)."""
    if fmt == "json":
        out.write(json.dumps(report.as_dict() | {"caveats": caveats or []}, indent=2) + "\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        rows = [row.as_dict() for row in report.rows]
        if rows:
            writer.writerow(list(rows[0]))
            writer.writerows([list(row.values()) for row in rows])
        return
    classes = ", ".join(f"{name} ({count})" for name, count in report.classes.items())
    lines = [f"{report.folder}: {plural(report.images, 'image')} in "
             f"{plural(len(report.classes), 'class')}: {classes}"]
    if report.unlabeled:
        one = report.unlabeled == 1
        lines.append(f"  {plural(report.unlabeled, 'image')} directly in the folder "
                     f"{'has' if one else 'have'} no class and {'was' if one else 'were'} left out")
    lines += listing_lines("unreadable", dict(report.unreadable))
    if len(report.unreadable) > SHOWN:
        lines.append("  (--format json lists them all)")
    lines.append("Leave-one-out: every image is a key against all the others; mAP over the full ranking.\n")
    lines.append(format_table(report))
    if caveats:
        lines.append("\nRead with care:")
        lines += [f"  - {caveat}" for caveat in caveats]
    if plot:
        lines.append(f"\nplot saved to {plot}")
    out.write("\n".join(lines) + "\n")
