"""All configuration is read in one place: `simages/settings.py` (Settings for per-run options, and
`environment_setting` for the process-wide knobs it lists), and the README's settings table lists them all."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import simages
from simages.settings import ENVIRONMENT, environment_setting

PACKAGE = Path(simages.__file__).parent
README = PACKAGE.parent / "README.md"
# Modules allowed to touch os.environ for what is not SIMages' configuration: the Keras backend set before
# Keras loads, the desktop check's DISPLAY, the environment handed to child processes.
NOT_CONFIGURATION = {"__init__.py", "gui/native.py", "bench/app_server.py", "bench/cli_bench.py",
                     "cli/index_cmd.py"}


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
                and isinstance(node.value, ast.Name) and node.value.id == "os"):
            lines.append(node.lineno)
    return lines


def test_only_settings_reads_the_environment():
    readers = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "settings.py" or relative in NOT_CONFIGURATION:
            continue
        lines = _reads_environment(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            readers[relative] = lines
    assert readers == {}


def test_every_environment_setting_is_in_the_readme_table():
    text = README.read_text(encoding="utf-8")
    assert [name for name in ENVIRONMENT if f"`{name}`" not in text] == []


def test_an_unlisted_setting_cannot_be_read(monkeypatch):
    monkeypatch.setenv("SIMAGES_ANN_THREADS", "3")
    assert environment_setting("SIMAGES_ANN_THREADS") == "3"
    with pytest.raises(KeyError, match="not a SIMages setting"):
        environment_setting("SIMAGES_SOMETHING_ELSE")
