"""Real-browser tests (Debian's Chromium via Playwright) of what a new user ran into: tiles that are links
(new tab, keyboard), history (each query an entry, Back restores, Back closes the viewer), and a layout
that fits a 1280x720 projector. Screenshots go to test-output/navigation/ (git-ignored)."""

from __future__ import annotations

import pytest

from simages.bench.app_server import REPO
from tests.test_browser_e2e import CHROMIUM, CHROMIUM_ARGS, load_all_images, sync_api
from tests.test_browser_e2e import layout_server as layout_server  # the fixture

pytestmark = pytest.mark.browser
OUTPUT = REPO / "test-output" / "navigation"


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                              headless=True)
        try:
            yield launched
        finally:
            launched.close()


def test_tiles_are_links_keyboard_reachable_and_history_works(layout_server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(layout_server + "/?key_set=corel")
    tile = page.locator(".thumb-tile").first
    tile.wait_for(timeout=20_000)
    # The start page's state lives in its URL: shuffled, then Back from a results page, it is as it was.
    page.get_by_text("Shuffle").click()
    page.wait_for_url("**shuffle=*", timeout=10_000)
    page.wait_for_timeout(300)
    shuffled = [t.get_attribute("title") for t in page.locator(".thumb-tile").all()]
    page.locator(".thumb-tile").nth(2).click()
    page.wait_for_url("**/similar?*", timeout=20_000)
    page.locator(".thumb-score").first.wait_for(timeout=20_000)
    page.go_back()
    page.wait_for_url("**shuffle=*", timeout=20_000)
    page.locator(".thumb-tile").first.wait_for(timeout=20_000)
    assert [t.get_attribute("title") for t in page.locator(".thumb-tile").all()] == shuffled
    assert page.locator("[role=switch][aria-checked=true]").count() >= 1
    page.goto(layout_server + "/?key_set=corel")
    tile = page.locator(".thumb-tile").first
    tile.wait_for(timeout=20_000)
    assert tile.evaluate("e => e.tagName") == "A" and "/similar?" in (tile.get_attribute("href") or "")
    assert tile.locator("img").get_attribute("alt") == tile.get_attribute("title")

    # Ctrl+click and middle-click open the key's results in a new tab; this tab stays where it is.
    for click in ({"modifiers": ["Control"]}, {"button": "middle"}):
        with context.expect_page(timeout=20_000) as opened:
            tile.click(**click)
        other = opened.value
        other.wait_for_load_state()
        assert "/similar?" in other.url and "key_set=corel" in other.url
        other.close()
        assert page.url.endswith("/?key_set=corel")

    # Tab reaches the thumbnails; Enter opens the focused one.
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('thumb-tile')"):
            break
    else:
        pytest.fail("no thumbnail can be reached with Tab")
    focused = page.evaluate("document.activeElement.title")
    page.keyboard.press("Enter")
    page.wait_for_url("**/similar?*", timeout=20_000)
    page.locator(".thumb-score").first.wait_for(timeout=20_000)
    assert focused in page.title()  # the tab's title names the key
    first_url = page.url

    # A new query is a new history entry; Back restores the previous one with its settings.
    field = page.get_by_label("k (how many results)")
    field.fill("3")
    page.locator(".stale-banner").wait_for(timeout=10_000)  # not applied yet: the results say so
    field.press("Enter")
    page.wait_for_url("**param=3*", timeout=20_000)
    page.wait_for_function("document.querySelectorAll('.thumb-score').length === 3", timeout=20_000)
    page.go_back()
    page.wait_for_url(first_url, timeout=20_000)
    page.wait_for_function("document.querySelectorAll('.thumb-score').length > 3", timeout=20_000)
    assert page.get_by_label("k (how many results)").input_value() == "10"

    # Enter on a focused result opens the viewer (as a plain click does), Esc closes it.
    page.locator(".thumb-tile").first.focus()
    page.keyboard.press("Enter")
    page.locator("img.viewer-image").last.wait_for(timeout=10_000)
    assert page.url == first_url
    assert page.locator("img.viewer-image").last.get_attribute("alt") == page.locator(
        ".thumb-tile").first.get_attribute("title")
    page.wait_for_timeout(300)
    page.keyboard.press("Escape")
    page.locator("img.viewer-image").last.wait_for(state="hidden", timeout=10_000)
    page.wait_for_timeout(500)
    assert page.url == first_url  # closing popped the viewer's own history entry, nothing more

    # Back closes the viewer and stays on the results.
    page.locator(".thumb-tile").first.click()
    page.locator("img.viewer-image").last.wait_for(timeout=10_000)
    page.wait_for_timeout(300)
    page.go_back()
    page.locator("img.viewer-image").last.wait_for(state="hidden", timeout=10_000)
    assert page.url == first_url
    # Back again leaves the results for the start page, as it was.
    page.go_back()
    page.wait_for_url("**/?key_set=corel*", timeout=20_000)
    page.locator(".thumb-tile").first.wait_for(timeout=20_000)
    context.close()


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1366, 768)])
def test_key_controls_and_first_results_fit_a_projector(layout_server, browser, width, height):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": width, "height": height})

    def bottom(selector: str) -> float:
        box = page.locator(selector).first.bounding_box()
        assert box is not None, selector
        return box["y"] + box["height"]

    page.goto(layout_server + "/?key_set=corel")
    page.locator(".thumb-tile").first.wait_for(timeout=20_000)
    load_all_images(page)
    page.screenshot(path=str(OUTPUT / f"home-{width}x{height}.png"))
    for selector in (".thumb-tile", ".q-toggle", ".key-upload"):
        assert bottom(selector) <= height, (selector, bottom(selector))
    # An upload that is not an image: the message shows at the top of the window, where people look.
    page.locator(".key-upload input[type=file]").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"this is text"}])
    message = page.locator(".q-notification").filter(has_text="notes.png is not an image we can read")
    message.wait_for(timeout=20_000)
    assert bottom(".q-notification") <= height / 3
    page.screenshot(path=str(OUTPUT / f"upload-error-{width}x{height}.png"))

    page.goto(layout_server + "/similar?key_set=corel&image=dinosaurs/0_400.png&set=corel")
    page.locator(".thumb-score").first.wait_for(timeout=20_000)
    page.locator("canvas").first.wait_for(timeout=10_000)
    load_all_images(page)
    page.screenshot(path=str(OUTPUT / f"results-{width}x{height}.png"))
    for selector in (".key-image", "text=Search again", ".thumb-tile", "canvas"):
        assert bottom(selector) <= height, (selector, bottom(selector))
