"""/join of new photos against a collection (duplicates intent) lists the copies `simages duplicates A B`
lists, those below the threshold included, each marked '*' with the CLI's reason; while their keypoints
are checked, one line counts the checks left (not a label on every card); a self-join says it looks at
its threshold only and points to Triage. /similar and /triage mark a copy listed below its threshold with
the same '*' and reason as the CLI's tables."""

from __future__ import annotations

import re
import threading

import pytest

from tests.gui_fixtures import FakeManager, gui_app
from tests.test_copies_verified_views import settings  # noqa: F401  (the fixture: real photos, planted vectors)


def _manager(settings):  # noqa: F811
    manager = FakeManager(settings)
    manager.set("archive", state="indexed", count=2)
    manager.set("inbox", state="indexed", count=3)
    return manager


def _texts(user, marker):
    return [element.text for element in user.find(marker=marker).elements]


async def test_join_lists_the_turned_copy_below_the_threshold_and_counts_the_checks_once(
        settings, monkeypatch):  # noqa: F811
    from simages.copies.levels import BELOW_THRESHOLD_NOTE
    from simages.jobs import join_runner

    release = threading.Event()
    check = join_runner.join_pair_levels
    monkeypatch.setattr(join_runner, "join_pair_levels",
                        lambda *args, **kwargs: release.wait(30) and check(*args, **kwargs))
    async with gui_app(settings, _manager(settings)) as (_, user):
        await user.open("/join?a=inbox&b=archive&intent=duplicates")
        await user.should_see(marker="pairs-view", retries=50)
        # Counted once the candidates below the threshold are known (before that: "Checking keypoints…").
        await user.should_see("Checking keypoints: 0 of", retries=50)
        (said,) = _texts(user, "checking")
        assert re.fullmatch(r"Checking keypoints: 0 of \d+ pairs… \(the levels, the groups and any copy "
                            r"scoring below the threshold follow\)", said)
        await user.should_not_see(marker="pair-checking")  # said once, not on every card
        release.set()
        await user.should_see(marker="pair:turned.jpg|archive/rocket.jpg", retries=100)
        (card,) = user.find(marker="pair:turned.jpg|archive/rocket.jpg").elements
        scores = [e.text for e in card.descendants() if "pair-score" in e._markers]
        assert len(scores) == 1 and scores[0].endswith(" *")
        levels = [m for e in card.descendants() for m in e._markers if m.startswith("pair-level:")]
        assert levels == ["pair-level:edited"]
        changed = [e.text for e in card.descendants() if "pair-changed" in e._markers]
        assert changed and changed[0].startswith("changed: ")
        assert _texts(user, "below-note") == [BELOW_THRESHOLD_NOTE]
        (summary,) = _texts(user, "summary")
        assert "1 copy below it" in summary
        (csv_link,) = user.find(marker="csv-link").elements  # it streams the passing pairs only: says so
        assert csv_link.props["title"] == ("The pairs that pass the threshold; the 1 copy below it "
                                           "(marked *) are in the JSON")
        await user.should_not_see(marker="checking")
        await user.open("/join?a=inbox&b=archive&intent=duplicates&view=knn")  # matches per image
        await user.should_see(marker="knn:turned.jpg", retries=100)
        (row,) = user.find(marker="knn:turned.jpg").elements
        assert [e.text for e in row.descendants() if "score" in e._markers] == [scores[0].split()[-2] + " *"]
        # The same level and what changed as on its Pairs card; the count worded as the headline.
        assert [m for e in row.descendants() for m in e._markers if m.startswith("pair-level:")] == levels
        assert [e.text for e in row.descendants() if "pair-changed" in e._markers] == changed
        assert _texts(user, "below-note") == [BELOW_THRESHOLD_NOTE]
        (count,) = _texts(user, "match-summary")
        assert re.fullmatch(r"\d+ of the 3 images of inbox (has|have) a copy in archive "
                            r"\(of them, 1 copy below the threshold, found by its keypoints, marked \*\)",
                            count), count


