"""The threshold's quality estimated on the user's own photos: edited copies of a sample searched in the
collection, kept in features/.cache and shown by `simages duplicates`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simages.cli import main
from simages.cli.duplicates_cmd import SPACE_RELEARNED
from simages.copies.calibration import calibration_path, score_copies
from tests.imagegen import photo


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_recall_false_pairs_and_precision_are_counted_at_the_threshold():
    photos = np.eye(4)
    copies = unit(np.array([[1.0, 0.1, 0, 0], [0, 1.0, 0.9, 0], [0, 0, 0.2, 1.0]]))
    # copy 0 finds photo 0; copy 1 finds photo 1 and also passes with photo 2 (a false pair); copy 2
    # (of photo 2) scores 0.2 with it: not found, but passes with photo 3 (false).
    recall, false_pairs, precision = score_copies(copies, photos, np.array([0, 1, 2]), threshold=0.5)
    assert recall == pytest.approx(2 / 3) and false_pairs == 2 and precision == pytest.approx(2 / 4)


def test_pairs_whose_images_show_two_photos_are_neither_found_nor_false():
    photos = np.eye(4)
    copies = unit(np.array([[1.0, 0.1, 0, 0], [0, 1.0, 0.9, 0], [0, 0, 0.2, 1.0]]))
    # The keypoints say copy 1 ~ photo 2 and copy 2 ~ photo 3 are two photos: only true pairs remain.
    shown = {(1, 2), (2, 3)}
    recall, false_pairs, precision = score_copies(copies, photos, np.array([0, 1, 2]), threshold=0.5,
                                                  two_photos=lambda copy, photo: (copy, photo) in shown)
    assert recall == pytest.approx(2 / 3) and false_pairs == 0 and precision == 1.0


def test_calibrate_on_the_users_photos_is_kept_and_shown(weights_path: Path, tmp_path: Path, capsys):
    folder = tmp_path / "image_sets" / "holidays"
    folder.mkdir(parents=True)
    for i in range(24):
        photo(100 + i, (96, 64)).save(folder / f"p{i:02d}.jpg", quality=92)
    base = ["--root", str(tmp_path), "--weights", str(weights_path)]
    assert main([*base, "index", "holidays"]) == 0
    capsys.readouterr()
    assert main([*base, "duplicates", "holidays"]) == 0
    assert "is not estimated yet" in capsys.readouterr().out and "--calibrate" in out_of_last(capsys, base)
    assert main([*base, "duplicates", "holidays"]) == 0
    said = capsys.readouterr().out
    assert "PCA-whitened on all your indexed photos together" in said
    assert "learned when 24 photos were indexed" in said
    assert main([*base, "duplicates", "holidays", "--calibrate"]) == 0
    out, err = capsys.readouterr()
    # Learned again from edited copies: the scores moved, and the answer says so and what the space is now.
    assert SPACE_RELEARNED in err
    # Each stage is said as it starts, and the network's work has a bar (images described, of how many).
    stages = [line.split(" ", 1)[0] for line in err.splitlines() if line[:4] in ("1/3 ", "2/3 ", "3/3 ")]
    assert stages == ["1/3", "2/3", "3/3"]
    assert "edited copies: 100%" in err and "96/96" in err  # 24 photos, 4 edits each
    assert "calibration copies: 100%" in err and "24/24" in err
    assert err.index("1/3 ") < err.index("edited copies: ") < err.index("2/3 ") < err.index(
        "calibration copies: ") < err.index("3/3 ")
    assert "tuned on edited copies of them to find copies" in out
    line = next(line for line in out.splitlines() if line.startswith("Threshold 0.5, tested on"))
    assert ("tested on 24 copies of your photos with everyday edits, searched among all 24 indexed "
            "photos") in line
    assert "were found by their score alone" in line and "of the pairs that passed were real copies" in line
    assert "Scores come from the copy-aware space" in line
    assert calibration_path_for(tmp_path).is_file()
    # Kept: a later answer shows it without measuring again.
    assert main([*base, "duplicates", "holidays"]) == 0
    assert line in capsys.readouterr().out
    # Calibrated again with nothing new to learn from: the space and the scores stay, and nothing says
    # they changed.
    assert main([*base, "duplicates", "holidays", "--calibrate"]) == 0
    err = capsys.readouterr().err
    assert SPACE_RELEARNED not in err
    assert "nothing to learn" in err and "edited copies: " not in err and "calibration copies: 100%" in err


def calibration_path_for(root: Path) -> Path:
    from simages.settings import Settings

    return calibration_path(Settings(root=root))


def out_of_last(capsys, base: list[str]) -> str:
    """The advice of `simages duplicates` when nothing is estimated yet (JSON's sentence)."""
    import json

    assert main([*base, "duplicates", "holidays", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["calibration"]["sentence"]
