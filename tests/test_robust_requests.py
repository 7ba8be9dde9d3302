"""Hostile requests against a real running app: nothing outside image_sets/ is ever read or written.

A secret file with a unique marker lies beside image_sets/ (and a hidden one inside a set); symlinks lead
to it as an image and as a set. Every response to a hostile URL is checked for the marker, for a short
readable message and for the absence of a stack trace. Requests go out byte for byte (http.client), so
`..`, `%2e%2e%2f` and `%00` reach the server as written instead of being normalised by the client.
"""

from __future__ import annotations

import http.client
import io
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from nicegui.elements.upload_files import SmallFileUpload
from PIL import Image

from simages.bench.app_server import AppServer, wait_for
from tests.gui_fixtures import demo_root, gui_app, make_images, png_bytes

MARKER = f"SECRET-{uuid.uuid4().hex}"


def jpeg_with_marker(marker: str) -> bytes:
    """A valid JPEG carrying the marker in a comment, so serving its raw bytes would show the marker."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(buffer, "JPEG", comment=marker.encode())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("robust")
    names = make_images(root, "demo", 6)
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(MARKER)
    (outside / "secret.jpg").write_bytes(jpeg_with_marker(MARKER))
    demo = root / "image_sets" / "demo"
    os.symlink(outside / "secret.jpg", demo / "leak.jpg")  # an image name leading outside
    os.symlink(root, root / "image_sets" / "escape")  # a set linked to the folder holding image_sets/
    os.symlink(demo, root / "image_sets" / "alias")  # a symlinked set that stays inside: allowed
    (demo / ".ssh").mkdir()
    (demo / ".ssh" / "id_rsa.jpg").write_bytes(jpeg_with_marker(MARKER))
    with AppServer("tests.gui_serve", root) as server:
        wait_for(lambda: (root / "features" / "demo.npz").is_file(), 60, "indexing of the demo set")
        yield server, root, names


def get(url: str, target: str, method: str = "GET", body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(status, content type, body text) of a request whose target is sent exactly as written."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read().decode("latin-1")
    finally:
        connection.close()


HOSTILE_IMAGE_QUERIES = [
    "set=demo&name=..",
    "set=demo&name=../../outside/secret.txt",
    "set=demo&name=../../../../../../etc/passwd&size=full",
    "set=demo&name=%2e%2e%2f%2e%2e%2foutside%2fsecret.jpg&size=full",
    "set=demo&name=..%2F..%2Foutside%2Fsecret.jpg&size=full",
    "set=demo&name=%252e%252e%252f%252e%252e%252foutside%252fsecret.jpg&size=full",  # double-encoded
    "set=demo&name=..%5c..%5coutside%5csecret.jpg&size=full",
    "set=demo&name=sub%5c..%5c..%5c..%5coutside%5csecret.jpg&size=full",
    "set=demo&name=leak.jpg%00.png&size=full",
    "set=demo%00&name=leak.jpg",
    "set=demo&name=/etc/passwd&size=full",
    "set=demo&name=%2Fetc%2Fpasswd&size=full",
    "set={root}%2Foutside&name=secret.jpg&size=full",
    "set=demo&name={root}/outside/secret.jpg&size=full",
    "set=..&name=outside/secret.jpg&size=full",
    "set=..%2Foutside&name=secret.jpg&size=full",
    "set=.&name=..%2Foutside%2Fsecret.jpg&size=full",
    "set=demo&name=.ssh/id_rsa.jpg&size=full",
    "set=demo&name=.ssh%2Fid_rsa.jpg",
    "set=demo&name=leak.jpg",  # symlink inside the set pointing outside
    "set=demo&name=leak.jpg&size=full",
    "set=escape&name=outside/secret.jpg",  # a set linked to the folder holding image_sets/: refused
    "set=escape&name=outside/secret.jpg&size=full",
    "set=escape&name=outside/secret.txt&size=full",
    "set=alias&name=leak.jpg&size=full",
    "set=demo&name=img001.png&size=..%2F..%2Foutside%2Fsecret.txt",
    "upload=..%2F..%2Foutside%2Fsecret.txt",
    "upload=%00",
]


@pytest.mark.parametrize("query", HOSTILE_IMAGE_QUERIES)
def test_image_route_refuses_hostile_names_with_a_short_message(site, query):
    server, root, _ = site
    status, kind, body = get(server.url, "/image?" + query.format(root=root))
    assert 400 <= status < 500, (query, status, body)
    assert kind.startswith("text/plain") and 0 < len(body) < 200 and body[0].isalpha()
    assert MARKER not in body and "Traceback" not in body


@pytest.mark.parametrize("target", [
    "/image/../../outside/secret.txt",
    "/../outside/secret.txt",
    "/%2e%2e/%2e%2e/outside/secret.txt",
    "/_nicegui/3.18.0/static/../../../../outside/secret.txt",
    "/_nicegui/3.18.0/static/..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/_nicegui/3.18.0/static/%2e%2e%2f%2e%2e%2f%2e%2e%2fnicegui.py",
])
def test_other_paths_never_reach_files_outside(site, target):
    server, _, _ = site
    status, _, body = get(server.url, target)
    assert 400 <= status < 500, (target, status)
    assert MARKER not in body and "Traceback" not in body and "root:x:0" not in body


def test_real_and_symlinked_sets_inside_are_still_served(site):
    server, _, names = site
    for query in (f"set=demo&name={names[1]}", f"set=alias&name={names[1]}", f"set=demo&name={names[0]}"):
        status, kind, _ = get(server.url, "/image?" + query)
        assert (status, kind) == (200, "image/jpeg"), query


FRIENDLY = [
    ("/similar?set=demo&image=..%2F..%2Foutside%2Fsecret.jpg", "This link does not describe a search"),
    ("/similar?set=demo&key_set=demo&image=%2e%2e%2f%2e%2e%2foutside%2fsecret.jpg",
     "This link does not describe a search"),
    ("/similar?set=demo&image={root}/outside/secret.jpg", "This link does not describe a search"),
    ("/similar?set=demo&image=.ssh/id_rsa.jpg", "This link does not describe a search"),
    ("/similar?set=demo&image=img001.png%00", "This link does not describe a search"),
    ("/similar?set=..&image=x.png", "This link does not describe a search"),
    # On POSIX a backslash is an ordinary character of a folder name: just a set that does not exist.
    ("/similar?set=demo%5c..&image=x.png", "No such image set"),
    ("/similar?set=demo&upload=..%2F..%2Foutside%2Fsecret.txt", "This link does not describe a search"),
    ("/similar?set=demo&upload=" + "0" * 32, "This uploaded image is no longer available"),
    ("/similar?set=nowhere&image=img001.png", "No such image set"),
    ("/similar?set=demo&image=missing.png", "No such image"),
    ("/similar?set=demo&image=leak.jpg", "No such image"),
    ("/similar?set=demo&key_set=escape&image=secret.jpg", "No such image"),
    ("/similar?set=demo&image=img001.png&metric=..%2F..&predicate=%00",
     "This link does not describe a search"),
    ("/similar?set=demo&image=img001.png&param=1e999", "This search cannot run"),
    ("/similar?set=demo&image=img001.png&predicate=range&param=nan", "This search cannot run"),
    ("/similar", "the link names no set to search"),
    ("/?key_set=..%2F..%2Foutside&set=%00&metric=%2Fetc%2Fpasswd", "Pick a key image from"),
    ("/?key_set=escape&set=escape", "Pick a key image from"),
]


def check_page(server: AppServer, root: Path, target: str, expected: str) -> None:
    status, kind, html = get(server.url, target.format(root=root))
    assert status == 200 and kind.startswith("text/html"), (target, status)
    assert expected in html, target
    assert MARKER not in html and "Traceback" not in html and "Server error" not in html


@pytest.mark.parametrize(("target", "expected"), FRIENDLY)
def test_pages_answer_hostile_links_with_a_friendly_message(site, target, expected):
    server, root, _ = site
    check_page(server, root, target, expected)


def test_symlinked_set_holding_image_sets_is_no_such_set_on_the_results_page(site):
    # A link to a folder of photos anywhere is a set (tests/test_naming.py); a link to the folder that
    # holds image_sets/ itself is refused, and the page says why.
    server, root, _ = site
    check_page(server, root, "/similar?set=escape&key_set=demo&image=img001.png",
               "holding image_sets/ itself")


def test_results_never_list_images_leading_outside(site):
    server, _, names = site
    _, _, html = get(server.url, f"/similar?set=demo&image={names[1]}&param=50")
    assert "most similar of" in html and names[2] in html
    assert "leak.jpg" not in html and "id_rsa" not in html


HOSTILE_UPLOADS = [("../../../escaped.png", "image"), ("{root}/image_sets/demo/put.png", "image"),
                   ("..\\..\\escaped.png", "text"), ("x.p\0ng", "text")]


def multipart(filename: str, data: bytes) -> bytes:
    """One file in a multipart/form-data body (boundary B), its file name sent exactly as given."""
    return (f'--B\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: image/png\r\n\r\n").encode() + data + b"\r\n--B--\r\n"


def upload_body(filename: str, kind: str) -> bytes:
    return multipart(filename, png_bytes(24, 90) if kind == "image" else b"not an image")


def placed_files(root: Path, before: set[Path]) -> set[str]:
    """Files and folders created under `root` since `before`, less the app's own derived data in features/
    (the background jobs after indexing keep maps, caches and locks there while a test runs)."""
    created = {p for p in root.rglob("*") if ".thumbnails" not in p.parts} - before
    names = {p.relative_to(root).as_posix() for p in created}
    return {name for name in names if name != "features" and not name.startswith("features/")}


def test_upload_post_with_hostile_file_names_is_answered_without_placing_a_file(site):
    """The upload endpoint of the real server is posted to directly, as a script would, skipping the
    browser's checks: each POST is answered (no server error, no traceback) and, once answered, the
    request itself (the form parsed, the files spooled) has placed no file. What the page's handler does
    afterwards runs as a task after the answer: the next test awaits it."""
    server, root, _ = site
    before = {p for p in root.rglob("*") if ".thumbnails" not in p.parts}
    parent_before = set(root.parent.iterdir())
    _, _, html = get(server.url, "/")
    client_id = html.split("'client_id': '", 1)[1].split("'", 1)[0]
    upload_path = html.split('"url":"/_nicegui/client/', 1)[1].split('"', 1)[0]
    target = "/_nicegui/client/" + upload_path
    assert client_id in target
    for filename, kind in HOSTILE_UPLOADS:
        status, _, text = get(server.url, target, "POST", upload_body(filename.format(root=root), kind),
                              {"Content-Type": "multipart/form-data; boundary=B"})
        assert status < 500 and "Traceback" not in text, (filename, status, text)
    assert placed_files(root, before) == set()
    assert not (root.parent / "escaped.png").exists() and set(root.parent.iterdir()) - parent_before == set()


@pytest.mark.parametrize(("filename", "kind"), HOSTILE_UPLOADS)
async def test_upload_post_handler_with_hostile_file_names_places_no_file(tmp_path, filename, kind):
    """The same POSTs through the app's own HTTP route, and then the page's upload handler awaited by what
    it shows: an image becomes the key of a results page, anything else gets the page's message."""
    settings, manager = demo_root(tmp_path / "root")
    root = settings.root
    before = {p for p in tmp_path.rglob("*") if ".thumbnails" not in p.parts}
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        (upload,) = user.find(marker="upload").elements
        response = await user.http_client.post(
            upload.props["url"], content=upload_body(filename.format(root=root), kind),
            headers={"Content-Type": "multipart/form-data; boundary=B"})
        assert response.status_code == 200 and "Traceback" not in response.text
        if kind == "image":
            await user.should_see(marker="upload-note", retries=300)  # the handler ended on the results page
            (used,) = manager.described
            assert not used.exists() and not used.is_relative_to(root)
        else:
            await user.should_see("is not an image we can read", retries=300)
            assert manager.described == []
    assert placed_files(tmp_path, before) == set()
    assert not (tmp_path.parent / "escaped.png").exists()


