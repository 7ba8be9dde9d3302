"""Real-browser tests of the atlas at 1280x720: hover shows the thumbnail, a click opens the image's results,
a lasso drawn with the mouse selects images; the join's map. Screenshots go to test-output/atlas/; with
SIMAGES_DOCS_SCREENSHOTS=1 also to docs/images/ (the demo set only)."""

from __future__ import annotations

import shutil
from urllib.parse import parse_qs, urlparse

import pytest

from simages.bench.app_server import REPO, AppServer, wait_for
from tests.requirements import import_or_missing, missing
from tests.test_browser_teaching import CHROMIUM, chromium_page, screenshot

pytestmark = pytest.mark.browser
sync_api = import_or_missing("playwright.sync_api", "the playwright Python package is not installed")
if not CHROMIUM.is_file():
    missing("Debian chromium is not installed (apt-get install -y chromium)", module_level=True)

# Pixel positions (page coordinates) of every point of the first series, and the chart's box.
POINTS_JS = """() => {
  const el = document.querySelector('.atlas-chart');
  const chart = getElement(el.id.slice(1)).chart;
  const box = el.getBoundingClientRect();
  const option = chart.getOption();
  const out = [];
  option.series.forEach((s, i) => {
    if (s.type !== 'scatter' || s.silent) return;  // rings over points are decoration, not images
    s.data.forEach(d => {
      const [x, y] = chart.convertToPixel({seriesIndex: i}, [d[0], d[1]]);
      out.push({x: box.left + x, y: box.top + y, name: d[2]});
    });
  });
  return out;
}"""
LASSO_JS = """() => {
  const el = document.querySelector('.atlas-chart');
  getElement(el.id.slice(1)).chart.dispatchAction(
    {type: 'takeGlobalCursor', key: 'brush', brushOption: {brushType: 'polygon'}});
}"""


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """One server for the module's tests (none changes the set): each start indexes the demo set."""
    tmp_path = tmp_path_factory.mktemp("demo")
    shutil.copytree(REPO / "image_sets" / "demo", tmp_path / "image_sets" / "demo")
    with AppServer("tests.gui_serve", tmp_path) as app_server:
        wait_for(lambda: (tmp_path / "features" / "demo.npz").is_file(), 120, "the sets")
        yield app_server.url


def open_atlas(page, url: str) -> list[dict]:
    page.goto(url)
    page.locator(".atlas-chart canvas").first.wait_for(timeout=30_000)
    page.wait_for_function("() => document.querySelector('.atlas-chart') && "
                           "getElement(document.querySelector('.atlas-chart').id.slice(1)).chart")
    return page.evaluate(POINTS_JS)


def test_hover_click_and_lasso_on_the_atlas(demo_server):
    with chromium_page() as page:
        points = open_atlas(page, demo_server + "/atlas?set=demo")
        assert len(points) == 10
        # Hover: the tooltip shows the image's thumbnail and name.
        target = points[0]
        page.mouse.move(target["x"], target["y"])
        tooltip_img = page.locator(".atlas-chart img")
        tooltip_img.wait_for(timeout=10_000)
        assert f"name={target['name'].replace('/', '%2F')}" in tooltip_img.get_attribute("src")
        page.wait_for_function("() => [...document.querySelectorAll('.atlas-chart img')]"
                               ".every(i => i.complete && i.naturalWidth > 0)")
        screenshot(page, "atlas-1280x720")
        # Lasso: a polygon drawn with the mouse around every point selects them all.
        page.evaluate(LASSO_JS)
        xs, ys = [p["x"] for p in points], [p["y"] for p in points]
        left, right, top, bottom = min(xs) - 12, max(xs) + 12, min(ys) - 12, max(ys) + 12
        page.mouse.move(left, top)
        page.mouse.down()
        for x, y in ((right, top), (right, bottom), (left, bottom), (left, top)):
            page.mouse.move(x, y, steps=8)
        page.mouse.up()
        page.get_by_text("10 images selected").wait_for(timeout=10_000)
        assert page.locator(".atlas-side .atlas-tile").count() == 10  # the key set, no nearest left
        # Click: a point opens its image's results.
        page.evaluate("() => { const el = document.querySelector('.atlas-chart');"
                      " getElement(el.id.slice(1)).chart.dispatchAction("
                      "{type: 'takeGlobalCursor', key: 'brush', brushOption: {brushType: false}}); }")
        page.goto(demo_server + "/atlas?set=demo")
        points = open_atlas(page, demo_server + "/atlas?set=demo")
        page.mouse.click(points[3]["x"], points[3]["y"])
        page.wait_for_url("**/similar?*", timeout=20_000)
        query = {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}
        assert query["image"] == points[3]["name"] and query["set"] == "demo"


def test_a_join_on_the_atlas_and_a_key_from_the_results_page(demo_server):
    with chromium_page() as page:
        points = open_atlas(page, demo_server + "/atlas?a=demo&b=demo&intent=similar&metric=cosine"
                            "&predicate=knn&param=1")
        assert len({p["name"] for p in points}) == 10  # every image (knots of 3+ are ringed on top)
        page.get_by_text("pairs pass").wait_for(timeout=10_000)
        screenshot(page, "atlas-join-1280x720")
        page.goto(demo_server + "/similar?key_set=demo&image=cats/chelsea.jpg&set=demo")
        page.get_by_text("Show the key and its answers on the atlas").click()
        page.wait_for_url("**/atlas?*key=*", timeout=20_000)
        points = open_atlas(page, page.url)
        names = [p["name"] for p in points]
        assert names.count("cats/chelsea.jpg") == 2  # its folder's point and the key's pin
        screenshot(page, "atlas-key-1280x720")
