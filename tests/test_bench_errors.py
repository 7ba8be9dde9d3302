"""A benchmark's bad option is a user error like any command's: `simages: error: ...` on stderr, exit 2
(race and atlas printed `error: ...` on stdout, where a script reading the figures would take it in)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simages.cli import main


@pytest.mark.parametrize("bench", ["race", "atlas"])
def test_a_bad_size_is_one_line_on_stderr(bench: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(tmp_path), "bench", bench, "--size", "10"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("simages: error: ") and captured.err.count("\n") == 1
    assert "error" not in captured.out
