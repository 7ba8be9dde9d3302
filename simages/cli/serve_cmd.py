"""`simages serve`: the browser app."""

from __future__ import annotations

import argparse

from simages.cli.commands import help_of
from simages.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help=help_of("serve"), description=help_of("serve"))
    parser.add_argument(
        "--host", default="127.0.0.1",
        help="address to bind (default: 127.0.0.1, this machine only; any other address prints an address "
        "with a secret token that every page and action needs)"
    )
    parser.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    parser.add_argument("--native", action="store_true",
                        help="open in a desktop window of its own (the `native` extra: pywebview)")
    parser.add_argument("--show", action="store_true", help="open a browser tab on start")
    parser.add_argument("--read-only", action="store_true",
                        help="serve without any action on your files (no triage apply/undo/decisions)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import sys

    from simages.gui.native import native_problem

    if args.native:
        # The desktop window is optional: say how to get it rather than fail inside the window process.
        problem = native_problem()
        if problem is not None:
            print(problem, file=sys.stderr)
            return 2

    from simages.gui.app import run_app

    run_app(settings, host=args.host, port=args.port, native=args.native, show=args.show,
            read_only=args.read_only)
    return 0
