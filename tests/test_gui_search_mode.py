"""The results page says which search answered (ANN index or exact, and why), and its switch forces exact."""

from __future__ import annotations

import pytest

from simages.jobs.derived import refresh_derived
from simages.nearest.ann import index as ann
from tests.gui_fixtures import current_query, demo_root, gui_app, only
from tests.requirements import import_or_missing

import_or_missing("faiss", "the ANN extra (faiss-cpu) is not installed")

KEY = "/similar?key_set=animals&image=ani001.png&set=animals"


@pytest.fixture
def ann_everywhere(monkeypatch):
    monkeypatch.setattr(ann, "AUTO_MIN_IMAGES", 0)
    ann.default_registry.clear()
    yield
    ann.default_registry.clear()


def scores(user) -> list[float]:
    return sorted(float(label.text) for label in user.find(marker="score").elements)


async def test_missing_index_then_approximate_search_then_exact_by_switch(tmp_path, ann_everywhere):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see("Exact search of all 11 images, because the set has no ANN index yet")
        exact_scores = scores(user)

        refresh_derived(settings, "animals")
        await user.open(KEY)
        await user.should_see("Approximate search (HNSW index) of 11 images")
        assert scores(user) == exact_scores
        assert only(user, "exact-switch").value is False

        with user:
            only(user, "exact-switch").value = True
        await user.should_see(marker="stale")  # the panel no longer matches the listed results
        user.find(marker="rerun").click()
        await user.should_not_see(marker="search-mode", retries=10)  # exact, as asked: nothing to explain
        assert current_query(user)["exact"] == "1"
        assert scores(user) == exact_scores

        await user.open(KEY + "&exact=1")
        assert only(user, "exact-switch").value is True
        await user.should_not_see(marker="search-mode")


async def test_a_bad_exact_parameter_gives_the_friendly_page(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY + "&exact=yes")
        await user.should_see("This link does not describe a search")
        await user.should_see("exact must be 0")
