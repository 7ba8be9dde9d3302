"""Duplicate pairs and groups: the pairs a range join at the threshold finds, each once, and the groups
(complete-link: a photo and its copies, never a chain of look-alikes) against a reference built by brute
force from the true copy relation."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from simages.copies.levels import Level, is_duplicate, level_of
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.core.results import Pair
from simages.nearest.core.set_index import SetIndex
from simages.nearest.duplicates.exact import (
    DUPLICATE_COSINE,
    UNWHITENED_DUPLICATE_COSINE,
    duplicate_groups,
    duplicate_pairs,
    duplicate_threshold,
    find_duplicates,
)
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore


def photos(seed: int, n: int, d: int = 64) -> np.ndarray:
    """Non-negative unit vectors like gap+l2 descriptors of distinct photos."""
    x = np.abs(np.random.default_rng(seed).standard_normal((n, d))).astype(np.float32) ** 3
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def edited(vectors: np.ndarray, seed: int, strength: float = 0.15) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.abs(vectors * (1 + strength * rng.standard_normal(vectors.shape))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def duplicates_index(name: str, names: list[str], vectors: np.ndarray) -> SetIndex:
    store = FeatureStore(names, [Fingerprint(1, 1)] * len(names), vectors, {"descriptor": "gap+l2"})
    return SetIndex.from_store(name, store, descriptor=DUPLICATES.descriptor("gap+l2"))


def true_copy_groups(photo_copies: dict[str, list[str]]) -> list[list[str]]:
    """The reference: each photo with its copies, built from the true copy relation by brute force (every
    pair of names tested against it), groups of at least two, largest first."""
    names = sorted({n for photo, copies in photo_copies.items() for n in [photo, *copies]})
    source = {n: photo for photo, copies in photo_copies.items() for n in [photo, *copies]}
    groups: list[list[str]] = []
    for name in names:
        for group in groups:
            if all(source[name] == source[other] for other in group):
                group.append(name)
                break
        else:
            groups.append([name])
    return sorted((sorted(g) for g in groups if len(g) > 1), key=lambda g: (-len(g), g[0]))


def test_groups_are_photos_with_their_copies_and_look_alike_chains_never_merge_them():
    rng = np.random.default_rng(4)
    for trial in range(20):
        photo_copies = {f"s/p{i:02d}.jpg": [f"s/p{i:02d}_c{j}.jpg" for j in range(int(rng.integers(0, 4)))]
                        for i in range(int(rng.integers(5, 30)))}
        true_pairs = [Pair(*sorted(pair), float(rng.uniform(0.55, 1.0)))
                      for photo, copies in photo_copies.items()
                      for pair in itertools.combinations([photo, *copies], 2)]
        # Look-alike chains: single pairs between images of different photos, one after another through
        # every image. Between photos with two copies or more they may score higher than true copies;
        # next to a photo with one copy or none they score below its copy pair (a look-alike pair alone
        # is indistinguishable from a copy pair, so the chain runs through photos that have copies).
        source = {n: photo for photo, copies in photo_copies.items() for n in [photo, *copies]}
        weakest = {photo: min([p.score for p in true_pairs if source[p.a] == photo], default=1.0)
                   for photo in photo_copies}
        groups = {photo: [photo, *copies] for photo, copies in photo_copies.items() if copies}
        chain = rng.permutation(sorted(groups)).tolist()  # a path through the photos, one pair per step
        look_alikes = []
        for a_photo, b_photo in itertools.pairwise(chain):
            a, b = rng.choice(groups[a_photo]), rng.choice(groups[b_photo])
            big = len(groups[a_photo]) >= 3 and len(groups[b_photo]) >= 3
            top = 1.0 if big else min(weakest[a_photo], weakest[b_photo])
            look_alikes.append(Pair(*sorted((str(a), str(b))), float(rng.uniform(0.5, top))))
        found = duplicate_groups(true_pairs + look_alikes)
        assert found == true_copy_groups(photo_copies), f"trial {trial}"


def test_every_group_is_a_clique_of_pairs_and_no_two_groups_could_merge():
    rng = np.random.default_rng(5)
    names = [f"s/{i:03d}.jpg" for i in range(60)]
    for _ in range(20):
        edges = {tuple(sorted(rng.choice(names, 2, replace=False))) for _ in range(int(rng.integers(0, 300)))}
        pairs = [Pair(a, b, float(rng.uniform(0.5, 1))) for a, b in edges]
        groups = duplicate_groups(pairs)
        # Never drops: every image of a listed pair is in a group.
        assert {n for g in groups for n in g} == {n for edge in edges for n in edge}
        seen = [n for g in groups for n in g]
        twice = {n for n in seen if seen.count(n) > 1}
        for name in twice:  # only as the best partner of images that could join no group
            mine = [g for g in groups if name in g]
            extra = [g for g in mine if len(g) == 2 and seen.count(g[0] if g[1] == name else g[1]) == 1]
            assert len(mine) - len(extra) <= 1
        for group in groups:
            assert all(tuple(sorted(pair)) in edges for pair in itertools.combinations(group, 2))
        for first, second in itertools.combinations(groups, 2):
            if not set(first) & set(second):
                assert not all(tuple(sorted((a, b))) in edges for a in first for b in second)


def test_groups_list_the_largest_first_and_sorted_inside():
    pairs = [Pair("s/b", "s/a", 1.0), Pair("s/x", "s/y", 0.8), Pair("s/y", "s/z", 0.7),
             Pair("s/x", "s/z", 0.6), Pair("s/c", "s/d", 0.9)]
    assert duplicate_groups(pairs) == [["s/x", "s/y", "s/z"], ["s/a", "s/b"], ["s/c", "s/d"]]
    # A chain x~y~z without x~z: the better pair is a group, and z is not dropped: it goes with y.
    assert duplicate_groups(pairs[1:3]) == [["s/x", "s/y"], ["s/y", "s/z"]]
    assert duplicate_groups([]) == []


def test_a_self_join_finds_every_copy_once_and_no_distinct_photo():
    originals = photos(1, 80)
    copies = edited(originals[:10], 2)
    names = [f"p{i:02d}.jpg" for i in range(80)] + [f"p{i:02d}_copy.jpg" for i in range(10)]
    index = duplicates_index("mixed", names, np.vstack([originals, copies]))
    pairs = duplicate_pairs(index)
    found = {(p.a, p.b) for p in pairs}
    expected = {(f"mixed/p{i:02d}.jpg", f"mixed/p{i:02d}_copy.jpg") for i in range(10)}
    assert expected <= found
    assert len(pairs) == len(found)  # each unordered pair once
    assert all(p.a < p.b for p in pairs)
    # Distinct photos stay apart: at most a stray pair among 3,000.
    assert len(found - expected) <= 1
    scores = [p.score for p in pairs]
    assert scores == sorted(scores, reverse=True) and min(scores) >= DUPLICATE_COSINE


def test_pairs_between_sets_name_both_sets_and_use_the_threshold_given():
    base = photos(3, 60)
    a = duplicates_index("new", ["x.jpg", "y.jpg"], np.vstack([base[5], edited(base[7:8], 9)[0]]))
    b = duplicates_index("archive", [f"{i:02d}.jpg" for i in range(60)], base)
    report = find_duplicates([a, b])
    expected = [("new/x.jpg", "archive/05.jpg"), ("new/y.jpg", "archive/07.jpg")]
    assert [(p.a, p.b) for p in report.pairs] == expected
    assert report.pairs[0].score >= 0.999  # an exact copy
    assert report.groups == [["archive/05.jpg", "new/x.jpg"], ["archive/07.jpg", "new/y.jpg"]]
    strict = find_duplicates([a, b], threshold=0.9999)
    assert [(p.a, p.b) for p in strict.pairs] == [("new/x.jpg", "archive/05.jpg")]
    assert strict.threshold == 0.9999


def test_json_has_the_documented_shape_and_full_precision():
    base = photos(5, 40)
    index = duplicates_index("s", [f"{i:02d}.jpg" for i in range(41)], np.vstack([base, edited(base[:1], 1)]))
    report = find_duplicates([index])
    data = json.loads(json.dumps(report.to_json()))
    assert {"threshold", "pairs", "groups", "levels"} <= set(data)
    assert data["pairs"] and set(data["pairs"][0]) == {"a", "b", "score", "level"}
    assert data["pairs"][0]["score"] == report.pairs[0].score  # not rounded
    assert data["pairs"][0]["level"] == "edited" and data["levels"]["edited"] == len(data["pairs"])


def test_levels_exact_for_identical_descriptors_else_from_the_score_and_only_copies_group():
    base = photos(5, 40)
    rows = np.vstack([base, base[:1], edited(base[1:2], 1, 0.6)])
    index = duplicates_index("s", [f"{i:02d}.jpg" for i in range(42)], rows)
    report = find_duplicates([index], threshold=-1.0)  # every pair, whatever its level
    levels = {(p.a, p.b): report.level(i) for i, p in enumerate(report.pairs)}
    assert levels[("s/00.jpg", "s/40.jpg")] is Level.EXACT
    for (a, b), level in levels.items():
        if (a, b) != ("s/00.jpg", "s/40.jpg"):
            score = next(p.score for p in report.pairs if (p.a, p.b) == (a, b))
            assert level is level_of(score)
    assert {Level.EDITED, Level.NEW} <= set(levels.values())
    assert sum(report.to_json()["levels"].values()) == len(report.pairs)
    # Only copies group: every pair inside a group is a duplicate level.
    for group in report.groups:
        assert all(is_duplicate(levels[pair]) for pair in itertools.combinations(group, 2))


def test_the_threshold_follows_the_metric_and_the_set_size():
    big = duplicates_index("big", [f"{i}.jpg" for i in range(40)], photos(6, 40))
    small = duplicates_index("small", [f"{i}.jpg" for i in range(5)], photos(7, 5))
    assert duplicate_threshold("cosine", big) == DUPLICATE_COSINE
    assert duplicate_threshold("cosine", small) == UNWHITENED_DUPLICATE_COSINE
    assert duplicate_threshold("euclidean", big) == pytest.approx(np.sqrt(2 - 2 * DUPLICATE_COSINE))
    with pytest.raises(ValueError, match="metric"):
        duplicate_threshold("manhattan")


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_both_metrics_find_the_same_pairs(metric):
    base = photos(8, 50)
    names = [f"{i:02d}.jpg" for i in range(55)]
    index = duplicates_index("s", names, np.vstack([base, edited(base[:5], 3)]))
    cosine = {(p.a, p.b) for p in duplicate_pairs(index, metric="cosine")}
    assert {(p.a, p.b) for p in duplicate_pairs(index, metric=metric)} == cosine


def test_every_pair_of_a_brute_force_join_at_the_threshold_is_found():
    base = photos(10, 60)
    vectors = np.vstack([base, edited(base[:8], 4, 0.3)])
    names = [f"{i:02d}.jpg" for i in range(len(vectors))]
    index = duplicates_index("s", names, vectors)
    sims = index.vectors @ index.vectors.T
    expected = {
        (f"s/{names[i]}", f"s/{names[j]}")
        for i, j in itertools.combinations(range(len(names)), 2)
        if sims[i, j] >= DUPLICATE_COSINE + 1e-5
    }
    found = {(p.a, p.b) for p in duplicate_pairs(index)}
    assert expected <= found and len(found - expected) <= 1


def test_groups_of_a_join_between_two_sets_hold_every_copy_of_each_photo():
    """Walk 3, finding 3: in a join of a new set against the collection, two new copies of one collection
    photo were never compared with each other, so complete linkage dropped one of them. Against a
    brute-force reference: each photo's copies spread over the two sets, only pairs across the sets
    listed (as such a join lists them), every true group with images on both sides is found whole."""
    from simages.nearest.duplicates.exact import compared_pairs

    inbox = [Pair("archive/1_100.jpg", "inbox/IMG_0001.jpg", 1.0),
             Pair("archive/1_100.jpg", "inbox/IMG_0010.jpg", 0.998)]
    assert duplicate_groups(inbox, True, compared_pairs("inbox", ["archive"])) == [
        ["archive/1_100.jpg", "inbox/IMG_0001.jpg", "inbox/IMG_0010.jpg"]]
    rng = np.random.default_rng(7)
    for trial in range(30):
        photo_copies = {f"p{i:02d}": [f"p{i:02d}_c{j}" for j in range(int(rng.integers(0, 4)))]
                        for i in range(int(rng.integers(3, 25)))}
        side = {n: str(rng.choice(["a", "b"])) for photo, copies in photo_copies.items()
                for n in [photo, *copies]}
        named = {photo: [f"{side[n]}/{n}" for n in [photo, *copies]]
                 for photo, copies in photo_copies.items()}
        pairs = [Pair(*sorted(pair), float(rng.uniform(0.55, 1.0))) for group in named.values()
                 for pair in itertools.combinations(group, 2) if pair[0][0] != pair[1][0]]
        expected = sorted((sorted(group) for group in named.values() if len({n[0] for n in group}) == 2),
                          key=lambda group: (-len(group), group[0]))
        found = duplicate_groups(pairs, True, compared_pairs("a", ["b"]))
        assert found == expected, f"trial {trial}"
        listed = {n for pair in pairs for n in (pair.a, pair.b)}
        assert {n for group in found for n in group} == listed


def test_duplicates_and_join_groups_between_two_sets_keep_both_new_copies_of_a_photo():
    """The callers (simages duplicates A B, the join page's Groups tab) give the groups what their search
    compared: two new copies of one collection photo share its group."""
    from simages.nearest.duplicates.groups import join_groups
    from simages.nearest.joins.pairs import JoinPair, JoinPairs

    archive = photos(11, 40)
    inbox = np.vstack([archive[0], edited(archive[:1], 3)[0], photos(12, 3)])
    new_names = ["IMG_1.jpg", "IMG_10.jpg", "x.jpg", "y.jpg", "z.jpg"]
    report = find_duplicates([duplicates_index("inbox", new_names, inbox),
                              duplicates_index("archive", [f"a{i:02d}.jpg" for i in range(40)], archive)])
    assert {(p.a, p.b) for p in report.pairs} >= {("inbox/IMG_1.jpg", "archive/a00.jpg"),
                                                  ("inbox/IMG_10.jpg", "archive/a00.jpg")}
    assert ["archive/a00.jpg", "inbox/IMG_1.jpg", "inbox/IMG_10.jpg"] in report.groups
    pairs = JoinPairs("inbox", ("archive",), True, ["IMG_1.jpg", "IMG_10.jpg"],
                      [JoinPair("IMG_1.jpg", "archive", "a00.jpg", 1.0),
                       JoinPair("IMG_10.jpg", "archive", "a00.jpg", 0.998)], 2, 80)
    assert join_groups(pairs, copies=True) == [["archive/a00.jpg", "inbox/IMG_1.jpg", "inbox/IMG_10.jpg"]]


def test_the_groups_summary_counts_each_image_once():
    from simages.gui.join.views import group_summary

    groups = duplicate_groups([Pair("s/x", "s/y", 0.8), Pair("s/y", "s/z", 0.7)])  # y is in both groups
    assert group_summary(groups) == "2 groups, 3 images"
