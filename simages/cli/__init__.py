"""The `simages` command line: every command registers itself from its own module."""

from __future__ import annotations

import argparse
import importlib
import sys

from simages import __version__
from simages.cli.arguments import attach_negative_values
from simages.cli.output import OutputClosed, prepare_stdout, silence_stdout
from simages.settings import ENV_DESCRIPTOR, ENV_ROOT, ENV_WEIGHTS, Settings

# Modules that each define register(subparsers); imported lazily so `simages --help` stays quick.
COMMAND_MODULES = (
    "simages.cli.serve_cmd",
    "simages.cli.index_cmd",
    "simages.cli.query_cmd",
    "simages.cli.join_cmd",
    "simages.cli.duplicates_cmd",
    "simages.cli.triage_cmd",
    "simages.cli.atlas_cmd",
    "simages.cli.eval_cmd",
    "simages.cli.train_cmd",
    "simages.cli.bench_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simages",
        description="Similarity joins on image collections: index image sets with VGG-16, then find "
        "similar images from the browser app or this command line.",
    )
    parser.add_argument("--version", action="version", version=f"simages {__version__}")
    parser.add_argument(
        "--root",
        help=f"folder holding image_sets/ and features/ (default: ${ENV_ROOT} or the current directory)",
    )
    parser.add_argument(
        "--weights",
        help=f"local VGG-16 notop weights file (.h5) (default: ${ENV_WEIGHTS}, else Keras' own download)",
    )
    parser.add_argument(
        "--descriptor",
        help=f"descriptor spec, e.g. gem3+l2+whiten (default: ${ENV_DESCRIPTOR} or the built-in default)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = attach_negative_values(list(argv if argv is not None else sys.argv[1:]))
    args = parser.parse_args(argv)
    if args.command is None:
        # Serving is what a newcomer wants from a bare `simages`.
        args = parser.parse_args([*argv, "serve"])
    try:
        settings = Settings.from_env(root=args.root, weights=args.weights, descriptor=args.descriptor)
    except ValueError as error:
        parser.error(str(error))
    prepare_stdout()
    try:
        return int(args.func(args, settings) or 0)
    except OutputClosed:
        return silence_stdout()
