"""The race of search methods: every lap answers the same queries, recall is measured against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from simages.nearest import SetIndex
from simages.operations.race import race, race_table
from simages.race.contest import brute_answer, pick_keys, run_race


def clustered(n: int = 3000, d: int = 16, seed: int = 0) -> SetIndex:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(30, d)) * 3
    rows = centres[rng.integers(0, 30, n)] + rng.normal(size=(n, d))
    return SetIndex("c", [f"c/{i:05d}.jpg" for i in range(n)], rows.astype(np.float32), "gap+l2")


def test_each_lap_answers_the_same_queries_and_recall_is_measured_against_brute_force():
    index = clustered()
    keys = pick_keys(index, 12, seed=1)
    result = run_race(index, keys, k=10)
    laps = {lap.method: lap for lap in result.laps}
    assert list(laps) == ["brute", "pivots", "binary", "hnsw"]
    truth = [brute_answer(index, key, 10) for key in keys]
    assert laps["brute"].answers == truth  # the race's brute force is the joins' brute force
    assert laps["pivots"].answers == truth and laps["pivots"].recall == 1.0  # exact: same answers
    for method in ("binary", "hnsw"):
        lap = laps[method]
        overlap = np.mean([len(set(a) & set(t)) / 10 for a, t in zip(lap.answers, truth, strict=True)])
        assert lap.recall == pytest.approx(overlap)
        assert all(len(a) == 10 and key not in a for a, key in zip(lap.answers, keys, strict=True))
        assert lap.recall > 0.5 and lap.distances < lap.total  # it computed far fewer distances
    # In 16 dimensions with clusters the pivot table rules images out.
    assert laps["pivots"].distances < 0.8 * laps["pivots"].total
    assert laps["brute"].distances == laps["brute"].total == len(index) - 1
    rows = race_table(result)
    assert rows[2]["distances"].endswith("%)") and "codes" in rows[2]["distances"]


def test_a_race_on_a_pca_view_and_bad_requests():
    index = clustered(n=500, d=32)
    low = race(index, keys=5, k=5, dimension=4, methods=("brute", "pivots"))
    assert low.dimension == 4 and [lap.method for lap in low.laps] == ["brute", "pivots"]
    with pytest.raises(ValueError, match="at least one key"):
        run_race(index, [], k=5)
    with pytest.raises(ValueError, match="not images of"):
        run_race(index, ["nope.jpg"], k=5)


async def test_the_teaching_panel_races_the_methods_on_the_set_at_hand(tmp_path):
    from tests.gui_fixtures import demo_root, gui_app, only

    settings, manager = demo_root(tmp_path, {"animals": 40})
    async with gui_app(settings, manager) as (_, user):
        await user.open("/similar?key_set=animals&image=ani001.png&set=animals")
        with user:
            only(user, "teaching-panel").value = True
        await user.should_see(marker="race-here")
        user.find(marker="race-here").click()
        await user.should_see(marker="race-table", retries=200)
        rows = only(user, "race-table").rows
        methods = [r["method"].split(" (")[0] for r in rows]
        assert methods == ["brute force", "pivot table", "binary hash + re-rank", "HNSW graph"]
        assert rows[0]["recall"] == "1.000" and rows[1]["recall"] == "1.000"
        assert "39 of 39" in rows[0]["distances"]


def test_a_small_set_races_with_short_codes():
    index = clustered(n=10, d=16)
    result = run_race(index, index.names[:3], k=5)
    binary = next(lap for lap in result.laps if lap.method == "binary")
    assert binary.setting.startswith("8-bit codes") and 0.0 <= binary.recall <= 1.0
