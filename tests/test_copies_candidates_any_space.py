"""A relearned duplicates space never hides a copy's original from the keypoint check: each new photo's
nearest on the square-rooted vectors are verified too, whatever whitening the collection's space has
learned (walk 4: once the app learned the copy-aware space of a 55-photo collection, a turned copy's
original fell behind an unrelated photo among the candidates). The space here is planted: it drops every
direction the turned copy shares with its original, so in it the original is not among the copy's 3
nearest; on the rooted vectors it ranks first. The images are real photos the repository ships, so only
their keypoints can prove the copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from simages.copies.space import CollectionSpace, save_space, space_path, whitening_fingerprint
from simages.extraction.postprocess import Whitening
from simages.settings import Settings
from tests.planted import run_json, write_store

DEMO = Path(__file__).resolve().parents[1] / "image_sets" / "demo"
D, SHARED = 64, 10  # the original lives in the first SHARED dimensions, every other photo in the rest


def rooted(rows: np.ndarray) -> np.ndarray:
    rows = np.sign(rows) * np.sqrt(np.abs(rows))
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


@pytest.fixture
def settings(tmp_path):
    settings = Settings(root=tmp_path)
    rng = np.random.default_rng(11)
    archive, inbox = settings.image_sets / "archive", settings.image_sets / "inbox"
    archive.mkdir(parents=True)
    inbox.mkdir(parents=True)
    others = ["astronaut.jpg", "cameraman.jpg", "grace_hopper.jpg", "hubble_deep_field.jpg", "brick.jpg",
              "grass.jpg", "gravel.jpg", "chelsea.jpg"]
    for name in others:
        folder = next(DEMO.rglob(name)).parent
        shutil.copy(folder / name, archive / name)
    shutil.copy(DEMO / "space" / "rocket.jpg", archive / "rocket.jpg")
    with Image.open(DEMO / "space" / "rocket.jpg") as image:
        image.convert("RGB").transpose(Image.Transpose.ROTATE_90).save(inbox / "turned.jpg", quality=90)
    names = [*others, *(f"other_{i:02d}.jpg" for i in range(12)), "rocket.jpg"]  # 21: a whitened space
    vectors = np.zeros((len(names), D), np.float32)
    vectors[:-1, SHARED:] = np.abs(rng.standard_normal((len(names) - 1, D - SHARED))) ** 3
    vectors[:-1] /= np.linalg.norm(vectors[:-1], axis=1, keepdims=True)
    vectors[-1, :SHARED] = 1.0
    vectors[-1, SHARED:] = -0.05 * vectors[0, SHARED:]  # in the planted space: the astronaut's opposite
    turned = np.zeros(D, np.float32)
    turned[:SHARED] = 1.0
    unrelated = rng.standard_normal(D - SHARED) + 2.0 * vectors[0, SHARED:]
    turned[SHARED:] = 0.3 * unrelated / np.linalg.norm(unrelated)  # the original's dimensions, and noise
    write_store(settings, "archive", names, vectors)
    write_store(settings, "inbox", ["turned.jpg"], turned[None, :])
    projection = np.zeros((D, D - SHARED), np.float32)
    projection[SHARED:, :] = np.eye(D - SHARED, dtype=np.float32)  # forgets what the copy shares
    whitening = Whitening(np.zeros(D, np.float32), projection)
    space = CollectionSpace("gap+l2", whitening, len(names) + 1, 2, whitening_fingerprint(whitening),
                            "copy-whitening", "planted")
    save_space(space_path(settings, "gap+l2"), space)
    # The premise: on the rooted vectors the original is the copy's nearest; in the space, its farthest.
    plain = rooted(vectors) @ rooted(turned)
    assert int(np.argmax(plain)) == len(names) - 1
    learned = whitening.apply(rooted(vectors)) @ whitening.apply(rooted(turned[None, :]))[0]
    assert int((learned > learned[-1]).sum()) >= 3 and learned.max() < 0.5  # not among its 3 nearest
    return settings


def test_triage_finds_the_turned_copy_its_space_ranks_last(settings, capsys):
    data = run_json(settings, capsys, "triage", "inbox", "--against", "archive")
    (row,) = data["new"]
    assert (row["level"], row["match"]) == ("edited", "archive/rocket.jpg")


def test_simages_duplicates_and_join_find_it_too(settings, capsys):
    data = run_json(settings, capsys, "duplicates", "inbox", "archive")
    assert [(p["a"], p["b"], p["level"]) for p in data["pairs"]] == [
        ("inbox/turned.jpg", "archive/rocket.jpg", "edited")]
    joined = run_json(settings, capsys, "join", "inbox", "archive", "--intent", "duplicates")
    levels = {(p["a"], p["b"]): p["level"] for p in joined["pairs"]}
    assert levels.get(("inbox/turned.jpg", "archive/rocket.jpg")) == "edited"


def test_a_duplicates_query_finds_it(settings, capsys):
    data = run_json(settings, capsys, "query", "inbox/turned.jpg", "--set", "archive", "--intent",
                    "duplicates")
    assert [(r["name"], r["level"]) for r in data["results"]] == [("archive/rocket.jpg", "edited")]


def test_the_rooted_nearest_are_the_brute_force_ones_across_chunks_and_sets(monkeypatch):
    from simages.nearest.core.set_index import SetIndex
    from simages.nearest.duplicates import plain_nearest

    monkeypatch.setattr(plain_nearest, "_CHUNK", 7)  # many chunks and key blocks on a few rows
    monkeypatch.setattr(plain_nearest, "_KEYS", 3)
    rng = np.random.default_rng(2)
    sets = [SetIndex(f"s{n}", [f"{i}.jpg" for i in range(size)], rng.standard_normal((size, 16)), "gap+l2",
                     root=True) for n, size in enumerate((30, 11))]
    keys = rng.standard_normal((8, 16)).astype(np.float32)
    exclude = [(0, 4)] + [None] * 7
    found = plain_nearest.rooted_nearest(keys, sets[0], sets, 3, exclude)
    every = np.vstack([rooted(s.raw) for s in sets])
    where = [(n, i) for n, s in enumerate(sets) for i in range(len(s))]
    for k, key in enumerate(keys):
        scores = every @ rooted(key[None, :])[0]
        if exclude[k] is not None:
            scores[where.index(exclude[k])] = -np.inf
        best = [where[j] for j in np.argsort(-scores)[:3]]
        assert [(n, i) for n, i, _ in found[k]] == best
