"""A mistyped or unknown option is refused by the command it was given to: that command's usage (not the
top-level one), "did you mean --X?" when it is close to one of its options, exit code 2 -- for every
command and bench."""

from __future__ import annotations

import argparse

import pytest

from simages.cli import build_parser, main


def _commands() -> list[tuple[list[str], argparse.ArgumentParser]]:
    """(the words naming each command or bench, its parser)."""
    found = []

    def walk(words: list[str], parser: argparse.ArgumentParser) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found.append((words, parser))
        for action in subs:
            for name, sub in action.choices.items():
                walk([*words, name], sub)

    walk([], build_parser())
    return found


def _positionals(parser: argparse.ArgumentParser) -> list[str]:
    """Values for the parser's positional arguments and required options, so that only the option is
    wrong."""
    values = []
    for action in parser._actions:
        if action.option_strings and action.required:
            values += [action.option_strings[0], "x"]
        if action.option_strings or action.nargs in ("?", "*", argparse.SUPPRESS):
            continue
        value = sorted(action.choices)[0] if action.choices else "x"
        values += [value] * (action.nargs if isinstance(action.nargs, int) else 1)
    return values


def _typo(parser: argparse.ArgumentParser) -> tuple[str, str]:
    """(a long option of the parser, the same with two letters swapped that no option starts with)."""
    known = [o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"]
    for option in sorted(known, key=len, reverse=True):
        typo = option[:3] + option[4] + option[3] + option[5:] if len(option) > 5 else ""
        if typo and typo != option and not any(k.startswith(typo) for k in known):
            return option, typo
    return "", ""


CASES = _commands()


def test_every_command_and_bench_is_covered():
    names = {" ".join(words) for words, _ in CASES}
    assert {"query", "join", "duplicates", "triage", "index", "serve", "bench duplicates"} <= names


@pytest.mark.parametrize(("words", "parser"), CASES, ids=[" ".join(w) for w, _ in CASES])
def test_a_mistyped_option_gets_its_commands_usage_and_a_suggestion(words, parser, capsys):
    option, typo = _typo(parser)
    argv = [*words, *_positionals(parser)]
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--zqxj"])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.startswith(f"usage: simages {' '.join(words)} ") and "did you mean" not in err
    assert "unrecognized arguments: --zqxj" in err
    if not option:
        return
    with pytest.raises(SystemExit) as stop:
        main([*argv, typo])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.startswith(f"usage: simages {' '.join(words)} ")
    assert f"unrecognized arguments: {typo}; did you mean {option}?" in err
