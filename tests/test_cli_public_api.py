"""One public API across commands: the same options for the same concept, one JSON schema, one error
prefix with a suggestion for a mistyped name, the exit codes in every --help, Ctrl-C without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simages.cli import build_parser, main
from simages.cli.commands import COMMANDS
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store


@pytest.fixture
def root(tmp_path: Path) -> Path:
    settings = Settings(root=tmp_path)
    rng = np.random.default_rng(2)
    for name in ("holidays", "garden"):
        (settings.image_sets / name).mkdir(parents=True)
        vectors = np.abs(rng.standard_normal((8, 16))).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        names = [f"beach_{i}.jpg" for i in range(8)]
        save_store(settings.store_path(name),
                   FeatureStore(names, [Fingerprint(1, 1)] * 8, vectors, {"descriptor": "gap+l2"}))
    return tmp_path


def run(root: Path, capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--root", str(root), *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_help_lists_the_exit_codes(command, capsys):
    with pytest.raises(SystemExit):
        build_parser(only=command).parse_args([command, "--help"])
    out = capsys.readouterr().out
    for code in ("0 ", "1 ", "2 ", "130", "141"):
        assert f"\n  {code}" in out, out[-600:]


def test_a_mistyped_set_gets_a_suggestion_with_the_one_error_prefix(root, capsys):
    for argv in (["query", "holidays/beach_1.jpg", "--set", "holiday"], ["join", "holidays", "gardn"],
                 ["duplicates", "holidayz"]):
        code, _, err = run(root, capsys, *argv)
        assert code == 2 and err.startswith("simages: error: ") and "did you mean" in err, err


def test_a_mistyped_image_gets_a_suggestion(root, capsys):
    code, _, err = run(root, capsys, "query", "holidays/Beach_1.jpg", "--set", "holidays")
    assert code == 2 and "did you mean 'beach_1.jpg'?" in err, err


def test_bad_options_use_the_same_prefix(root, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--root", str(root), "query", "holidays/beach_1.jpg", "--set", "holidays", "--format", "xml"])
    assert stop.value.code == 2
    assert "simages: error: argument --format" in capsys.readouterr().err


def test_threshold_and_its_deprecated_alias_range_ask_the_same(root, capsys):
    base = ["query", "holidays/beach_1.jpg", "--set", "holidays", "--format", "json"]
    _, new, _ = run(root, capsys, *base, "--threshold", "0.5")
    _, old, _ = run(root, capsys, *base, "--range", "0.5")
    assert json.loads(new) == json.loads(old) and json.loads(new)["threshold"] == 0.5


def test_query_json_follows_the_schema_and_keeps_the_deprecated_keys(root, capsys):
    code, out, _ = run(root, capsys, "query", "holidays/beach_1.jpg", "--set", "garden", "--knn", "3",
                       "--format", "json", "--intent", "duplicates")
    body = json.loads(out)
    assert code == 0 and body["schema"] == 1 and body["intent"] == "duplicates"
    assert body["sets"] == ["garden"] and body["index"] == "brute" and body["threshold"] is None
    assert [r["name"] for r in body["results"]] == [f"garden/{r['image']}" for r in body["results"]]
    assert body["set"] == "garden" and len(body["results"]) == 3  # deprecated, kept one release


def test_join_writes_json_like_the_other_commands(root, tmp_path, capsys):
    out_file = tmp_path / "join.json"
    code, _, err = run(root, capsys, "join", "holidays", "garden", "--knn", "2", "--format", "json",
                       "--output", str(out_file))
    body = json.loads(out_file.read_text())
    assert code == 0 and "wrote 16 pairs" in err
    assert (body["schema"], body["intent"], body["sets"], body["index"]) == (1, "similar",
                                                                              ["holidays", "garden"], "brute")
    assert len(body["pairs"]) == 16 and all(p["a"].startswith("holidays/") and p["b"].startswith("garden/")
                                            for p in body["pairs"])


def test_duplicates_json_names_its_intent_and_search(root, capsys):
    code, out, _ = run(root, capsys, "duplicates", "holidays", "--format", "json", "--threshold", "0.9")
    body = json.loads(out)
    assert code == 0 and (body["schema"], body["intent"], body["index"]) == (1, "duplicates", "brute")


def test_ctrl_c_exits_130_without_a_traceback(root, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("simages.operations.query.explained_key_join", interrupted)
    code, _, err = run(root, capsys, "query", "holidays/beach_1.jpg", "--set", "holidays")
    assert code == 130 and "interrupted" in err and "Traceback" not in err
