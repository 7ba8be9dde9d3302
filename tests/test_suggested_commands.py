"""A command a message suggests works as typed, from wherever the user is: it names `--root` when the
collection is not the current directory (`simages --root X query ...` said "run `simages index S`", which
typed elsewhere indexes nothing, or the wrong folder)."""

from __future__ import annotations

import shlex
from pathlib import Path

import imagegen
import pytest

from simages.cli import main
from simages.settings import Settings


def test_not_indexed_names_the_root_to_index_it_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "my photos"
    imagegen.write_set(root / "image_sets" / "s", 2)
    monkeypatch.chdir(tmp_path)
    assert main(["--root", str(root), "query", "s/x.jpg", "--set", "s"]) == 2
    err = capsys.readouterr().err
    assert f"run `simages --root {shlex.quote(str(root))} index s` first" in err
    monkeypatch.chdir(root)  # in the root itself, the short form
    assert main(["query", "s/x.jpg", "--set", "s"]) == 2
    assert "run `simages index s` first" in capsys.readouterr().err


def test_settings_command_quotes_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(root=tmp_path / "a b")
    expected = ["simages", "--root", str(tmp_path / "a b"), "index", "s"]
    assert shlex.split(settings.command("index s")) == expected
