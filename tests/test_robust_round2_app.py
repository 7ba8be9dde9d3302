"""Robustness round 2, the app: any file name through pages and image URLs, thumbnails that follow the file,
and images deleted under an open page. A real server process (the real IndexManager with the stand-in
network) answers requests sent byte for byte."""

from __future__ import annotations

import http.client
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import imagegen
import pytest

from simages.bench.app_server import AppServer, wait_for
from simages.gui.routes.thumbnails import ThumbnailCache
from simages.gui.urls.image import thumb_url
from simages.gui.urls.query import QueryState, results_url
from simages.naming import url_quote, url_unquote
from simages.settings import Settings

SETS = ("1:1 crops", imagegen.non_utf8_name("f", "te"))


def get(url: str, target: str) -> tuple[int, str, bytes, dict[str, str]]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers.get("content-type", ""), response.read(), headers
    finally:
        connection.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("round2")
    for set_name in SETS:
        for seed, name in enumerate(imagegen.ODD_NAMES):
            imagegen.save(imagegen.photo(seed), root / "image_sets" / set_name / name, format="PNG")
    with AppServer("tests.gui_serve", root) as server:
        for set_name in SETS:
            store = root / "features" / f"{set_name}.npz"
            wait_for(lambda s=store: s.is_file(), 90, f"indexing {set_name!r}")
        yield server, root


@pytest.mark.parametrize("name", [url_quote(n) for n in imagegen.ODD_NAMES])
@pytest.mark.parametrize("set_name", SETS)
def test_every_image_name_is_served_and_searchable(site, set_name: str, name: str) -> None:
    server, _ = site
    image = url_unquote(name)
    status, kind, body, _ = get(server.url, thumb_url(set_name, image))
    assert (status, kind) == (200, "image/jpeg"), body[:200]
    status, kind, body, _ = get(server.url, results_url(QueryState(set_name, key_set=set_name, image=image)))
    assert status == 200 and kind.startswith("text/html")
    assert b"Traceback" not in body and b"No such image" not in body and b"does not describe" not in body


def test_home_page_lists_sets_with_any_name(site) -> None:
    server, _ = site
    for set_name in SETS:
        status, _, body, _ = get(server.url, "/?" + f"key_set={url_quote(set_name)}")
        assert status == 200 and b"Traceback" not in body


def test_url_quoting_round_trips_every_name() -> None:
    for name in (*imagegen.ODD_NAMES, *SETS, "plain.jpg", "ünï cödé.png"):
        assert url_unquote(url_quote(name)) == name
        assert url_quote(name).isascii() and "&" not in url_quote(name) and "/" not in url_quote(name)


# --- 8. Thumbnails follow the file; deleted images are marked --------------------------------------------


def test_a_replaced_file_gets_a_new_thumbnail_url_and_picture(site) -> None:
    server, root = site
    settings = Settings(root=root)
    thumbnails = ThumbnailCache(settings)
    set_name, name = SETS[0], "C:/x.jpg"
    path = root / "image_sets" / set_name / "C:" / "x.jpg"
    before_url = thumbnails.url(set_name, name)
    _, _, before, headers = get(server.url, before_url)
    assert "immutable" in headers["cache-control"]
    stat = path.stat()
    imagegen.save(imagegen.photo(77), path, format="PNG")  # same name, same size or not, same mtime
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after_url = thumbnails.url(set_name, name)
    assert after_url != before_url
    status, _, after, _ = get(server.url, after_url)
    assert status == 200 and after != before
    # The old URL, still in an open page, never serves the new picture as cacheable under the old version.
    _, _, _, headers = get(server.url, before_url)
    assert "immutable" not in headers["cache-control"]


def test_an_image_deleted_under_an_open_page_is_marked_deleted(site, tmp_path: Path) -> None:
    server, root = site
    settings = Settings(root=root)
    set_name, name = SETS[0], "-dash first.jpg"
    source = root / "image_sets" / set_name / name
    url = ThumbnailCache(settings).url(set_name, name)
    backup = shutil.copy2(source, tmp_path / "backup")
    source.unlink()
    try:
        for target in (url, url + "&size=full", ThumbnailCache(settings).url(set_name, name)):
            status, kind, body, headers = get(server.url, target)
            assert status == 404 and kind.startswith("image/svg+xml") and b"image deleted" in body
            assert headers["cache-control"] == "no-store"
    finally:
        shutil.move(backup, source)


@pytest.mark.parametrize("param", ["1e308", "1.7976931348623157e308", "1e-320"])
def test_absurd_range_thresholds_get_an_answer_page(site, param: str) -> None:
    server, _ = site
    state = QueryState(SETS[0], key_set=SETS[0], image=imagegen.ODD_NAMES[0], metric="euclidean",
                       predicate="range", param=param)
    status, kind, body, _ = get(server.url, results_url(state))
    assert status == 200 and kind.startswith("text/html") and b"Traceback" not in body
    assert b"This search cannot run" not in body


# --- Also: an upload the browser refuses is told why --------------------------------------------------


@pytest.mark.parametrize(("entry", "says", "never"), [
    ({"why": "accept", "name": "notes.txt", "size": 2048, "type": "text/plain"}, "is not an image file",
     "too large"),
    ({"why": "accept", "name": "x", "size": 10, "type": ""}, "x is not an image file:", "too large"),
    ({"why": "max-file-size", "name": "big.tif", "size": 30 * 2**20}, "big.tif is too large (30.0 MB)",
     "not an image"),
    ({"why": "max-files", "name": "b.jpg"}, "refused by the browser (max-files)", "too large"),
    ("garbage from a client", "upload one image file of at most 25 MB", "Traceback"),
])
def test_upload_refusals_say_what_is_wrong(entry, says: str, never: str) -> None:
    from simages.gui.uploads.store import rejection_message

    message = rejection_message([entry], 25 * 2**20)
    assert says in message and never not in message


@pytest.mark.parametrize("set_name", SETS)
def test_join_page_and_csv_work_for_sets_with_any_name(site, set_name: str) -> None:
    from simages.gui.urls.join import JoinState, csv_url, join_url

    server, _ = site
    state = JoinState(a=set_name, b=set_name, predicate="knn", param="1")
    status, kind, body, _ = get(server.url, join_url(state))
    assert status == 200 and kind.startswith("text/html") and b"Traceback" not in body
    status, kind, body, _ = get(server.url, csv_url(state))
    assert status == 200, body[:300]
    rows = body.decode("utf-8", "surrogateescape").splitlines()
    assert rows[0] == "a,b,score" and len(rows) > len(imagegen.ODD_NAMES)
