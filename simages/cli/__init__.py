"""The `simages` command line: every command registers itself from its own module.

Only the command asked for is imported (`build_parser(only=...)`): the others appear in `simages --help`
with their one-line help (`simages.cli.commands`) but their modules -- and what they import -- are not
loaded. So `simages --help` and `simages COMMAND --help` answer about as fast as Python starts with numpy,
and `simages query` never imports the app, the job manager or the network unless it needs them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from simages import __version__
from simages.cli.arguments import attach_negative_values
from simages.cli.commands import COMMANDS
from simages.cli.exits import ERROR_PREFIX, EXIT_BAD_INPUT, EXIT_CODES_HELP, EXIT_INTERRUPTED
from simages.cli.output import OutputClosed, prepare_stdout, silence_stdout
from simages.settings import ENV_DESCRIPTOR, ENV_ROOT, ENV_WEIGHTS, Settings

# Modules that each define register(subparsers), in the order `simages --help` lists them.
COMMAND_MODULES = tuple(module for module, _ in COMMANDS.values())
# Global options that take a value (written apart from it: `--root DIR`).
_VALUED_OPTIONS = ("--root", "--weights", "--descriptor")
_ALL = "*"


class Parser(argparse.ArgumentParser):
    """argparse with SIMages' one error prefix (`simages: error: ...`, exit code 2) and the exit codes
    at the end of every command's help."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{ERROR_PREFIX}{message}\n")

    def format_help(self) -> str:
        return f"{super().format_help().rstrip()}\n\n{EXIT_CODES_HELP}\n"


def build_parser(only: str | None = _ALL, argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser. `only`: the one command to register in full (the others get a stub with their help,
    so `simages --help` lists them); the default registers every command (tests, documentation checks);
    None registers none in full. `argv` lets a command with sub-commands (bench) register only the one
    asked for."""
    parser = Parser(
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
    for name, (module_name, help_text) in COMMANDS.items():
        if only in (_ALL, name):
            register = importlib.import_module(module_name).register
            code = register.__code__
            if "argv" in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]:
                register(subparsers, argv=argv if only == name else None)
            else:
                register(subparsers)
        else:
            subparsers.add_parser(name, help=help_text)
    return parser


def command_in(argv: list[str]) -> str | None:
    """The command named in `argv` (the first word that is not a global option or its value)."""
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--":
            return None
        if token in _VALUED_OPTIONS:
            index += 2
            continue
        if not token.startswith("-"):
            return token if token in COMMANDS else None
        index += 1
    return None


def parse_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """`parser.parse_args(argv)`, except that arguments nobody knows are refused by the (sub-)command they
    were given to: its usage, not the top-level one, and "did you mean --X?" for a mistyped option (exit
    code 2)."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        owner = command_parser(parser, argv)
        owner.error(f"unrecognized arguments: {' '.join(unknown)}{option_hint(owner, unknown)}")
    return args


def command_parser(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The parser of the innermost command `argv` names (`simages bench duplicates ...` -> bench
    duplicates'), or `parser` itself."""
    current, rest = parser, argv
    command = command_in(argv)
    while True:
        commands = next((action for action in current._actions
                         if isinstance(action, argparse._SubParsersAction)), None)
        if commands is None:
            return current
        name = command if current is parser else next(
            (token for token in rest if not token.startswith("-") and token in commands.choices), None)
        if name is None or name not in commands.choices:
            return current
        current, rest = commands.choices[name], rest[rest.index(name) + 1:]


def option_hint(parser: argparse.ArgumentParser, unknown: list[str]) -> str:
    """"; did you mean --threshold?" for the first unknown option close to one of `parser`'s, else ""."""
    import difflib

    known = [option for action in parser._actions for option in action.option_strings]
    for token in unknown:
        if token.startswith("-"):
            close = difflib.get_close_matches(token.split("=", 1)[0], known, n=1, cutoff=0.6)
            if close:
                return f"; did you mean {close[0]}?"
    return ""


def main(argv: list[str] | None = None) -> int:
    argv = attach_negative_values(list(argv if argv is not None else sys.argv[1:]))
    command = command_in(argv)
    asks_help = any(token in ("-h", "--help") for token in argv)
    # A bare `simages` serves (what a newcomer wants); `simages --help` loads no command at all.
    parser = build_parser(command or (None if asks_help else "serve"), argv)
    args = parse_arguments(parser, argv)
    if args.command is None:
        args = parse_arguments(parser, [*argv, "serve"])
    from simages.cli.common import resolve_output_format  # the commands import it anyway

    resolve_output_format(args)
    try:
        settings = Settings.from_env(root=args.root, weights=args.weights, descriptor=args.descriptor)
    except ValueError as error:
        parser.error(str(error))
    prepare_stdout()
    try:
        return int(args.func(args, settings) or 0)
    except OutputClosed:
        return silence_stdout()
    except KeyboardInterrupt:
        # Ctrl-C: no traceback; files are written atomically, so nothing half written is left behind.
        print("\nsimages: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
