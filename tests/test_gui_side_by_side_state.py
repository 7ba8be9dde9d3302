"""The side-by-side page's state (gui/state/side_by_side.py): each tab's two settings, and how a side's
controls change its own setting only."""

from __future__ import annotations

from types import SimpleNamespace

from simages.gui.state.side_by_side import SideBySideTab, comparison_summary
from simages.operations.compare import Setting


def test_a_side_changes_alone_and_a_new_metric_or_predicate_starts_from_the_default():
    tab = SideBySideTab(Setting(param="5", view="unscaled"), Setting("euclidean", param="5", view="unscaled"))
    assert not tab.change("left", "cosine", "knn", " 7 ", "unscaled")
    assert tab.left == Setting("cosine", "knn", "7", "unscaled") and tab.right.param == "5"
    assert tab.change("right", "euclidean", "range", "5", "")  # a k is no threshold: the default again
    assert tab.right == Setting("euclidean", "range", "", "") and tab.left.param == "7"
    assert tab.change("left", "euclidean", "knn", "7", "unscaled") and tab.left.param == ""
    assert tab.setting("right") is tab.right


def test_the_summary_says_whether_the_two_answers_agree():
    same = SimpleNamespace(only_here=set())
    assert comparison_summary(same, same) == "Both settings list the same images."
    left, right = SimpleNamespace(only_here={"a.jpg", "b.jpg"}), SimpleNamespace(only_here={"c.jpg"})
    assert comparison_summary(left, right) == "2 images only on the left, 1 only on the right."
