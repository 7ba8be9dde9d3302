"""The time left of an indexing run, as the status panel shows it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import simages.jobs.manager as manager_module
from simages.jobs import status as st
from simages.jobs.manager import IndexManager
from simages.settings import Settings


def test_estimate_uses_the_rate_since_the_first_progress():
    # 40 images in 20 s since progress stood at 0: 60 more take 30 s
    assert st.estimate_seconds_left(40, 100, 0, 20.0) == pytest.approx(30.0)
    # images already done when the run started (a resumed run) do not count towards the rate
    assert st.estimate_seconds_left(540, 1000, 500, 20.0) == pytest.approx(230.0)


@pytest.mark.parametrize(("done", "first", "elapsed"), [(2, 0, 10.0), (40, 0, 0.5), (100, 0, 30.0)])
def test_no_estimate_before_the_rate_means_anything_or_when_done(done, first, elapsed):
    assert st.estimate_seconds_left(done, 100, first, elapsed) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, ""),
        (2.0, "about 5 s left"),
        (42.0, "about 40 s left"),
        (185.0, "about 3 min left"),
        (4_900.0, "about 1 h 22 min left"),
    ],
)
def test_time_left_reads_naturally(seconds, text):
    assert st.format_time_left(seconds) == text


def test_only_a_running_job_has_a_time_left():
    running = st.SetStatus("a", st.INDEXING, done=10, total=100, seconds_left=200.0)
    assert running.time_left == "about 3 min left"
    assert st.SetStatus("a", st.INDEXED, count=100, seconds_left=200.0).time_left == ""


def test_manager_estimates_from_progress_events(settings: Settings, monkeypatch):
    clock = [1000.0]  # the manager's clock, moved by hand instead of sleeping
    monkeypatch.setattr(manager_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    manager = IndexManager(settings, watch=False)  # never started: events are fed by hand
    manager._handle(("started", "photos"))
    manager._handle(("progress", "photos", 0, 100))
    assert manager.status("photos").seconds_left is None
    clock[0] += 2.1
    manager._handle(("progress", "photos", 10, 100))
    left = manager.status("photos").seconds_left
    assert left is not None and 15 < left < 30  # 90 images at about 0.21 s each
    manager._handle(("started", "photos"))  # a new run starts its own measurement
    assert manager.status("photos").seconds_left is None
