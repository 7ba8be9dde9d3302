"""`simages eval` end to end on a tiny labeled folder, with the stand-in network."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from simages.cli import eval_cmd
from simages.evaluation import runner
from simages.extraction.network import TinyNetwork
from simages.settings import Settings
from tests.requirements import import_or_missing

COLOURS = {"reds": (200, 40, 40), "greens": (40, 170, 60), "blues": (40, 60, 200)}


def make_labeled_folder(folder: Path) -> None:
    """3 classes x 4 images: each class a colour and a pattern, each image a variation of it."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:120, 0:160]
    for index, (name, colour) in enumerate(COLOURS.items()):
        for image in range(4):
            pattern = np.sin((x if index == 0 else y if index == 1 else x + y) / (4 + image)) * 30
            pixels = np.array(colour)[None, None, :] + pattern[..., None] + rng.normal(0, 10, (120, 160, 3))
            path = folder / name / f"{name}_{image}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)


class CountingNetwork(TinyNetwork):
    def __init__(self) -> None:
        super().__init__()
        self.images = 0

    def maps(self, images: np.ndarray) -> np.ndarray:
        self.images += len(images)
        return super().maps(images)


@pytest.fixture
def labeled(tmp_path: Path) -> Path:
    folder = tmp_path / "labeled"
    make_labeled_folder(folder)
    Image.new("RGB", (50, 50)).save(folder / "no_class.png")  # not in a class folder: left out
    return folder


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> CountingNetwork:
    network = CountingNetwork()
    monkeypatch.setattr("simages.jobs.distributor.network_for", lambda weights, cache=None: network)
    monkeypatch.setattr(runner, "network_for", lambda weights, cache=None: network)
    return network


def run_cli(settings: Settings, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    eval_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["eval", *argv])
    return args.func(args, settings)


