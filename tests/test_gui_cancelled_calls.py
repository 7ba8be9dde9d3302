"""A page whose work off the event loop is cancelled (its tab closed mid-check, the app stopping) ends
quietly: NiceGUI's run.io_bound then returns None, which the pages read as their answer (walk 5: /triage
logged "'NoneType' object has no attribute 'new_sets'")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nicegui import core, run

from tests.gui_fixtures import demo_root, gui_app
from tests.test_gui_triage import _root


@pytest.mark.parametrize("page", ["/triage?new=new", "/join?a=animals&b=plants&predicate=knn&param=3"])
async def test_a_cancelled_check_logs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              page: str) -> None:
    settings, manager = (_root if page.startswith("/triage") else demo_root)(tmp_path)
    called = asyncio.Event()

    async def cancelled(*_args, **_kwargs) -> None:
        called.set()
        return None  # what NiceGUI returns for a call cancelled with its tab

    monkeypatch.setattr(run, "io_bound", cancelled)
    errors: list[Exception] = []
    async with gui_app(settings, manager) as (_, user):
        core.app.on_exception(errors.append)
        await user.open(page)
        await asyncio.wait_for(called.wait(), 10)
        # The page's step after the call has run by now: the stand-in never yields, so the page's task
        # goes on from it before this one wakes.
    assert errors == []
