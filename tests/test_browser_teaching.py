"""Real-browser tests of the teaching path at a 1280x720 projector: the panel's charts beside their controls,
and the kNN -> range switch starting from the k-th score shown. Screenshots go to test-output/teaching/;
with SIMAGES_DOCS_SCREENSHOTS=1 also to docs/images/ (the demo set only)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from simages.bench import page_bench
from simages.bench.app_server import REPO, AppServer, wait_for
from tests.requirements import import_or_missing, missing

pytestmark = pytest.mark.browser

CHROMIUM = Path(page_bench.CHROMIUM)
OUTPUT = REPO / "test-output" / "teaching"
DOCS = REPO / "docs" / "images"
VIEWPORT = {"width": 1280, "height": 720}

if not CHROMIUM.is_file():
    missing("Debian chromium is not installed (apt-get install -y chromium)", module_level=True)
sync_api = import_or_missing("playwright.sync_api", "the playwright Python package is not installed")


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """One server for the module's tests (none changes the set): each start indexes the demo set."""
    tmp_path = tmp_path_factory.mktemp("demo")
    shutil.copytree(REPO / "image_sets" / "demo", tmp_path / "image_sets" / "demo")
    with AppServer("tests.gui_serve", tmp_path) as app_server:
        wait_for(lambda: (tmp_path / "features" / "demo.npz").is_file(), 120, "the sets")
        yield app_server.url


@contextmanager
def chromium_page(viewport: dict[str, int] = VIEWPORT) -> Iterator[Any]:
    """A page of Debian's Chromium at the projector size, the browser closed afterwards whatever happens."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=page_bench.CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport=viewport)
        finally:
            browser.close()


def screenshot(page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"))
    if os.environ.get("SIMAGES_DOCS_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / f"{name}.jpg"), quality=80, type="jpeg")


def inside_window(box: dict[str, float] | None) -> bool:
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"] + 1 and \
        box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"] + 1


def first_results(page, server: str) -> None:
    page.goto(server + "/?key_set=demo")
    page.locator(".thumb-tile").first.wait_for(timeout=30_000)
    page.locator(".thumb-tile").first.click()
    page.wait_for_url("**/similar?*", timeout=20_000)
    page.locator(".thumb-score").first.wait_for(timeout=20_000)


def test_the_teaching_panel_shows_its_charts_beside_its_controls_at_1280x720(demo_server):
    with chromium_page() as page:
        first_results(page, demo_server)
        page.get_by_text("How was this computed?").click()
        scatter = page.locator(".teaching-charts canvas").nth(1)
        scatter.wait_for(timeout=20_000)
        page.wait_for_timeout(300)  # the scroll into view is smooth in some Chromium builds
        controls = page.locator(".teaching-side .q-select").first
        # Both the pivots control and the lower-bound scatter it moves are on screen at once.
        assert inside_window(controls.bounding_box()), controls.bounding_box()
        assert inside_window(scatter.bounding_box()), scatter.bounding_box()
        side, charts = page.locator(".teaching-side").bounding_box(), page.locator(
            ".teaching-charts").bounding_box()
        assert side is not None and charts is not None and charts["x"] >= side["x"] + side["width"]
        screenshot(page, "teaching-1280x720")


def test_switching_to_a_range_query_starts_at_the_kth_score_shown(demo_server):
    with chromium_page() as page:
        first_results(page, demo_server)
        scores = page.locator(".thumb-score").all_inner_texts()
        titles = [page.locator(".thumb-tile").nth(i).get_attribute("title") for i in range(len(scores))]
        page.get_by_text("within threshold").click()
        field = page.locator("input[aria-label^='Threshold']")
        field.wait_for(timeout=10_000)
        assert field.input_value() == scores[-1]  # the k-th (last) score shown, not the best one
        field.press("Enter")
        page.wait_for_url("**predicate=range*", timeout=20_000)
        page.locator(".thumb-score").first.wait_for(timeout=20_000)
        again = [page.locator(".thumb-tile").nth(i).get_attribute("title")
                 for i in range(page.locator(".thumb-tile").count())]
        assert again[:len(titles)] == titles and len(again) >= len(titles)


def test_two_settings_side_by_side_mark_what_differs(demo_server):
    with chromium_page() as page:
        first_results(page, demo_server)
        page.get_by_text("Compare cosine and Euclidean side by side").click()
        page.wait_for_url("**/side?*", timeout=20_000)
        page.locator(".side-grid .thumb-tile").first.wait_for(timeout=20_000)
        left = page.locator(".side-columns > div").nth(0).locator(".thumb-tile")
        right = page.locator(".side-columns > div").nth(1).locator(".thumb-tile")
        assert left.count() == right.count() == 9  # k = 10, the demo's other 9 images
        page.wait_for_function("() => [...document.querySelectorAll('.side-grid img')]"
                               ".every(i => i.complete)")
        # With every other image listed on both sides, none is "only here"; k = 3 then differs.
        assert page.locator(".side-only").count() == 0
        field = page.locator(".side-columns > div").nth(1).locator("input[aria-label^='k or threshold']")
        field.fill("3")
        field.press("Enter")
        page.wait_for_function("() => document.querySelectorAll('.side-only').length > 0", timeout=20_000)
        assert page.locator(".side-columns > div").nth(1).locator(".thumb-tile").count() == 3
        screenshot(page, "side-by-side-1280x720")


def test_the_teaching_descriptor_and_the_dimensions_offered_in_a_real_browser(demo_server):
    with chromium_page() as page:
        first_results(page, demo_server)
        page.get_by_text("same order").first.wait_for(timeout=10_000)  # unit length: metrics agree
        page.locator(".q-select").filter(has_text="As indexed").click()
        page.get_by_role("option", name="Teaching: lengths kept (cosine ≠ Euclidean)").click()
        page.locator("button").filter(has_text="Search again").first.click()
        page.wait_for_url("**view=unscaled*", timeout=20_000)
        page.get_by_text("keep their own lengths").wait_for(timeout=20_000)
        assert page.get_by_text("same order").count() == 0
        # The panel offers PCA only up to what 10 images span (9 directions): 8.
        page.get_by_text("How was this computed?").click()
        page.locator(".teaching-charts canvas").nth(1).wait_for(timeout=20_000)
        page.locator(".teaching-side .q-select").nth(1).click()
        options = page.get_by_role("option").all_inner_texts()
        assert [o for o in options if o.startswith("PCA")] == ["PCA to 8"], options


def test_the_race_in_the_teaching_panel(demo_server):
    with chromium_page() as page:
        first_results(page, demo_server)
        page.get_by_text("How was this computed?").click()
        page.get_by_role("button", name="On demo").click()
        table = page.locator(".q-table").first
        try:
            table.wait_for(timeout=60_000)
        except Exception:
            page.screenshot(path=str(OUTPUT / "race-failed.png"), full_page=True)
            raise
        rows = table.locator("tbody tr")
        assert rows.count() == 4
        assert rows.nth(0).inner_text().startswith("brute force")
        page.get_by_text("k = 9").wait_for()  # ten images: nine others to find
        table.scroll_into_view_if_needed()
        screenshot(page, "race-1280x720")