def test_eval_prints_the_table_for_every_option_and_metric(
    settings: Settings, labeled: Path, network: CountingNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(settings, [str(labeled), "-d", "gap+l2", "-d", "rmac+flip+l2+whiten+qe2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "12 images in 3 classes: blues (4), greens (4), reds (4)" in out
    assert "1 image directly in the folder has no class and was left out" in out
    lines = [line for line in out.splitlines() if line.startswith(("gap+l2", "rmac+flip"))]
    assert [line.split()[:2] for line in lines] == [
        ["gap+l2", "cosine"], ["gap+l2", "euclidean"],
        ["rmac+flip+l2+whiten+qe2", "cosine"], ["rmac+flip+l2+whiten+qe2", "euclidean"],
    ]
    assert "P@10" in out and "mAP" in out


def test_eval_json_is_machine_readable_and_separates_the_classes(
    settings: Settings, labeled: Path, network: CountingNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_cli(settings, [str(labeled), "-d", "gap+l2", "--metric", "cosine", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["images"] == 12 and report["classes"] == {"blues": 4, "greens": 4, "reds": 4}
    (row,) = report["results"]
    assert row["descriptor"] == "gap+l2" and row["metric"] == "cosine" and row["dimension"] == 512
    # Distinct colours are easy even for the stand-in network.
    assert row["P@1"] == 1.0 and row["mAP"] == 1.0
    # With 3 neighbours of the same class, P@10 is at most 3/10.
    assert row["P@10"] == pytest.approx(0.3)


def test_eval_reuses_its_stores_on_a_second_run(
    settings: Settings, labeled: Path, network: CountingNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(labeled), "-d", "gap+flip+l2", "--json"]
    assert run_cli(settings, argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert network.images == 26  # 13 images and their 13 mirrors
    assert run_cli(settings, argv) == 0
    assert network.images == 26
    second = json.loads(capsys.readouterr().out)
    without_timing = lambda report: [{**row, "seconds": None} for row in report["results"]]  # noqa: E731
    assert without_timing(second) == without_timing(first)
    store, mirrored = runner.eval_store_paths(settings, labeled)
    assert store.is_file() and mirrored.is_file()
    # A new image is the only one computed on the next run.
    Image.new("RGB", (64, 64), (200, 40, 40)).save(labeled / "reds" / "extra.png")
    assert run_cli(settings, argv) == 0
    assert network.images == 28


def test_default_options_cover_every_pooling_and_flag() -> None:
    specs = eval_cmd.chosen_options(None)
    assert {spec.pooling for spec in specs} == {"flat", "gap", "max", "gem", "rmac"}
    for flag in ("sqrt", "flip", "l2", "pca", "whiten", "qe"):
        assert any(getattr(spec, flag) for spec in specs), flag


def test_eval_refuses_unknown_options_and_folders(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(settings, [str(tmp_path), "-d", "gap+blur"]) == 2
    assert "unknown descriptor flag" in capsys.readouterr().err
    assert run_cli(settings, [str(tmp_path / "missing")]) == 2


def test_eval_saves_a_precision_plot(
    settings: Settings, labeled: Path, network: CountingNetwork, tmp_path: Path
) -> None:
    import_or_missing("matplotlib", "matplotlib (the test extra) is not installed")
    plot = tmp_path / "plots" / "precision.png"
    assert run_cli(settings, [str(labeled), "-d", "gap+l2", "-d", "max+l2", "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_refuses_a_folder_without_two_class_folders_before_indexing(
    settings: Settings, tmp_path: Path, network: CountingNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "flat"
    (folder / "only").mkdir(parents=True)
    for index in range(3):
        Image.new("RGB", (64, 64), (index * 80, 40, 40)).save(folder / f"photo_{index}.png")
    assert run_cli(settings, [str(folder), "-d", "gap+l2"]) == 2
    assert "found 1 sub-folders" in capsys.readouterr().err
    assert network.images == 0
    assert not runner.eval_store_paths(settings, folder)[0].exists()


def test_eval_says_what_its_table_cannot_show_on_a_small_folder(
    settings: Settings, labeled: Path, network: CountingNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    # 12 images, classes of 4: whitening needs 20 images, so the app would not whiten this set; a key has
    # 3 relevant images, so P@10 and P@20 cannot reach 1. Both were printed without a word.
    code = run_cli(settings, [str(labeled), "-d", "gap+l2", "-d", "rmac+flip+l2+whiten+qe2"])
    out = capsys.readouterr().out
    assert code == 0
    notes = out.split("Read with care:\n")[1].splitlines()
    assert notes == [
        "  - P@10: the smallest class (blues) has 4 images, so its keys have at most 3 relevant images and "
        "P@10 stays at or below 0.30 for them even when the ranking is perfect.",
        "  - P@20: the smallest class (blues) has 4 images, so its keys have at most 3 relevant images and "
        "P@20 stays at or below 0.15 for them even when the ranking is perfect.",
        "  - rmac+flip+l2+whiten+qe2: on a set of 12 images the app searches with rmac+flip+l2+qe2 (too few "
        "images for the rest); its rows score the full option, which the app would not use here.",
    ]
    run_cli(settings, [str(labeled), "-d", "gap+l2", "--metric", "cosine", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert [note.split(":")[0] for note in report["caveats"]] == ["P@10", "P@20"]


def test_trimmed_options_are_evaluated_on_maps_of_the_trimmed_images(
    settings: Settings, labeled: Path, network: CountingNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    # A letterboxed copy of a red image in the blue class: trimmed, it is the red image again.
    red = Image.open(labeled / "reds" / "reds_0.png").convert("RGB")
    canvas = Image.new("RGB", (160, 160), (0, 0, 0))
    canvas.paste(red, (0, 20))
    canvas.save(labeled / "blues" / "boxed.png")
    argv = [str(labeled), "-d", "gap+trim+l2+flip", "-d", "gap+l2+flip", "--json", "--metric", "cosine"]
    assert run_cli(settings, argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["descriptor"] for row in report["results"]] == ["gap+trim+flip+l2", "gap+flip+l2"]
    assert network.images == 4 * 14  # both kinds of maps, each with its mirrors
    assert all(path.is_file() for path in runner.eval_store_paths(settings, labeled, trim=True))
    store = runner.load_maps(labeled, settings, False)[0]
    trimmed = runner.load_maps(labeled, settings, False, trim=True)[0]
    row = {name: i for i, name in enumerate(store.names)}
    assert np.allclose(trimmed.vectors[row["reds/reds_1.png"]], store.vectors[row["reds/reds_1.png"]])
    boxed, red_row = row["blues/boxed.png"], row["reds/reds_0.png"]
    assert np.abs(trimmed.vectors[boxed] - trimmed.vectors[red_row]).mean() < np.abs(
        store.vectors[boxed] - store.vectors[red_row]).mean()
