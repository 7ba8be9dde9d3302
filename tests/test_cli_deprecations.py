"""The deprecated option names and values still work, and each use says so in one line on standard error,
never on standard output: a pipe reading the answer gets exactly what the new name gives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simages.cli import build_parser, main
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store


@pytest.fixture
def root(tmp_path: Path) -> Path:
    settings = Settings(root=tmp_path)
    rng = np.random.default_rng(3)
    for name in ("holidays", "garden"):
        (settings.image_sets / name).mkdir(parents=True)
        vectors = np.abs(rng.standard_normal((6, 16))).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        names = [f"beach_{i}.jpg" for i in range(6)]
        save_store(settings.store_path(name),
                   FeatureStore(names, [Fingerprint(1, 1)] * 6, vectors, {"descriptor": "gap+l2"}))
    return tmp_path


def run(root: Path, capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--root", str(root), *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", [
    ["query", "holidays/beach_1.jpg", "--set", "holidays", "--format", "json"],
    ["join", "holidays", "garden", "--format", "json"],
])
def test_range_answers_like_threshold_and_warns_once_on_stderr_only(root, capsys, command):
    code_new, new, err_new = run(root, capsys, *command, "--threshold", "0.5")
    code_old, old, err_old = run(root, capsys, *command, "--range", "0.5")
    assert code_new == code_old == 0
    assert old == new  # standard output byte for byte: pipes stay clean
    assert err_new == ""
    assert err_old == "simages: warning: --range is deprecated, use --threshold\n"


def test_an_abbreviated_range_warns_with_its_full_name(root, capsys):
    code, _, err = run(root, capsys, "query", "holidays/beach_1.jpg", "--set", "holidays", "--rang", "0.5")
    assert code == 0
    assert err == "simages: warning: --range is deprecated, use --threshold\n"


def test_eval_json_is_format_json_with_a_warning(capsys):
    parser = build_parser()
    capsys.readouterr()
    old = parser.parse_args(["eval", "somewhere", "--json"])
    out, err = capsys.readouterr()
    assert old.format == "json" and out == ""
    assert err == "simages: warning: --json is deprecated, use --format json\n"
    new = parser.parse_args(["eval", "somewhere", "--format", "json"])
    assert new.format == "json" and capsys.readouterr().err == ""


def test_train_format_text_lists_like_table_with_a_warning(root, capsys):
    code_new, new, err_new = run(root, capsys, "train", "--list", "--format", "table")
    code_old, old, err_old = run(root, capsys, "train", "--list", "--format", "text")
    assert code_new == code_old == 0 and old == new and err_new == ""
    assert err_old == "simages: warning: --format text is deprecated, use --format table\n"


def test_json_of_a_query_with_range_still_parses(root, capsys):
    """The warning never lands in the JSON a script reads from standard output."""
    _, out, err = run(root, capsys, "query", "holidays/beach_1.jpg", "--set", "holidays", "--range", "0.5",
                      "--format", "json")
    assert json.loads(out)["threshold"] == 0.5 and "warning" in err
