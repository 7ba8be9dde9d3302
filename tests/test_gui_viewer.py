"""Simulated-user tests of the full-screen viewer (gui/widgets/viewer.py): one image beside the key, pairs
side by side (the join page's Compare view), file information, zoom, keyboard, and Back closing it."""

from __future__ import annotations

import re

from nicegui import ui
from nicegui.testing.user_interaction import UserInteraction

from simages.gui.urls.image import full_url
from simages.gui.widgets.image_info import describe_info, format_bytes, image_info
from simages.gui.widgets.viewer import Viewer, ViewItem, ViewPair
from tests.gui_fixtures import current_query, demo_root, gui_app, only

KEY = "/similar?key_set=animals&image=ani001.png&set=animals"


def press(user, key: str) -> None:
    args = {"action": "keydown", "repeat": False, "altKey": False, "ctrlKey": False, "metaKey": False,
            "shiftKey": False, "key": key, "code": key, "location": 0}
    user.find(kind=ui.keyboard).trigger("key", args)


def record_history(monkeypatch) -> list[str]:
    """The history calls the page makes in the browser (pushState, back, replaceState)."""
    calls: list[str] = []
    original = ui.run_javascript

    def recording(code: str, *args, **kwargs):
        match = re.search(r"history\.(pushState|back|replaceState)", code)
        if match:
            calls.append(match.group(1))
        return original(code, *args, **kwargs)

    monkeypatch.setattr(ui, "run_javascript", recording)
    return calls


def viewer_sources(user) -> list[str]:
    images = sorted(user.find(marker="viewer-image").elements, key=lambda e: e.id)
    return [e.props["src"] for e in images]


