"""`simages serve` options that must fail politely."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from simages.cli import main


def test_native_window_without_pywebview_explains_itself(root: Path, capsys) -> None:

    if importlib.util.find_spec("webview") is not None:
        pytest.skip("pywebview is installed here")
    assert main(["--root", str(root), "serve", "--native"]) == 2
    assert "pip install pywebview" in capsys.readouterr().err
