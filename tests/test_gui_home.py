"""Simulated-user tests of the key-selection page (`/`)."""

from __future__ import annotations

import nicegui
from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload

from tests.gui_fixtures import (
    current_query,
    demo_root,
    gui_app,
    make_images,
    new_user,
    only,
    png_bytes,
    write_store,
)


async def test_home_lists_sets_thumbnails_and_status(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        await user.should_see("Pick a key image from")
        await user.should_see("Images of animals (12)")
        await user.should_see(marker="thumb:ani001.png")
        await user.should_see(marker="thumb:sub/ani000.png")
        await user.should_see(marker="status:plants")
        await user.should_see("indexed, 7 images")
        await user.should_not_see(marker="weights-banner")


async def test_click_thumbnail_opens_results_with_settings_in_url(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        with user:
            only(user, "join-set").value = "plants"
            only(user, "metric").value = "euclidean"
            only(user, "param").value = "3"
        user.find(marker="thumb:ani004.png").click()
        await user.should_see(marker="results-grid")
        query = current_query(user)
        assert query == {"path": "/similar", "key_set": "animals", "image": "ani004.png", "set": "plants",
                         "metric": "euclidean", "predicate": "knn", "param": "3"}
        await user.should_see("The 3 nearest of 7 images in plants, by Euclidean distance")


async def test_range_predicate_gets_a_default_threshold(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        with user:
            only(user, "predicate").value = "range"
        param = only(user, "param")
        assert -1 <= float(param.value) <= 1
        await user.should_see("Threshold: similarity at least (-1 to 1)")
        with user:
            only(user, "metric").value = "euclidean"
        assert float(param.value) >= 0
        with user:
            only(user, "predicate").value = "knn"
        assert param.value == "10"


async def test_invalid_parameter_is_refused_without_navigation(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        assert "data-invalid" not in only(user, "key-grid").props
        for bad, message in (("abc", "k must be a positive integer"), ("-3", "k must be a positive integer")):
            with user:
                only(user, "param").value = bad
            # The grid is marked, so the browser runs the handler instead of following the link (the
            # simulation cannot run that JavaScript: the click event is triggered directly).
            assert only(user, "key-grid").props["data-invalid"] == "1"
            user.find(marker="thumb:ani001.png").trigger("click")
            await user.should_see(f"Please fix the query setting: {message}")
            assert current_query(user)["path"] == "/"
        with user:
            only(user, "predicate").value = "range"
            only(user, "param").value = "1.5"
        user.find(marker="thumb:ani001.png").trigger("click")
        await user.should_see("a cosine similarity threshold must lie between -1 and 1", retries=5)
        assert current_query(user)["path"] == "/"
        with user:
            only(user, "param").value = "0.5"
        assert "data-invalid" not in only(user, "key-grid").props


async def test_shuffle_pages_and_random_key(tmp_path):
    settings, manager = demo_root(tmp_path, {"big": 60})
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        await user.should_see("Images of big (60)")
        await user.should_see(kind=ui.pagination)
        grid = only(user, "key-grid")
        assert len(grid.default_slot.children) == 48  # one page, not the whole set
        user.find(marker="shuffle").click()
        await user.should_see(marker="key-grid")
        user.find(marker="random-key").click()
        await user.should_see(marker="results-grid")
        query = current_query(user)
        assert query["path"] == "/similar" and query["key_set"] == "big"


async def test_upload_key_image_and_refuse_non_images(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (ctx, user):
        await user.open("/")
        upload = only(user, "upload")
        with user:
            await upload.handle_uploads([SmallFileUpload("notes.png", "image/png", b"this is text")])
        await user.should_see("notes.png is not an image we can read")
        assert current_query(user)["path"] == "/"

        with user:
            await upload.handle_uploads([SmallFileUpload("holiday photo.png", "image/png", png_bytes())])
        await user.should_see(marker="upload-note", retries=20)
        query = current_query(user)
        assert query["path"] == "/similar" and len(query["upload"]) == 32 and "image" not in query
        await user.should_see("Uploaded: holiday photo.png")
        # The upload is not added to any set, and the temporary file is gone.
        assert sorted(p.name for p in settings.image_sets.iterdir()) == ["animals", "plants"]
        assert not any(path.exists() for path in manager.described)
        assert ctx.uploads.get(query["upload"]) is not None


async def test_weights_banner_when_weights_are_missing(tmp_path):
    settings, manager = demo_root(tmp_path)
    settings = settings.with_(weights=tmp_path / "nowhere" / "vgg16.h5")
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        await user.should_see(marker="weights-banner")
        await user.should_see("Descriptors cannot be computed: the network weights are missing")
        await user.should_see(marker="thumb:ani001.png")  # the app still works for indexed sets


async def test_new_set_can_be_browsed_while_it_is_indexed(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        names = make_images(tmp_path, "fresh", 5, prefix="new")
        manager.set("fresh", state="indexing", done=2, total=5)
        await user.should_see(marker="status:fresh", retries=30)
        await user.should_see("indexing 2 of 5")
        with user:
            only(user, "key-set").value = "fresh"
        # Browsing needs no descriptors: the folder's files are shown at once, with a note above them.
        await user.should_see(marker="not-indexed")
        await user.should_see("Images of fresh (5)")
        await user.should_see(marker="thumb:sub/new000.png")
        await user.should_see("fresh is indexing 2 of 5. You can pick a key image already", retries=5)
        grid = only(user, "key-grid")
        manager.set("fresh", state="indexing", done=4, total=5)
        await user.should_see("fresh is indexing 4 of 5", retries=30)
        assert only(user, "key-grid") is grid  # the progress does not redraw the thumbnails
        write_store(settings, "fresh", names)
        manager.set("fresh", state="indexed", count=5)
        await user.should_not_see(marker="not-indexed", retries=30)
        await user.should_see(marker="thumb:new001.png")
        await user.should_see("Images of fresh (5)")


async def test_failed_set_shows_its_images_the_reason_and_still_opens_results(tmp_path):
    settings, manager = demo_root(tmp_path)
    make_images(tmp_path, "broken", 4, prefix="brk")
    reason = "the network weights are missing: " + "/a/rather/long/path/to/the/weights" * 4 + "/vgg16.h5"
    manager.set("broken", state="failed", message=reason)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/?key_set=broken")
        await user.should_see("Images of broken (4)")
        await user.should_see(marker="thumb:brk001.png")
        await user.should_see(f"broken could not be indexed: {reason}")
        user.find(marker="thumb:sub/brk000.png").click()
        await user.should_see("This search cannot run")
        await user.should_see("could not be indexed", kind=ui.label)
        query = current_query(user)
        assert query["path"] == "/similar" and query["image"] == "sub/brk000.png"
        await user.open("/?key_set=broken")
        user.find(marker="random-key").click()  # random keys come from the folder too
        await user.should_see("This search cannot run")
        assert current_query(user)["key_set"] == "broken"


async def test_status_panel_keeps_the_name_on_its_own_line(tmp_path):
    settings, manager = demo_root(tmp_path)
    name = "holidays_2019_" + "x" * 60
    make_images(tmp_path, name, 2)
    reason = "cannot read the weights file " + "/very/long/path" * 12
    manager.set(name, state="failed", message=reason)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        await user.should_see(marker=f"status:{name}")
        (row,) = user.find(marker=f"status:{name}").elements
        (state,) = user.find(marker=f"state:{name}").elements
        (label,) = [e for e in row.descendants() if "status-name" in e.classes]
        assert label.text == name and "ellipsis" in label.classes
        assert state.text == f"failed: {reason}"
        name_line = label.parent_slot.parent
        assert state not in name_line.descendants()  # the message never shares the name's line
        tooltips = [t for t in name_line.descendants() if isinstance(t, ui.tooltip)]
        assert [(t.text, t.props["target"]) for t in tooltips] == [(name, f"#{label.html_id}")]


def caption(user, marker: str) -> str:
    (tile,) = user.find(marker=marker).elements
    return "".join(e.text for e in tile.descendants() if isinstance(e, ui.label))


async def test_thumbnails_show_the_full_relative_name(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        await user.should_see(marker="thumb:sub/ani000.png")
        assert caption(user, "thumb:sub/ani000.png") == "sub/ani000.png"
        assert caption(user, "thumb:ani001.png") == "ani001.png"
        assert only(user, "thumb:sub/ani000.png").props["title"] == "sub/ani000.png"


async def test_upload_is_a_friendly_drop_zone(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (ctx, user):
        await user.open("/")
        upload = only(user, "upload")
        header = upload.slots["header"].template or ""
        assert "Drop an image here or click to choose" in header and "q-uploader-add-trigger" in header
        assert f"up to {ctx.max_upload_bytes // (1024 * 1024)} MB" in header
        assert not upload.props.get("label")  # the header slot replaces "Key image 0.0B / 0.00%"
        # Images by type, plus photo formats browsers often give no image type (HEIC on most systems).
        accepted = upload.props["accept"].split(",")
        assert upload.props["auto-upload"] and "image/*" in accepted and ".heic" in accepted
        assert upload.props["max-file-size"] == ctx.max_upload_bytes


async def test_unknown_address_gets_a_friendly_page(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        client = user.http_client
        response = await client.get("/nope")
        assert response.status_code == 404
        assert "Page not found" in response.text and "Back to the start page" in response.text
        # NiceGUI's own resources and the image route keep their plain answers.
        resource = await client.get(f"/_nicegui/{nicegui.__version__}/components/nope.js")
        assert resource.status_code == 404 and resource.json() == {"detail": 'component "nope.js" not found'}
        image = await client.get("/image", params={"set": "animals", "name": "nope.png"})
        assert image.status_code == 404 and image.headers["content-type"].startswith("text/plain")
        await user.open("/")  # the pages themselves are not shadowed
        await user.should_see("Images of animals (12)")


async def test_two_tabs_keep_their_own_choices(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, first):
        await first.open("/")
        second = new_user(first)
        await second.open("/")
        with first:
            only(first, "key-set").value = "plants"
            only(first, "metric").value = "euclidean"
        await first.should_see("Images of plants (7)")
        await second.should_see("Images of animals (12)")
        assert only(second, "metric").value == "cosine"
        second.find(marker="thumb:ani002.png").click()
        await second.should_see(marker="results-grid")
        assert current_query(second)["metric"] == "cosine"
        await first.should_see("Images of plants (7)")


async def test_query_expansion_switch_is_carried_into_the_results_url(tmp_path):
    settings, manager = demo_root(tmp_path)
    names = make_images(tmp_path, "animals", 12, prefix="ani")
    write_store(settings, "animals", names, descriptor="gap+l2+qe2")
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        await user.should_see(marker="expand")
        await user.should_see("Average the key with its 2 nearest images")
        assert only(user, "expand").value is True and only(user, "expand").enabled
        # plants has no qe: the switch is still shown here, but off and disabled, saying why; the user's
        # choice comes back with a set that uses it.
        with user:
            only(user, "join-set").value = "plants"
        await user.should_see("The set searched does not use it (its descriptor has no qe).")
        assert only(user, "expand").value is False and not only(user, "expand").enabled
        with user:
            only(user, "join-set").value = "animals"
        assert only(user, "expand").value is True and only(user, "expand").enabled
        with user:
            only(user, "expand").value = False
        user.find(marker="thumb:ani004.png").click()
        await user.should_see(marker="results-grid")
        assert current_query(user)["expand"] == "0"
        await user.open("/?set=animals&expand=0")
        assert only(user, "expand").value is False
        await user.open("/?set=animals&expand=abc")  # the start page ignores bad settings
        assert only(user, "expand").value is True


async def test_suggested_threshold_follows_the_expansion_switch(tmp_path):
    settings, manager = demo_root(tmp_path)
    names = make_images(tmp_path, "animals", 12, prefix="ani")
    write_store(settings, "animals", names, descriptor="gap+l2+qe2")
    async with gui_app(settings, manager) as (_, user):
        await user.open("/?set=animals")
        await user.should_see("Average the key with its 2 nearest images: better rankings; each image keeps "
                              "the better of its scores against the key and the expanded key.")
        with user:
            only(user, "predicate").value = "range"
        param = only(user, "param")
        expanded = param.value
        with user:
            only(user, "expand").value = False
        assert param.value != expanded and -1 <= float(param.value) <= 1
        with user:
            only(user, "expand").value = True
        assert param.value == expanded
        with user:
            only(user, "param").value = "0.5"  # typed by the user: kept when the switch moves
            only(user, "expand").value = False
        assert param.value == "0.5"


async def test_expansion_hint_says_when_a_set_is_too_small_for_its_query_expansion(tmp_path):
    settings, manager = demo_root(tmp_path, {"animals": 12})
    names = make_images(tmp_path, "animals", 12, prefix="ani")
    write_store(settings, "animals", names, descriptor="gap+l2+pca128+qe10")
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        await user.should_see("Not used here: animals has too few images (12) for it: it needs at least 50.")
        await user.should_not_see("its descriptor has no qe")


async def test_status_panel_says_how_long_indexing_will_take(tmp_path):
    settings, manager = demo_root(tmp_path)
    manager.set("plants", state="indexing", count=0, done=40, total=1000, seconds_left=1500.0)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        await user.should_see("indexing 40 of 1,000, about 25 min left")
