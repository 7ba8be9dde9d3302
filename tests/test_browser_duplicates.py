"""In a real browser, on an app that indexes its own sets: after indexing, the app estimates the duplicate
threshold on the collection's photos in the background, and the join page (duplicates intent) shows that
estimate and draws the exact / edited / look-alike thresholds on its histogram."""

from __future__ import annotations

import shutil

import pytest

from simages.bench.app_server import REPO, AppServer, wait_for
from tests.gui_fixtures import make_images
from tests.test_browser_e2e import CHROMIUM, CHROMIUM_ARGS, sync_api

pytestmark = pytest.mark.browser

LEVEL_LABELS = """() => {
  const el = document.querySelector('.nicegui-echart');
  const chart = el && getElement(Number(el.id.slice(1)))?.chart;
  if (!chart) return null;
  const series = chart.getOption().series;
  return series.length > 1 ? series[1].markLine.data.map(d => d.label.formatter) : [];
}"""


@pytest.fixture
def collection_server(tmp_path):
    """The demo photos (or generated ones) and 24 generated images: a collection large enough for a
    duplicates space, indexed by the app itself with the stand-in network."""
    demo = REPO / "image_sets" / "demo"
    if demo.is_dir():
        shutil.copytree(demo, tmp_path / "image_sets" / "demo")
    else:
        make_images(tmp_path, "demo", 10)
    make_images(tmp_path, "more", 24, prefix="more")
    with AppServer("tests.gui_serve", tmp_path) as app_server:
        for name in ("demo", "more"):
            wait_for(lambda n=name: (tmp_path / "features" / f"{n}.npz").is_file(), 120, f"the set {name}")
        yield app_server.url


def test_the_estimate_and_the_level_marks_on_the_join_page(collection_server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(collection_server + "/join?a=demo&b=more&intent=duplicates")
            page.locator("canvas").first.wait_for(timeout=60_000)
            # Measured in the background after indexing; the open page follows until it is there.
            page.get_by_text("Threshold 0.5, tested on").wait_for(timeout=120_000)
            sentence = page.get_by_text("Threshold 0.5, tested on").inner_text()
            assert "were found by their score alone" in sentence
            assert "of the pairs that passed were real copies" in sentence
            assert "copies of your photos with everyday edits" in sentence
            assert "searched among all 34 indexed photos" in sentence
            labels = page.wait_for_function(LEVEL_LABELS, timeout=20_000).json_value()
            # Score thresholds, not levels: levels come from the keypoints too (walk 5).
            assert [label.split(" ")[0] for label in labels] == ["score"] * 3
            assert labels[1].endswith(" passes")
            assert page.get_by_text("The dashed lines are scores, not levels").count() == 1
        finally:
            browser.close()
