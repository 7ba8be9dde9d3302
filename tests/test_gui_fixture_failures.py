"""The simulated-user fixture: a test that fails inside the app still shuts it down, so the next GUI test
runs (a failure used to leave NiceGUI half shut down: the next test failed, CI once hung, and later
tests patched module copies nobody used)."""

from __future__ import annotations

import sys

import pytest

from tests.gui_fixtures import gui_app
from tests.test_gui_copy_changes import collection


class Deliberate(Exception):
    pass


async def test_a_failure_inside_the_app_does_not_break_the_next_one(tmp_path):
    before = {name: sys.modules[name] for name in ("simages", "simages.extraction", "simages.jobs")}
    settings, manager, _, _ = collection(tmp_path / "first")
    with pytest.raises(Deliberate):
        async with gui_app(settings, manager) as (_, user):
            await user.open("/join?a=mine&b=animals&intent=duplicates")
            await user.should_see(marker="pairs-view", retries=50)
            raise Deliberate
    # The same modules as before (tests that patch them by name patch the ones in use).
    assert all(sys.modules[name] is module for name, module in before.items())
    settings, manager, _, _ = collection(tmp_path / "second")
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=mine&b=animals&intent=duplicates")
        await user.should_see(marker="pairs-view", retries=50)
