"""Robustness round 2, the command line: any file name in any output format and locale, closed pipes, and
absurd parameters, each answered without a traceback."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import imagegen
import numpy as np
import pytest

from simages.cli import main
from simages.extraction.network import TinyNetwork
from simages.jobs.indexer import index_set
from simages.nearest.core.query_spec import QuerySpec
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store

REPO = Path(__file__).resolve().parents[1]
SET = "1:1 crops"


@pytest.fixture
def odd_set(settings: Settings) -> Settings:
    """A set named with a colon holding one image under each odd name, indexed with the stand-in network."""
    for seed, name in enumerate(imagegen.ODD_NAMES):
        imagegen.save(imagegen.photo(seed), settings.image_sets / SET / name, format="PNG")
    index_set(settings, SET, network_factory=TinyNetwork)
    return settings


def run_cli(settings: Settings, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m simages --root ROOT ARGS` in a child process, bytes out, with a chosen environment."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "simages", "--root", str(settings.root), *args],
        capture_output=True, env=full_env, timeout=120, check=False,
    )


# --- 2. Names in every output format, under any locale ---------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "ascii"])
def test_query_csv_and_json_name_the_very_same_files(odd_set: Settings, encoding: str) -> None:
    key = f"{SET}/{imagegen.ODD_NAMES[0]}"
    on_disk = {os.fsencode(name) for name in imagegen.ODD_NAMES} - {os.fsencode(imagegen.ODD_NAMES[0])}
    env = {"PYTHONIOENCODING": encoding}
    as_csv = run_cli(odd_set, "query", key, "--set", SET, "--knn", "50", "--format", "csv", env=env)
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.reader(io.StringIO(as_csv.stdout.decode("utf-8", "surrogateescape"), newline="")))
    assert {os.fsencode(row[0]) for row in rows[1:]} == on_disk
    as_json = run_cli(odd_set, "query", key, "--set", SET, "--knn", "50", "--format", "json", env=env)
    assert as_json.returncode == 0, as_json.stderr
    names = {os.fsencode(m["image"]) for m in json.loads(as_json.stdout)["results"]}
    assert names == on_disk
    table = run_cli(odd_set, "query", key, "--set", SET, "--knn", "50", env=env)
    assert table.returncode == 0 and b"Traceback" not in table.stderr
    assert os.fsencode(imagegen.non_utf8_name()) in table.stdout  # the name's own bytes, as `ls` prints them


def test_join_csv_file_is_complete_for_any_name(odd_set: Settings, tmp_path: Path) -> None:
    out = tmp_path / "pairs.csv"
    result = run_cli(odd_set, "join", SET, SET, "--knn", "2", "--output", str(out), env={"LANG": "C"})
    assert result.returncode == 0, result.stderr
    with out.open(encoding="utf-8", errors="surrogateescape", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 2 * len(imagegen.ODD_NAMES)
    assert {row["a"] for row in rows} == set(imagegen.ODD_NAMES)


def test_a_stored_key_with_any_name_round_trips(odd_set: Settings, capsysbinary) -> None:
    for name in imagegen.ODD_NAMES:
        code = main(["--root", str(odd_set.root), "query", f"{SET}/{name}", "--set", SET, "--knn", "1",
                     "--format", "json"])
        assert code == 0
        assert json.loads(capsysbinary.readouterr().out)["key"] == f"{SET}/{name}"


# --- 6. Pipes --------------------------------------------------------------------------------------------


@pytest.fixture
def big_set(settings: Settings) -> Settings:
    """3,000 images (stored vectors only): more output than a pipe buffers."""
    names = [f"photo_{i:05d}.jpg" for i in range(3000)]
    vectors = np.random.default_rng(0).random((3000, 16), dtype=np.float32)
    store = FeatureStore(names, [Fingerprint(1, 1)] * 3000, vectors, {"descriptor": "gap+l2"})
    save_store(settings.store_path("big"), store)
    (settings.image_sets / "big").mkdir(parents=True)
    return settings


@pytest.mark.parametrize("command", [
    ["join", "big", "big", "--knn", "5"],
    ["join", "big", "big", "--knn", "5", "--output", "-"],
    ["query", "big/photo_00001.jpg", "--set", "big", "--knn", "3000"],
    ["query", "big/photo_00001.jpg", "--set", "big", "--knn", "3000", "--format", "json"],
])
def test_a_reader_that_stops_early_stops_the_command_quietly(big_set: Settings, command: list[str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "simages", "--root", str(big_set.root), *command],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()  # `| head -1`
    process.stdout.close()
    stderr = process.stderr.read()
    code = process.wait(timeout=120)
    assert stderr == b"", stderr.decode(errors="replace")
    assert code in (0, 141)  # 141: stopped by the closed pipe, as SIGPIPE leaves any Unix tool


# --- 5. Absurd parameters --------------------------------------------------------------------------------


ABSURD = [
    ["--threshold", "1e308", "--metric", "euclidean"],
    ["--threshold", "1.7976931348623157e308", "--metric", "euclidean"],
    ["--threshold", "1e999"],
    ["--threshold", "nan", "--metric", "euclidean"],
    ["--threshold", "-inf"],
    ["--threshold", "1e-320", "--metric", "euclidean"],
    ["--threshold", "1e308"],
    ["--knn", "99999999999999999999999999"],
    ["--knn", "0"],
    ["--knn", "1e400"],
    ["--knn", "3", "--limit", "99999999999999999999999"],
    ["--knn", "3", "--limit", "0"],
    ["--threshold", "0.5", "--metric", "cosine", "--limit", "-1"],
    ["--threshold", "-1e308", "--metric", "euclidean"],
    ["--threshold", "-.5"],
    ["--knn", "-5"],
]
CASES = [(command, args) for command in ("query", "join") for args in ABSURD
         if command == "query" or "--limit" not in args]


@pytest.mark.parametrize(("command", "args"), CASES, ids=[f"{c} {' '.join(a)}" for c, a in CASES])
def test_absurd_parameters_get_an_answer_or_one_line(
    odd_set: Settings, capsysbinary: pytest.CaptureFixture, command: str, args: list[str]
) -> None:
    target = [f"{SET}/{imagegen.ODD_NAMES[1]}", "--set", SET] if command == "query" else [SET, SET]
    code = main(["--root", str(odd_set.root), command, *target, *args, "--format" if command == "query" else
                 "--output", "csv" if command == "query" else "-"])
    out, err = (text.decode("utf-8", "surrogateescape") for text in capsysbinary.readouterr())
    assert code in (0, 2)
    if code:
        assert err.startswith("simages: error: ") and err.count("\n") == 1, err
    else:
        assert out.startswith(("image,score", "a,b,score")) and err == ""


def test_a_range_beyond_every_distance_lists_the_whole_set(odd_set: Settings, capsysbinary) -> None:
    code = main(["--root", str(odd_set.root), "query", f"{SET}/{imagegen.ODD_NAMES[1]}", "--set", SET,
                 "--range", "1e308", "--metric", "euclidean", "--format", "json"])
    assert code == 0
    assert len(json.loads(capsysbinary.readouterr().out)["results"]) == len(imagegen.ODD_NAMES) - 1
    assert QuerySpec.parse("euclidean", "range", "1e308").param < 1e20


# --- 3. A key that is not an image -----------------------------------------------------------------------


@pytest.mark.parametrize("maker", [imagegen.text_file, imagegen.truncated_jpeg])
def test_a_key_file_that_is_no_readable_image_gets_one_line(
    odd_set: Settings, tmp_path: Path, capsys, weights_path: Path, maker
) -> None:
    key = maker(tmp_path / "key.jpg")
    code = main(["--root", str(odd_set.root), "--weights", str(weights_path), "query", str(key), "--set", SET,
                 "--knn", "3"])
    err = capsys.readouterr().err
    # Exit code 2: the user's bad input, like a bad set name (the help's exit-code paragraph).
    assert code == 2 and err.startswith("simages: error: ") and err.count("\n") == 1, err
