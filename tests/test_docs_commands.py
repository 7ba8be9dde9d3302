"""Every `simages ...` command written in README.md and docs/*.md parses with the CLI's own argparse: a
command a reader copies must not fail with a usage error (review finding 5: `query` without --knn)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from simages.cli import build_parser
from simages.cli.arguments import attach_negative_values

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Synopsis notation, not a command: alternatives, optional parts, elisions.
_NOTATION = re.compile(r"\.\.\.|\||\[|\(|\{|…")


def _has_argument(command: str) -> bool:
    words = command.split()[1:]
    while words and words[0].startswith("-"):  # global options such as --root R
        words = words[2:]
    return any(not word.startswith("-") for word in words[1:])


def documented_commands() -> list[tuple[str, str]]:
    """(where, command) for each simages command line in code blocks and inline code of the docs."""
    found = []
    for doc in DOCS:
        in_block = False
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("```"):
                in_block = not in_block
                continue
            where = f"{doc.name}:{number}"
            # Inline `simages join` or `simages eval --plot` names a command or an option in prose; an
            # inline command with an argument (`simages query photo.jpg`) is one a reader may run.
            candidates = [c for c in re.findall(r"`(simages [^`]*)`", line) if _has_argument(c)]
            if in_block and line.lstrip().startswith("simages "):
                candidates.append(line.split("  #")[0].split(" # ")[0].strip())
            for command in candidates:
                command = command.rstrip("\\").strip()
                if not _NOTATION.search(command):
                    found.append((where, command))
    return found


COMMANDS = documented_commands()


def test_the_docs_contain_runnable_commands() -> None:
    # The README's classroom recipe (query without --knn) must be among the commands checked.
    assert any("--descriptor flat query" in command for _, command in COMMANDS)
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[where for where, _ in COMMANDS])
def test_documented_command_parses(where: str, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = attach_negative_values(shlex.split(command)[1:])
    try:
        build_parser().parse_args(argv)
    except SystemExit as stop:
        if stop.code:  # 0 would be --help/--version, which docs may show
            pytest.fail(f"{where}: `{command}` fails: {capsys.readouterr().err.strip()}")
    # A deprecated alias still parses, but the docs must teach the current name (README's demo join used it).
    assert "--range" not in argv, f"{where}: `{command}` uses --range, deprecated: write --threshold"
