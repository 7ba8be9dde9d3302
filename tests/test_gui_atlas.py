"""The atlas page with a simulated user: the map by sub-folder, the key and its answers, a lasso selection
used as a key set, a click opening an image's results, and a join's layers."""

from __future__ import annotations

import numpy as np

from simages.gui.pages.atlas import OTHER, PALETTE, set_map_options
from simages.nearest import QuerySpec, set_join
from simages.nearest.core.results import Pair
from simages.nearest.duplicates.exact import duplicate_groups
from simages.nearest.sets.cache import get_set_index
from simages.operations.atlas import SetAtlas, nearest_to_selection
from tests.gui_fixtures import current_query, demo_root, gui_app, only


def scatter(options: dict) -> list[dict]:
    return [s for s in options["series"] if s["type"] == "scatter"]


async def test_the_map_colours_by_sub_folder_and_marks_the_key_and_its_answers(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/atlas?set=animals&key=ani001.png")
        await user.should_see(marker="atlas-chart", retries=300)  # the join is computed off the event loop
        options = only(user, "atlas-chart").options
        by_name = {s["name"]: s for s in scatter(options)}
        # demo_root puts every third image in sub/: two folders, every image drawn once.
        assert len(by_name["sub"]["data"]) == 4 and len(by_name["(top level)"]["data"]) == 8
        assert all(point[2].startswith("sub/") for point in by_name["sub"]["data"])
        assert [p[2] for p in by_name["the key"]["data"]] == ["ani001.png"]
        assert len(by_name["nearest to the key"]["data"]) == 10
        assert "PCA" in only(user, "atlas-note").text  # 12 images: a PCA map, and the page says why


async def test_a_lasso_selection_becomes_a_key_set_and_a_click_opens_results(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/atlas?set=animals")
        await user.should_see(marker="atlas-chart", retries=300)  # the join is computed off the event loop
        options = only(user, "atlas-chart").options
        first = scatter(options)[0]
        picked = [first["data"][0][2], first["data"][1][2]]
        user.find(marker="atlas-chart").trigger("chart:brushselected", [[0, [0, 1]]])
        await user.should_see("2 images selected")
        index = get_set_index(settings, "animals")
        nearest = [e for e in user.find(marker="selection-nearest").elements]
        assert nearest and all(n not in str(nearest) for n in picked)
        expected = [name for name, _ in nearest_to_selection(index, sorted(picked), 24)]
        links = [child.props.get("href") for child in nearest[0].descendants() if child.props.get("href")]
        assert [link.split("image=")[1].split("&")[0].replace("%2F", "/") for link in links] == expected
        # A click on a point opens that image's results.
        point = first["data"][2]
        click = {"componentType": "series", "seriesType": "scatter", "seriesIndex": 0,
                 "seriesName": first["name"], "name": "", "dataIndex": 2, "data": point, "dataType": None,
                 "value": point}
        user.find(marker="atlas-chart").trigger("componentClick", click)
        await user.should_see(marker="results-grid")
        assert current_query(user)["image"] == point[2]


async def test_the_join_map_draws_every_pair_as_an_edge_and_the_new_images_of_b(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/atlas?a=plants&b=animals&metric=cosine&predicate=knn&param=1")
        await user.should_see(marker="atlas-chart", retries=300)  # the join is computed off the event loop
        options = only(user, "atlas-chart").options
        (lines,) = [s for s in options["series"] if s["type"] == "lines"]
        a, b = get_set_index(settings, "plants"), get_set_index(settings, "animals")
        pairs = set_join(a, b, QuerySpec("cosine", "knn", 1)).pairs()
        assert len(lines["data"]) == len(pairs) == 7
        new = next(s for s in scatter(options) if s["name"].startswith("new in B"))
        assert {p[2] for p in new["data"]} == set(b.names) - {p.b for p in pairs}
        # Groups of 3+ linked images are ringed: exactly the members of the join's large groups.
        groups = duplicate_groups(Pair(f"a/{p.a}", f"b/{p.b}", p.score) for p in pairs)
        knots = next(s for s in scatter(options) if s["name"].startswith("groups of 3+"))
        assert sorted((p[3], p[2]) for p in knots["data"]) == sorted(
            ("plants" if node.startswith("a/") else "animals", node[2:]) for g in groups if len(g) >= 3
            for node in g)


def test_folders_beyond_the_palette_share_one_series():
    names = [f"f{i:02d}/x.png" for i in range(20)]
    atlas = SetAtlas("s", names, np.zeros((20, 2), np.float32), [n.split("/")[0] for n in names], "pca", True)
    options, series_names = set_map_options(atlas)
    assert len(options["series"]) == len(PALETTE) and options["series"][-1]["name"] == OTHER
    assert sum(len(n) for n in series_names) == 20


async def test_the_page_swaps_in_the_kept_map_when_the_background_job_has_made_it(tmp_path, monkeypatch):
    import simages.atlas.cache as atlas_cache
    import simages.operations.atlas as operations
    from simages.operations.atlas import build_set_atlas
    from tests.test_atlas import counting_fit

    monkeypatch.setattr(atlas_cache, "umap_available", lambda: True)
    monkeypatch.setattr(operations, "umap_available", lambda: True)
    monkeypatch.setattr(atlas_cache, "umap_map", counting_fit([]))
    monkeypatch.setattr("simages.gui.pages.atlas.POLL_SECONDS", 0.1)
    settings, manager = demo_root(tmp_path, {"many": 120})
    async with gui_app(settings, manager) as (_, user):
        await user.open("/atlas?set=many")
        await user.should_see(marker="atlas-chart", retries=300)
        assert "Instant PCA view" in only(user, "atlas-note").text  # UMAP is due, not kept yet
        build_set_atlas(settings, get_set_index(settings, "many"))  # what the background job does
        await user.should_see("UMAP map of the 120 images", retries=300)
