"""The results page says which intent ran, and a range query it completes itself finds something."""

from __future__ import annotations

import pytest

from tests.gui_fixtures import demo_root, gui_app


@pytest.mark.parametrize("image", ["ani001.png", "ani035.png"])
async def test_a_range_query_without_threshold_uses_the_keys_own_suggestion(tmp_path, image):
    settings, manager = demo_root(tmp_path, {"animals": 40})
    async with gui_app(settings, manager) as (_, user):
        await user.open(f"/similar?key_set=animals&image={image}&set=animals&predicate=range")
        await user.should_see(marker="intent", retries=100)
        await user.should_see("Similar images: images that show the same kind of thing")
        # 39 images searched: the key's own top 1% is its nearest image (and any tie with it)
        scores = user.find(marker="score").elements
        assert 1 <= len(scores) <= 50
