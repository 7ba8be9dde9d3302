"""An uploaded key is searched for copies also turned by 90/180/270 degrees: a photo shown sideways is
found as a copy, and the answer says it was turned."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from simages.cli import main
from simages.copies.turns import TURNS, merge_turned
from simages.nearest.core.results import KeyResult, Match
from tests.imagegen import photo


def result(matches: list[tuple[str, float]], predicate: str = "range", param: float = 0.5) -> KeyResult:
    return KeyResult("k", "s", "cosine", predicate, param, [Match(i, v) for i, v in matches],
                     len(matches) if predicate == "range" else None, 10)


def test_each_image_keeps_its_best_score_over_the_turns_and_the_turn_is_said():
    merged, turns = merge_turned([result([("a", 0.6)]), result([("b", 0.9), ("a", 0.7)]),
                                  result([]), result([("c", 0.55)])])
    assert [(m.image, m.score) for m in merged.matches] == [("b", 0.9), ("a", 0.7), ("c", 0.55)]
    assert turns == {"b": TURNS[1], "a": TURNS[1], "c": TURNS[3]} and merged.passed == 3
    knn, _ = merge_turned([result([("a", 0.6), ("b", 0.5)], "knn", 2), result([("c", 0.8)], "knn", 2),
                           result([], "knn", 2), result([], "knn", 2)])
    assert [m.image for m in knn.matches] == ["c", "a"]


def test_a_sideways_upload_is_found_as_a_copy(weights_path: Path, tmp_path: Path, capsys):
    folder = tmp_path / "image_sets" / "holidays"
    folder.mkdir(parents=True)
    for i in range(24):
        photo(200 + i, (96, 64)).save(folder / f"p{i:02d}.png")
    sideways = tmp_path / "sideways.png"
    Image.open(folder / "p05.png").transpose(Image.Transpose.ROTATE_90).save(sideways)
    base = ["--root", str(tmp_path), "--weights", str(weights_path)]
    assert main([*base, "index", "holidays"]) == 0
    capsys.readouterr()
    query = [*base, "query", str(sideways), "--set", "holidays", "--intent", "duplicates"]
    assert main([*query, "--format", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    first = answer["results"][0]
    assert first["image"] == "p05.png" and first["score"] >= 0.999 and first["turned"] == 270
    assert main(query) == 0
    assert "the key is p05.png turned 90° counter-clockwise" in capsys.readouterr().out
