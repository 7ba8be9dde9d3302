"""A set deleted while pages show it: every open page says so, and NiceGUI logs no "element has been
deleted" warning (the start page updated its old, deleted key grid)."""

from __future__ import annotations

import logging
import shutil

import pytest

from simages.gui.pages.common import removed_sets_text
from tests.gui_fixtures import demo_root, gui_app


def remove_set(settings, manager, name: str) -> None:
    """What deleting a set's folder amounts to: the folder gone, the indexer dropping its store and status."""
    shutil.rmtree(settings.image_sets / name)
    settings.store_path(name).unlink()
    manager.states.pop(name)


def no_deleted_element_warning(caplog) -> None:
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [w for w in warnings if "deleted" in w], warnings


@pytest.mark.parametrize("url", [
    "/similar?set=plants&key_set=animals&image=ani001.png",
    "/similar?set=animals&key_set=plants&image=pla001.png",
    "/join?a=animals&b=plants&predicate=knn&param=2",
    "/join?a=plants&b=animals&predicate=knn&param=2",
], ids=["results-key-set", "results-searched-set", "join-a", "join-b"])
async def test_open_results_and_join_pages_say_the_set_was_removed(tmp_path, caplog, url):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(url)
        await user.should_see(marker="summary", retries=50)
        await user.should_not_see(marker="set-removed")
        remove_set(settings, manager, "animals")
        await user.should_see(marker="set-removed", retries=40)
        await user.should_see(removed_sets_text(["animals"]))
        assert removed_sets_text(["animals"]).startswith("This set was removed: animals")
    no_deleted_element_warning(caplog)


async def test_the_start_page_says_its_set_was_removed_and_shows_another(tmp_path, caplog):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/?key_set=animals&set=animals")
        await user.should_see(marker="key-grid", retries=50)
        remove_set(settings, manager, "animals")
        await user.should_see("This set was removed: animals", retries=40)
        await user.should_see("Images of plants (7)", retries=40)
    no_deleted_element_warning(caplog)
