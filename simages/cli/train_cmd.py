"""`simages train SET --name NAME`: train a projection head on SET's labelled sub-folders and keep it as a
descriptor (`--descriptor head:NAME` in every command); `--list` and `--remove NAME` manage the heads."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from simages.cli.commands import help_of
from simages.cli.common import again
from simages.cli.deprecation import DeprecatedAliases
from simages.settings import MissingWeightsError, Settings
from simages.wording import plural

if TYPE_CHECKING:
    from simages.operations.train import TrainReport
    from simages.training.trainer import EpochReport

# The trainer's losses and the default held-out share (training.trainer.LOSSES,
# operations.train.DEFAULT_TEST_SPLIT; tests/test_cli_imports.py checks they agree), written here so
# `simages train --help` does not load torch.
LOSSES = ("ce", "triplet", "both")
DEFAULT_TEST_SPLIT = 0.5


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help=help_of("train"),
        description=__doc__,
    )
    parser.add_argument("set", metavar="SET", nargs="?", help="set whose sub-folders are the classes")
    parser.add_argument("--name", help="name of the head (use it as --descriptor head:NAME)")
    parser.add_argument(
        "--loss",
        choices=LOSSES,
        default="both",
        help="cross-entropy (ce), triplet with semi-hard mining, or their sum (default: both)",
    )
    parser.add_argument(
        "--test-split",
        type=float,
        default=DEFAULT_TEST_SPLIT,
        metavar="FRACTION",
        help=f"share of each class held out to measure the head (default: {DEFAULT_TEST_SPLIT})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and training (default: 0)")
    parser.add_argument(
        "--augment",
        action="store_true",
        help="also train on mirrored, zoomed, rotated and shifted copies of the training photos (described "
        "once by the network and cached in features/heads/.augment/)",
    )
    parser.add_argument(
        "--compare-losses", action="store_true", help="also train the other losses and report them"
    )
    parser.add_argument("--replace", action="store_true", help="replace an existing head of that name")
    parser.add_argument("--max-epochs", type=int, default=200, help="upper bound on epochs (default: 200)")
    parser.add_argument("--format", choices=("table", "json", "text"), default="table",
                        action=DeprecatedAliases, renamed_values={"text": "table"},
                        help="output format (default: table; `text` is its deprecated name, removed in 0.2)")
    parser.add_argument("--list", action="store_true", help="list the trained heads")
    parser.add_argument("--remove", metavar="NAME", help="remove the trained head NAME")
    parser.set_defaults(func=run)


def _progress(stream_is_tty: bool) -> Callable[[EpochReport], None]:
    def show(epoch: EpochReport) -> None:
        score = "" if epoch.validation_map is None else f", validation mAP {epoch.validation_map:.3f}"
        line = (
            f"epoch {epoch.epoch}/{epoch.max_epochs}: loss {epoch.loss:.4f}{score}, "
            f"{epoch.seconds:.0f} s, ETA at most {epoch.eta_seconds:.0f} s (early stopping may end it sooner)"
        )
        if stream_is_tty:
            print("\r" + line.ljust(100), end="", file=sys.stderr, flush=True)
        elif epoch.epoch % 10 == 0 or epoch.epoch == 1:
            print(line, file=sys.stderr, flush=True)

    return show


def _quality(values: dict[str, float]) -> str:
    return f"mAP {values['mAP']:.3f}, P@10 {values['P@10']:.3f}"


def format_report(report: TrainReport, settings: Settings | None = None) -> str:
    """The report for people; with `settings`, the suggested command names their root when needed."""
    lines = [
        f"head {report.name!r} trained on {report.set_name} ({plural(len(report.classes), 'class')}; "
        f"{plural(report.split.as_dict()['train'], 'photo')} to train, "
        f"{report.split.as_dict()['test']} to test"
        + (f", {report.augmented} augmented copies" if report.augmented else "")
        + f"), loss {report.loss}, kept epoch {report.best_epoch} of {report.epochs_run} "
        f"({report.seconds:.1f} s)",
        f"  test split, untrained ({report.base_descriptor}): {_quality(report.baseline)}",
    ]
    for loss, values in report.losses.items():
        lines.append(f"  test split, trained with {loss}: {_quality(values)}")
    if report.unseen_classes:
        unseen = report.unseen_classes
        lines.append(
            f"  classes never trained on ({', '.join(unseen['classes'])}, "
            f"{plural(unseen['photos'], 'photo')}): "
            f"untrained {_quality(unseen['baseline'])}; a head trained without them "
            f"{_quality(unseen['trained'])}"
        )
    else:
        lines.append("  classes never trained on: not measured (it needs at least 4 classes)")
    gain = report.trained["mAP"] - report.baseline["mAP"]
    if report.beats_baseline:
        lines.append(f"The head beats the untrained descriptor on the test split (mAP {gain:+.3f}).")
    else:
        lines.append(
            f"The head does NOT beat the untrained descriptor on the test split (mAP {gain:+.3f}): it is "
            "kept, but nothing uses it unless asked for; the untrained descriptor stays the better choice."
        )
    if report.interrupted:
        lines.append("Training was interrupted: the best head so far was kept.")
    use = f"--descriptor head:{report.name} query|join|duplicates|eval ..."
    lines.append(f"Use it with: {again(settings, use) if settings is not None else 'simages ' + use}")
    atlas = f"--descriptor head:{report.name} atlas {shlex.quote(report.set_name)} --output map.png"
    lines.append(f"See {report.set_name} before and after it: "
                 f"{again(settings, atlas) if settings is not None else 'simages ' + atlas}, or "
                 f"/atlas?set={quote(report.set_name)}&head={quote(report.name)} in the app")
    if report.curves_path:
        lines.append(f"Training curves: {report.curves_path}")
    return "\n".join(lines)


def _list(settings: Settings, as_json: bool) -> int:
    from simages.operations.train import list_heads

    heads = list_heads(settings)
    if as_json:
        print(json.dumps([{**head.meta, "curves": None} for head in heads], indent=2))
        return 0
    if not heads:
        print("no trained heads yet; train one with `simages train SET --name NAME`")
        return 0
    for head in heads:
        meta = head.meta
        trained, baseline = meta["metrics"]["trained"], meta["metrics"]["baseline"]
        verdict = "beats" if head.beats_baseline else "does NOT beat"
        print(
            f"{head.name}: set {meta['set']}, {plural(len(meta['classes']), 'class')}, loss {meta['loss']}, "
            f"{meta['date']}; test mAP {trained['mAP']:.3f} vs untrained {baseline['mAP']:.3f} ({verdict} "
            f"it); base {meta['base_descriptor']}; sha256 {meta['sha256'][:12]}"
        )
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    from simages.nearest.sets.cache import NotIndexed
    from simages.operations.train import TrainingRefused, TrainRequest, remove_head, train
    from simages.store.npz_store import StoreError
    from simages.training.registry import HeadError

    as_json = args.format == "json"
    try:
        if args.list:
            return _list(settings, as_json)
        if args.remove:
            if remove_head(settings, args.remove):
                print(f"removed trained head {args.remove!r}")
                return 0
            print(f"simages: error: there is no trained head {args.remove!r}", file=sys.stderr)
            return 1
        if not args.set or not args.name:
            print("simages: error: give a SET and --name NAME (or --list, --remove NAME)", file=sys.stderr)
            return 2
        request = TrainRequest(
            args.set, args.name, args.loss, args.test_split, args.seed, args.augment,
            args.compare_losses, args.replace, args.max_epochs,
        )
        augmenter = None
        if args.augment:
            from simages.training.augment import cached_augmenter

            augmenter = cached_augmenter(settings, args.set, note=lambda text: print(text, file=sys.stderr))
        report = train(
            settings,
            request,
            progress=_progress(sys.stderr.isatty()),
            note=lambda text: print(("\n" if sys.stderr.isatty() else "") + text, file=sys.stderr),
            augmenter=augmenter,
        )
    except (NotIndexed, TrainingRefused, HeadError, StoreError, MissingWeightsError, ValueError) as error:
        print(f"simages: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nsimages: interrupted before a head was saved; nothing was changed", file=sys.stderr)
        return 130
    if as_json:
        data = report.as_dict()
        print(json.dumps(data, indent=2))
    else:
        print(format_report(report, settings))
    return 0
