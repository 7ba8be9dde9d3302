"""Every command's --help prints (argparse expands % in help texts, so a bare "20%" crashed one)."""

from __future__ import annotations

import argparse
import re

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


def _help(path: tuple[str, ...], capsys) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*path, "--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize("path", [path for path, _ in PARSERS], ids=lambda path: " ".join(path) or "simages")
def test_help_states_the_duplicate_thresholds_the_code_uses(path, capsys):
    """A help naming the duplicate threshold names the one the code uses, and the small collection's too
    (`duplicates --help` said 0.5 while the demo set was answered at 0.9)."""
    from simages.nearest.core.intents import DUPLICATE_COSINE, UNWHITENED_DUPLICATE_COSINE

    text = " ".join(_help(path, capsys).split())
    named = re.findall(r"duplicate threshold[^.;]{0,12}?cosine(?: similarity)? (\d\.\d+)", text)
    assert all(float(value) == DUPLICATE_COSINE for value in named)
    if named:
        assert f"{UNWHITENED_DUPLICATE_COSINE:g} in a collection too small to whiten" in text


@pytest.mark.parametrize("path", [path for path, _ in PARSERS], ids=lambda path: " ".join(path) or "simages")
def test_help_teaches_no_deprecated_option(path, capsys):
    """`--range` is kept as a deprecated alias of `--threshold`; no help should teach it."""
    text = " ".join(_help(path, capsys).split())
    text = text.replace("--threshold T, --range T", "").replace("--range is the deprecated name", "")
    assert "--range" not in text


@pytest.mark.parametrize("path", [path for path, _ in PARSERS if path], ids=lambda path: " ".join(path))
def test_every_command_says_what_it_does_in_its_own_help(path, capsys):
    """`simages bench race --help` listed options with no word on what is raced: each command's help opens
    with the sentence the command list gives it, and every option it offers is explained."""
    parser = dict(PARSERS)[path]
    assert parser.description, f"simages {' '.join(path)} --help has no description"
    for action in parser._actions:
        if action.option_strings and action.help != argparse.SUPPRESS:
            assert action.help, f"simages {' '.join(path)}: {action.option_strings[0]} has no help"


@pytest.mark.parametrize("path", [path for path, _ in PARSERS], ids=lambda path: " ".join(path) or "simages")
def test_an_optional_argument_is_never_called_required(path):
    """`simages duplicates` alone said "the following arguments are required: SET, OTHER" (argparse calls a
    `*` positional without a default required)."""
    parser = dict(PARSERS)[path]
    for action in parser._actions:
        if not action.option_strings and action.nargs in ("*", "?"):
            assert not action.required, f"simages {' '.join(path)}: {action.metavar or action.dest}"
