"""`simages serve`: the browser app."""

from __future__ import annotations

import argparse

from simages.cli.commands import help_of
from simages.cli.exits import EXIT_BAD_INPUT, EXIT_FAILURE
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


# uvicorn's exit status when it cannot start (e.g. the port was taken after port_problem looked).
UVICORN_STARTUP_FAILURE = 3


def port_problem(host: str, port: int) -> tuple[str, int] | None:
    """Why the app could not listen on `host`:`port`, as (message, exit code), or None when it can: checked
    by binding a socket as the server will (SO_REUSEADDR, so a port in TIME_WAIT is free) and closing it,
    before anything says the app is ready."""
    import errno
    import socket

    if not 0 < port < 65536:
        return f"port {port} is not a port number (1-65535)", EXIT_BAD_INPUT
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as error:
        return f"cannot listen on {host!r}: {error}", EXIT_BAD_INPUT
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return (f"port {port} on {host} is in use (another SIMages, or another program): stop it, "
                        f"or choose another port with --port"), EXIT_FAILURE
            if error.errno == errno.EACCES:
                return f"port {port} on {host} needs more rights: choose a port above 1023", EXIT_FAILURE
            return f"cannot listen on {host} port {port}: {error.strerror or error}", EXIT_BAD_INPUT
    return None


def run(args: argparse.Namespace, settings: Settings) -> int:
    import sys

    from simages.cli.common import fail
    from simages.gui.native import native_problem

    if args.native:
        # The desktop window is optional: say how to get it rather than fail inside the window process.
        problem = native_problem()
        if problem is not None:
            print(problem, file=sys.stderr)
            return 2

    problem = port_problem(args.host, args.port)
    if problem is not None:
        return fail(*problem)

    from simages.gui.app import run_app

    try:
        run_app(settings, host=args.host, port=args.port, native=args.native, show=args.show,
                read_only=args.read_only)
    except SystemExit as stop:
        if stop.code != UVICORN_STARTUP_FAILURE:
            raise
        # Taken between the check and the start: uvicorn has said why; the status is one --help lists.
        return fail(f"could not start the app on {args.host} port {args.port}", EXIT_FAILURE)
    return 0
