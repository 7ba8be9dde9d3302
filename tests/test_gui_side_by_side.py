"""Two settings side by side: both answers on one page, the images only one side lists marked."""

from __future__ import annotations

from simages.nearest import QuerySpec, key_join
from simages.nearest.sets.cache import get_set_index
from simages.nearest.teaching.views import unscaled_index
from simages.operations.compare import Setting, compare_settings
from tests.gui_fixtures import gui_app, only
from tests.test_gui_teaching_faults import unit_root


def tiles(user, side: str) -> dict[str, bool]:
    """image -> marked "only here", in the order shown."""
    out = {}
    for element in user.find(marker=f"side-{side}").elements:
        for child in element.descendants():
            for mark in child._markers:
                if mark.startswith("side-tile:"):
                    name = mark.removeprefix("side-tile:")
                    out[name.removesuffix(":only")] = name.endswith(":only")
    return out


def test_the_images_only_one_setting_lists_are_the_difference_of_the_two_answers(tmp_path):
    settings, _ = unit_root(tmp_path)
    index = get_set_index(settings, "unit")
    left, right = Setting("cosine", "knn", "8", "unscaled"), Setting("euclidean", "knn", "8", "unscaled")
    a, b = compare_settings(index, index.raw_vector("u001.png"), left, right, exclude="u001.png")
    names_a, names_b = [m.image for m in a.result.matches], [m.image for m in b.result.matches]
    view = unscaled_index(index)
    assert names_a == [m.image for m in key_join(view, index.raw_vector("u001.png"),
                                                 QuerySpec("cosine", "knn", 8, expand=False),
                                                 exclude="u001.png").matches]
    assert names_b == [m.image for m in key_join(view, index.raw_vector("u001.png"),
                                                 QuerySpec("euclidean", "knn", 8, expand=False),
                                                 exclude="u001.png").matches]
    assert a.only_here == set(names_a) - set(names_b) and b.only_here == set(names_b) - set(names_a)
    assert names_a != names_b  # the teaching descriptor really changes the Euclidean answer here
    # kNN against range at the 4th score: the range side lists the first 4, the kNN side 4 more.
    fourth = f"{a.result.matches[3].score - 1e-7:.8f}"  # just below the 4th score (no ties in this set)
    within_setting = Setting("cosine", "range", fourth, "unscaled")
    knn, within = compare_settings(index, index.raw_vector("u001.png"), left, within_setting,
                                   exclude="u001.png")
    assert [m.image for m in within.result.matches] == names_a[:4]
    assert knn.only_here == set(names_a[4:]) and within.only_here == set()


async def test_the_page_marks_what_differs_and_follows_each_sides_controls(tmp_path):
    settings, manager = unit_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/similar?key_set=unit&image=u001.png&set=unit&param=8")
        await user.should_see(marker="side-link")
        user.find(marker="side-link").click()
        await user.should_see(marker="side-summary")
        left, right = tiles(user, "left"), tiles(user, "right")
        assert len(left) == len(right) == 8  # the results page's k on both sides
        assert {n for n, only in left.items() if only} == set(left) - set(right)
        assert {n for n, only in right.items() if only} == set(right) - set(left)
        # The same setting on both sides: nothing differs.
        with user:
            only(user, "right-metric").value = "cosine"
            only(user, "right-param").value = "8"
        user.find(marker="right-param").trigger("blur")
        await user.should_see("Both settings list the same images.")
        assert not any(tiles(user, "right").values())