async def test_a_self_join_says_it_checks_its_threshold_only(settings):  # noqa: F811
    from simages.gui.widgets.histogram import BELOW_CHART_NOTE

    async with gui_app(settings, _manager(settings)) as (_, user):
        await user.open("/join?a=inbox&b=inbox&intent=duplicates")
        await user.should_see(marker="self-join-scope", retries=50)
        await user.should_see(marker="triage-link")
        await user.should_not_see(marker="chart-note")  # it looks at its threshold only
        await user.open("/join?a=inbox&b=archive&intent=duplicates")
        await user.should_see(marker="summary", retries=50)
        await user.should_not_see(marker="self-join-scope")
        # Under the chart: its lines are score thresholds, and copies below them are found by keypoints.
        await user.should_see(marker="chart-note", retries=50)
        assert _texts(user, "chart-note") == [BELOW_CHART_NOTE]


def test_the_duplicates_chart_names_its_lines_as_score_thresholds_not_levels():
    """Walk 5: "edited copy ≥ 0.5" beside pairs listed as edited copies at 0.003."""
    from simages.copies.levels import LevelThresholds
    from simages.gui.widgets.histogram import score_marks

    thresholds = LevelThresholds(exact=0.9999, edited=0.5, look_alike=0.3)
    labels = [label for _, label, _ in score_marks("cosine", thresholds)]
    assert labels == ["score ≥ 0.9999: same pixels", "score ≥ 0.5 passes", "score ≥ 0.3: look-alikes"]
    (value, label, _), *_ = score_marks("euclidean", thresholds)[1:]
    assert label.startswith("distance ≤ ") and value == pytest.approx(1.0)  # sqrt(2 - 2 * 0.5)


async def test_similar_marks_a_copy_listed_below_the_threshold_and_says_why(settings):  # noqa: F811
    from simages.copies.levels import below_threshold_note
    from simages.gui.widgets.histogram import BELOW_CHART_NOTE

    async with gui_app(settings, _manager(settings)) as (_, user):
        await user.open("/similar?key_set=inbox&image=turned.jpg&set=archive&intent=duplicates")
        await user.should_see(marker="result:rocket.jpg", retries=100)
        (tile,) = user.find(marker="result:rocket.jpg").elements
        scores = [e.text for e in tile.descendants() if "score" in e._markers]
        assert len(scores) == 1 and scores[0].endswith(" *")
        assert _texts(user, "below-note") == [below_threshold_note("key")]
        # The chart's lines are score thresholds there too (the copy at 0.005 is listed as edited).
        assert _texts(user, "chart-note") == [BELOW_CHART_NOTE]
        (summary,) = _texts(user, "summary")  # listed, but it did not pass the threshold
        assert summary.startswith("0 of 2 images in archive have similarity ≥ ")
        assert summary.endswith("; and 1 copy below it, found among the key's nearest by their keypoints "
                                "(marked *)")
        await user.open("/similar?key_set=inbox&image=mirrored.jpg&set=archive&intent=duplicates")
        await user.should_see(marker="result:astronaut.jpg", retries=100)
        await user.should_not_see(marker="below-note")


async def test_triage_marks_a_copy_found_below_the_threshold_and_says_why(settings):  # noqa: F811
    from simages.copies.levels import BELOW_THRESHOLD_NOTE

    async with gui_app(settings, _manager(settings)) as (_, user):
        await user.open("/triage?new=inbox")
        await user.should_see(marker="bucket-edited", retries=100)
        # The copy groups, listed first, say why the turned copy's score is marked too.
        assert _texts(user, "groups-below-note") == [BELOW_THRESHOLD_NOTE]
        user.find(marker="bucket-edited").click()
        await user.should_see(marker="below-note", retries=20)
        assert _texts(user, "below-note") == [BELOW_THRESHOLD_NOTE]
        marked = [text for text in _texts(user, "tile-score") if text.endswith(" *")]
        assert len(marked) == 1  # the turned copy; the mirrored one passes the threshold