async def test_result_opens_beside_the_key_with_file_information(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (ctx, user):
        def full_url(set_name: str, image: str) -> str:  # the URL of this version of the file
            return ctx.thumbnails.url(set_name, image, full=True)

        await user.open(KEY)
        await user.should_see(marker="results-grid")
        dialog = user.find(kind=ui.dialog).elements.pop()
        # A plain click on a result (not a navigation: the tile is a link whose plain click opens the viewer).
        user.find(marker="result:ani002.png").trigger("click")
        assert dialog.value
        assert only(user, "viewer-title").text == "ani002.png"
        assert only(user, "viewer-caption").text.startswith("similarity ")
        # Side by side: the key on the left, the result on the right, each with its name and file facts.
        assert viewer_sources(user) == [full_url("animals", "ani001.png"), full_url("animals", "ani002.png")]
        names = [e.text for e in sorted(user.find(marker="viewer-name").elements, key=lambda e: e.id)]
        assert names == ["animals / ani001.png", "ani002.png"]
        infos = [e.text for e in sorted(user.find(marker="viewer-info").elements, key=lambda e: e.id)]
        size = (settings.image_sets / "animals" / "ani002.png").stat().st_size
        # width x height, bytes, date
        assert infos[1].startswith(f"60 × 40 pixels · {format_bytes(size)} · 20")
        # S switches the key off and on again.
        press(user, "s")
        assert viewer_sources(user) == [full_url("animals", "ani002.png")]
        press(user, "s")
        assert len(viewer_sources(user)) == 2
        # "Use as new key" is a real link to the result's own search.
        link = only(user, "make-key")
        assert link.visible and "image=ani002.png" in link.props["href"]
        assert "key_set=animals" in link.props["href"]


async def test_zoom_steps_and_fit(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see(marker="results-grid")
        user.find(marker="result:ani002.png").trigger("click")
        press(user, "s")  # one image: its style is what we read

        def style() -> dict:
            (image,) = user.find(marker="viewer-image").elements
            return image.style

        assert "calc(100vh" in style()["max-height"]  # fit the window
        press(user, "+")
        assert style()["width"] == "60px"  # 100 %: one screen pixel per image pixel (the PNGs are 60 wide)
        user.find(marker="viewer-zoom-in").click()
        assert style()["width"] == "120px"
        assert only(user, "viewer-fit").text == "200 %"
        press(user, "-")
        press(user, "-")
        assert style()["width"] == "30px"
        press(user, "0")
        assert "width" not in style() and only(user, "viewer-fit").text == "Fit"
        user.find(marker="viewer-image").trigger("click")  # a click on the image toggles 100 % / fit
        assert style()["width"] == "60px"
        press(user, "ArrowRight")  # zoom stays while stepping
        assert only(user, "viewer-fit").text == "100 %"


async def test_back_closes_the_viewer_and_closing_pops_its_history_entry(tmp_path, monkeypatch):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(KEY)
        await user.should_see(marker="results-grid")
        calls = record_history(monkeypatch)
        dialog = user.find(kind=ui.dialog).elements.pop()
        user.find(marker="result:ani002.png").trigger("click")
        assert calls == ["pushState"]  # opening pushes one entry...
        # ... and the browser's Back (a popstate, sent as `simages_back`) closes the viewer, on the same page.
        UserInteraction(user, {user.client.layout}, None).trigger("simages_back")
        assert not dialog.value
        assert calls == ["pushState"]  # Back already left the entry: nothing more to pop
        assert current_query(user)["path"] == "/similar"
        # Closed with Esc instead, the viewer pops its own entry, so Back then leaves the page as expected.
        user.find(marker="result:ani002.png").trigger("click")
        press(user, "Escape")
        assert not dialog.value
        assert calls == ["pushState", "pushState", "back"]


async def test_pairs_side_by_side_for_a_compare_view(tmp_path):
    """The join page's Compare view: pairs of images with their score, left/right steps through pairs."""
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (ctx, user):

        @ui.page("/compare-test")
        def compare() -> None:
            viewer = Viewer(ctx)

            def item(set_name: str, image: str) -> ViewItem:
                return ViewItem(f"{set_name} / {image}", full_url(set_name, image), set_name=set_name,
                                image=image)

            pairs = [
                ViewPair(item("animals", "ani001.png"), item("plants", "pla001.png"), "similarity 0.912"),
                ViewPair(item("animals", "ani002.png"), item("plants", "pla002.png"), "similarity 0.870"),
            ]
            ui.button("compare", on_click=lambda: viewer.open(pairs, 0)).mark("open")

        await user.open("/compare-test")
        user.find(marker="open").click()
        assert only(user, "viewer-title").text == "animals / ani001.png  ↔  plants / pla001.png"
        assert only(user, "viewer-caption").text == "similarity 0.912"
        assert viewer_sources(user) == [full_url("animals", "ani001.png"), full_url("plants", "pla001.png")]
        assert all("pixels" in e.text for e in user.find(marker="viewer-info").elements)
        await user.should_not_see(marker="viewer-beside")
        await user.should_not_see(marker="make-key")
        press(user, "ArrowRight")
        assert only(user, "viewer-caption").text == "similarity 0.870"
        press(user, "ArrowRight")  # wraps around
        assert only(user, "viewer-caption").text == "similarity 0.912"


def test_image_info_reads_pixel_size_file_size_and_date(tmp_path):
    settings, _ = demo_root(tmp_path)
    info = image_info(settings, "animals", "sub/ani000.png")
    assert info is not None and (info.width, info.height) == (60, 40)
    assert info.size_bytes == (settings.image_sets / "animals" / "sub" / "ani000.png").stat().st_size
    assert re.fullmatch(r"60 × 40 pixels · \d+ (bytes|KB) · \d{4}-\d\d-\d\d \d\d:\d\d", describe_info(info))
    assert image_info(settings, "animals", "../plants/pla001.png") is None  # names stay inside their set
    assert image_info(settings, "animals", "gone.png") is None
    assert format_bytes(2_400_000) == "2.4 MB" and format_bytes(34_200) == "34 KB"


async def test_an_uploaded_key_shows_the_facts_of_its_original(tmp_path):
    from nicegui.elements.upload_files import SmallFileUpload

    from tests.gui_fixtures import png_bytes

    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        data = png_bytes(700, 90)
        with user:
            await only(user, "upload").handle_uploads([SmallFileUpload("big.png", "image/png", data)])
        await user.should_see(marker="upload-note", retries=20)
        user.find(marker="key-link").trigger("click")
        assert only(user, "viewer-title").text == "Uploaded: big.png"
        info = only(user, "viewer-info").text
        assert info == f"700 × 700 pixels · {format_bytes(len(data))}"  # the original, not the 512-px copy
        press(user, "+")
        (image,) = user.find(marker="viewer-image").elements
        assert "width" not in image.style  # 100 % of the original cannot be drawn from the small copy
