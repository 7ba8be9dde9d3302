"""Every download of the app is saved as a file: "Groups (JSON)" on the join page replaced the page with
raw JSON, because its route sent no `Content-Disposition`."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlparse

from nicegui import core

from tests.gui_fixtures import demo_root, gui_app, only

# A route whose path names a file type is a download; pages and /image (shown in the page) are not.
_DOWNLOAD = re.compile(r"^/[\w-]+\.\w+$")


async def test_every_download_route_is_an_attachment(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=animals&b=animals&predicate=range&param=0.96")
        await user.should_see(marker="pairs-view", retries=50)
        links = {}
        for marker in ("csv-link", "json-link"):
            link = only(user, marker)
            assert link.props.get("download") is True  # the browser saves it even without the header
            links[urlparse(link.props["href"]).path] = link.props["href"]
        ours = {route.path for route in core.app.routes
                if _DOWNLOAD.match(getattr(route, "path", "")) and route.path != "/favicon.ico"}
        # Each download route is linked from the page, so each is checked below.
        assert ours == set(links) == {"/join.csv", "/join.json"}
        expected = {"/join.csv": "join-animals-animals.csv", "/join.json": "join-animals-animals-groups.json"}
        for path, href in links.items():
            response = await user.http_client.get(href)
            assert response.status_code == 200
            disposition = response.headers["content-disposition"]
            assert disposition.startswith("attachment;") and f'filename="{expected[path]}"' in disposition


async def test_a_download_keeps_a_set_name_beyond_latin_1(tmp_path):
    settings, manager = demo_root(tmp_path, {"写真": 6})
    async with gui_app(settings, manager) as (_, user):
        response = await user.http_client.get("/join.json?a=写真&b=写真&predicate=range&param=0.9")
        assert response.status_code == 200
        disposition = response.headers["content-disposition"]
        assert 'filename="join-__-__-groups.json"' in disposition  # the Latin-1 fallback
        encoded = disposition.split("filename*=UTF-8''")[1]
        assert unquote(encoded) == "join-写真-写真-groups.json"
