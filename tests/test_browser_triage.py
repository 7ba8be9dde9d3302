"""Real-browser test of the triage page: a folder dropped into image_sets/ is indexed by the app, triaged
against the demo set, its copies applied to the quarantine folder and undone, and the folders are as
before, byte for byte. Screenshots go to test-output/triage/; with SIMAGES_DOCS_SCREENSHOTS=1 (and the real
weights) the app indexes with the real VGG-16 and the 1280x720 view also goes to docs/images/triage.jpg."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from simages.bench import page_bench
from simages.bench.app_server import REPO, AppServer, wait_for
from tests.conftest import real_weights_path
from tests.gui_fixtures import make_images
from tests.requirements import import_or_missing, missing

pytestmark = pytest.mark.browser

CHROMIUM = Path(page_bench.CHROMIUM)
OUTPUT = REPO / "test-output" / "triage"
DOCS = REPO / "docs" / "images"
VIEWPORT = {"width": 1280, "height": 720}
# Thumbnails load lazily: those inside the window must have loaded before a screenshot.
VISIBLE_LOADED = ("[...document.querySelectorAll('img')].filter(i => i.getBoundingClientRect().top < "
                  "innerHeight).every(i => i.complete && i.naturalWidth > 0)")

if not CHROMIUM.is_file():
    missing("Debian chromium is not installed (apt-get install -y chromium)", module_level=True)
sync_api = import_or_missing("playwright.sync_api", "the playwright Python package is not installed")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def drop_inbox(root: Path) -> None:
    """The folder a curator drops in: three byte copies and three edited copies of demo photos (made
    here, from the demo set), and two photos of its own."""
    from PIL import Image, ImageDraw, ImageEnhance, ImageOps

    inbox = root / "image_sets" / ".inbox-being-copied"
    inbox.mkdir()
    originals = sorted(p for p in (root / "image_sets" / "demo").rglob("*.*") if p.is_file())
    for path in originals[:3]:
        shutil.copyfile(path, inbox / f"IMG_{path.stem}.jpg")
    edits = [lambda im: im.resize((im.width // 2, im.height // 2)),
             lambda im: ImageEnhance.Brightness(im).enhance(1.15), ImageOps.mirror]
    for edit, path in zip(edits, originals[3:6], strict=True):
        with Image.open(path) as image:
            edit(image.convert("RGB")).save(inbox / f"edited_{path.stem}.jpg", quality=90)
    # Two photos of its own, unlike each other and the demo set: tiles and rings drawn here.
    tiles = Image.new("RGB", (320, 240), (240, 240, 230))
    draw = ImageDraw.Draw(tiles)
    for x in range(0, 320, 40):
        for y in range(0, 240, 40):
            if (x + y) // 40 % 2:
                draw.rectangle((x, y, x + 39, y + 39), fill=(30 + x // 2, 60, 200 - y // 2))
    tiles.save(inbox / "holiday_tiles.jpg", quality=90)
    rings = Image.new("RGB", (320, 240), (20, 40, 30))
    draw = ImageDraw.Draw(rings)
    for r in range(110, 0, -12):
        draw.ellipse((160 - r, 120 - r, 160 + r, 120 + r), outline=(250, 200 - r, r * 2), width=5)
    rings.save(inbox / "holiday_rings.jpg", quality=90)
    inbox.rename(root / "image_sets" / "inbox")  # appears at once, as a folder moved in


@pytest.fixture
def triage_server(tmp_path):
    demo = REPO / "image_sets" / "demo"
    if demo.is_dir():
        shutil.copytree(demo, tmp_path / "image_sets" / "demo")
    else:
        make_images(tmp_path, "demo", 10)
    weights = real_weights_path()
    real = os.environ.get("SIMAGES_DOCS_SCREENSHOTS") == "1" and weights is not None
    args = ["real", str(weights)] if real else ["tiny"]
    with AppServer("simages.bench.app_server", tmp_path, args) as app_server:
        wait_for(lambda: (tmp_path / "features" / "demo.npz").is_file(), 300, "the demo set")
        drop_inbox(tmp_path)
        wait_for(lambda: (tmp_path / "features" / "inbox.npz").is_file(), 300, "the dropped folder")
        yield app_server.url, tmp_path, real


def test_drop_a_folder_triage_it_apply_and_undo_leaves_it_byte_identical(triage_server):
    url, root, real = triage_server
    before = snapshot(root / "image_sets")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=page_bench.CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url + "/triage?new=inbox")
            headline = page.get_by_text(re.compile(r"of 8 new photos"))
            headline.wait_for(timeout=60_000)
            pattern = r"(\d+) of 8 new photos .* \((\d+) exact, (\d+) edited\)"
            found = re.search(pattern, headline.inner_text())
            assert found and int(found.group(2)) >= 3, headline.inner_text()
            page.get_by_text("Suggested keeper").first.wait_for(timeout=20_000)
            page.wait_for_function(VISIBLE_LOADED)
            page.screenshot(path=str(OUTPUT / "triage.png"))
            if real:
                page.screenshot(path=str(DOCS / "triage.jpg"), quality=80, type="jpeg")

            page.get_by_role("button", name="Keep suggested in this page").click()
            apply = page.get_by_role("button", name=re.compile(r"Apply \([1-9]\d* groups\)"))
            apply.wait_for(timeout=20_000)
            groups = int(re.search(r"\d+", apply.inner_text()).group())
            assert groups >= 3
            apply.click()
            page.get_by_text(re.compile(r"Move \d+ files of \d+ groups to the quarantine folder\?")
                             ).wait_for(timeout=20_000)
            page.get_by_role("button", name=re.compile(r"^Move \d+ files$")).click()
            done = page.get_by_text(re.compile(r"files moved to the quarantine folder")).first
            done.wait_for(timeout=60_000)
            box = page.get_by_text(re.compile(r"files moved to the quarantine folder")).first.bounding_box()
            assert box and 0 <= box["y"] <= page.viewport_size["height"] - box["height"]  # in view
            moved = list((root / "quarantine").rglob("*.jpg"))
            assert len(moved) >= 3
            assert snapshot(root / "image_sets") != before
            page.screenshot(path=str(OUTPUT / "triage-applied.png"))

            page.get_by_role("button", name="Undo last apply").click()
            page.get_by_text(re.compile(r"files restored to their places")).first.wait_for(timeout=60_000)
            page.get_by_text(re.compile(r"of 8 new photos")).wait_for(timeout=60_000)
        finally:
            browser.close()
    assert snapshot(root / "image_sets") == before
    print(f"\nscreenshots saved in {OUTPUT}")
