"""Every command's --help prints (argparse expands % in help texts, so a bare "20%" crashed one)."""

from __future__ import annotations

import argparse

import pytest

from simages.cli import build_parser


def _all_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_parsers(sub, (*path, name))


PARSERS = list(_all_parsers(build_parser()))


def test_the_command_tree_is_walked():
    names = {" ".join(path) for path, _ in PARSERS}
    assert {"index", "query", "join", "duplicates", "bench extract", "bench ann"} <= names


@pytest.mark.parametrize("path", [path for path, _ in PARSERS], ids=lambda path: " ".join(path) or "simages")
def test_help_of_every_command_prints(path, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args([*path, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: simages")