async def test_oversize_and_non_image_uploads_get_clear_messages(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (ctx, user):
        await user.open("/")
        (upload,) = user.find(marker="upload").elements
        # The browser refuses big files itself (Quasar's max-file-size) and the page says so ...
        assert upload.props["max-file-size"] == ctx.max_upload_bytes
        big_file = {"why": "max-file-size", "name": "panorama.tif", "size": 40 * 2**20, "type": "image/tiff"}
        user.find(marker="upload").trigger("rejected", [big_file])
        await user.should_see("panorama.tif is too large (40.0 MB): the limit is 25 MB.")
        # A small file of the wrong kind is told what is wrong with it, not that it is too large.
        notes = {"why": "accept", "name": "notes.txt", "size": 2048, "type": "text/plain"}
        user.find(marker="upload").trigger("rejected", [notes])
        await user.should_see("notes.txt is not an image file (text/plain)")
        # ... and the server checks again, for a POST that never went through the browser.
        big = b"\xff\xd8" + bytes(ctx.max_upload_bytes)
        with user:
            await upload.handle_uploads([SmallFileUpload("huge.jpg", "image/jpeg", big)])
        await user.should_see("huge.jpg is not an image we can read: the file is larger than the 25 MB limit")
        with user:
            await upload.handle_uploads([SmallFileUpload("report.pdf", "application/pdf", b"%PDF-1.4 text")])
        await user.should_see("report.pdf is not an image we can read")
        assert manager.described == []  # neither reached the network


@pytest.mark.parametrize("filename", ["../../../escaped.png", "/tmp/escaped-abs.png", "..\\..\\escaped.png",
                                      "photo.p\0ng", "a/b/../../../escaped.png", ""])
async def test_upload_file_names_cannot_place_files(tmp_path, filename):
    settings, manager = demo_root(tmp_path)
    before = {p for p in tmp_path.rglob("*")}
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        (upload,) = user.find(marker="upload").elements
        with user:
            await upload.handle_uploads([SmallFileUpload(filename, "image/png", png_bytes())])
        await user.should_see(marker="upload-note", retries=20)
        (used,) = manager.described
        assert used.parent.name.startswith("simages-upload-") and not used.exists()
        assert not used.is_relative_to(settings.root)
    created = {p for p in tmp_path.rglob("*") if ".thumbnails" not in p.parts} - before
    assert created == set()
    assert not any(Path(p).exists() for p in ("/tmp/escaped-abs.png", tmp_path.parent / "escaped.png"))

