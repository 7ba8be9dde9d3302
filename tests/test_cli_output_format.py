"""Every command with --output writes the format its file's suffix names when --format is not given
(.json, .csv, .txt for the table), and --format, when given, wins: one rule for one option."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from simages.cli import main
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store

# Each command that answers with --output, run on two indexed sets.
COMMANDS = {
    "join": ["join", "photos", "inbox", "--knn", "1"],
    "join duplicates": ["join", "inbox", "photos", "--intent", "duplicates"],
    "duplicates": ["duplicates", "inbox", "photos"],
    "query": ["query", "inbox/img_000.jpg", "--set", "photos"],
    "triage": ["triage", "inbox", "--against", "photos"],
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    settings = Settings(root=tmp_path / "root")
    rng = np.random.default_rng(1)
    photos = np.abs(rng.standard_normal((40, 16))).astype(np.float32)
    inbox = np.concatenate([photos[:3], np.abs(rng.standard_normal((3, 16)))]).astype(np.float32)
    for name, rows in (("photos", photos), ("inbox", inbox)):
        (settings.image_sets / name).mkdir(parents=True)
        rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        names = [f"img_{i:03d}.jpg" for i in range(len(rows))]
        save_store(settings.store_path(name),
                   FeatureStore(names, [Fingerprint(1, 1)] * len(names), rows, {"descriptor": "gap+l2"}))
    return settings.root


def written(root: Path, command: list[str], out: Path, *extra: str) -> str:
    assert main(["--root", str(root), *command, "--output", str(out), *extra]) == 0
    return out.read_text(encoding="utf-8")


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_the_output_suffix_names_the_format(root: Path, tmp_path: Path, command: list[str]):
    assert isinstance(json.loads(written(root, command, tmp_path / "answer.json")), dict)
    rows = list(csv.reader(io.StringIO(written(root, command, tmp_path / "answer.CSV"))))
    assert len(rows) >= 2 and len(rows[0]) >= 2 and all(len(row) == len(rows[0]) for row in rows)
    table = written(root, command, tmp_path / "answer.txt")
    assert not table.lstrip().startswith("{") and table.splitlines()[0] != ",".join(rows[0])
    # --format, when given, wins over the suffix.
    forced = written(root, command, tmp_path / "other.json", "--format", "csv")
    assert forced.splitlines()[0] == ",".join(rows[0])


def test_without_a_known_suffix_each_command_keeps_its_default(root: Path, tmp_path: Path):
    header = written(root, COMMANDS["join"], tmp_path / "pairs")  # join: CSV with --output, as before
    assert header.startswith("a,b,score\n")
    text = written(root, COMMANDS["duplicates"], tmp_path / "dupes.out")
    assert text == written(root, COMMANDS["duplicates"], tmp_path / "dupes.txt")


def test_help_says_the_suffix_sets_the_format(capsys):
    with pytest.raises(SystemExit):
        main(["duplicates", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "suffix" in said and ".json, .csv or .txt" in said
