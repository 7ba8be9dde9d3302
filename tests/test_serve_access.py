"""Only the owner acts: the token needed when the app is served beyond 127.0.0.1, cross-site requests
refused, and `serve --read-only`. A real server on 127.0.0.2 (another loopback address) is asked with
requests lacking or forging the token, and with a forged Origin on the event channel the actions use."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from simages.bench.app_server import REPO
from simages.gui.access import AccessGuard, cookie_name
from tests.gui_fixtures import FakeManager, gui_app
from tests.test_triage_cli import triage_root


async def _ok_app(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _client(token: str | None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(AccessGuard(_ok_app, token=token))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.2:8123")


async def test_cross_site_requests_are_refused_even_without_a_token() -> None:
    async with _client(None) as client:
        assert (await client.get("/triage")).status_code == 200
        assert (await client.get("/", headers={"origin": "http://127.0.0.2:8123"})).status_code == 200
        assert (await client.get("/", headers={"origin": "http://evil.example"})).status_code == 403
        assert (await client.get("/", headers={"origin": "null"})).status_code == 403
        assert (await client.post("/x", headers={"referer": "http://evil.example/page"})).status_code == 403
        same = await client.post("/x", headers={"referer": "http://127.0.0.2:8123/triage"})
        assert same.status_code == 200


async def test_the_token_is_needed_once_then_the_cookie_carries_it() -> None:
    token = "s3cret-token"
    async with _client(token) as client:
        refused = await client.get("/triage?new=a")
        assert refused.status_code == 403 and "?token=" in refused.text
        assert (await client.get("/triage?new=a&token=forged")).status_code == 403
        first = await client.get("/triage?new=caf%E9&token=s3cret-token&against=b")
        assert first.status_code == 303
        assert first.headers["location"] == "/triage?new=caf%E9&against=b"  # bytes kept, token gone
        assert "HttpOnly" in first.headers["set-cookie"] and "SameSite=Strict" in first.headers["set-cookie"]
    name = cookie_name(8123)
    async with _client(token) as client:  # a fresh client: no cookie jar from the redirect
        assert (await client.get("/triage", headers={"cookie": f"{name}={token}"})).status_code == 200
        assert (await client.get("/triage", headers={"cookie": f"{name}=forged"})).status_code == 403
        other_port = await client.get("/triage", headers={"cookie": f"{cookie_name(9999)}={token}"})
        assert other_port.status_code == 403
        # With the token, a cross-site request is still refused.
        forged = await client.post("/x", headers={"cookie": f"{name}={token}", "origin": "http://evil.example"})
        assert forged.status_code == 403


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _handshake(host: str, port: int, headers: dict[str, str]) -> str:
    """The status line of a WebSocket handshake on NiceGUI's event channel (where every click arrives)."""
    lines = ["GET /_nicegui_ws/socket.io/?EIO=4&transport=websocket HTTP/1.1", f"Host: {host}:{port}",
             "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="] + [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return sock.recv(4096).decode("latin-1").split("\r\n")[0]


@pytest.fixture
def shared_server(tmp_path: Path):
    """`simages serve --host 127.0.0.2` on an empty root; yields (base URL, token)."""
    (tmp_path / "image_sets").mkdir()
    host, port = "127.0.0.2", _free_port("127.0.0.2")
    log = tmp_path / "serve.log"
    skipped = ("PYTEST_", "NICEGUI_", "SIMAGES_WEIGHTS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skipped)}
    env["PYTHONPATH"] = str(REPO)
    with log.open("wb") as out:
        command = [sys.executable, "-m", "simages", "--root", str(tmp_path), "serve", "--host", host,
                   "--port", str(port)]
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        token = None
        deadline = time.monotonic() + 90
        while token is None and time.monotonic() < deadline:
            found = re.search(rf"http://{host}:{port}/\?token=([\w-]+)", log.read_text(errors="replace"))
            token = found.group(1) if found else None
            if process.poll() is not None:
                raise RuntimeError(log.read_text())
            time.sleep(0.2)
        assert token, log.read_text()
        yield f"http://{host}:{port}", token
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_server_on_another_address_needs_its_token_for_pages_images_and_actions(shared_server) -> None:
    base, token = shared_server
    host, port = base.removeprefix("http://").split(":")
    with httpx.Client(base_url=base, timeout=20) as client:
        assert client.get("/").status_code == 403
        assert client.get("/triage").status_code == 403
        assert client.get("/image?set=a&name=b.jpg").status_code == 403
        assert client.get(f"/?token={token[:-1]}x").status_code == 403
        first = client.get(f"/triage?token={token}")
        assert first.status_code == 303 and first.headers["location"] == "/triage"
        page = client.get("/triage")  # the cookie from the redirect
        assert page.status_code == 200 and "Already in my collection" in page.text
    cookie = f"{cookie_name(int(port))}={token}"
    assert " 403 " in _handshake(host, int(port), {})
    assert " 403 " in _handshake(host, int(port), {"Cookie": f"{cookie_name(int(port))}=forged"})
    assert " 403 " in _handshake(host, int(port), {"Cookie": cookie, "Origin": "http://evil.example"})
    assert " 403 " not in _handshake(host, int(port), {"Cookie": cookie, "Origin": base})


async def test_read_only_serves_the_triage_answer_without_any_action(tmp_path: Path) -> None:
    settings = triage_root(tmp_path)
    manager = FakeManager(settings)
    for name in ("coll", "new"):
        manager.set(name, state="indexed")
    async with gui_app(settings, manager) as (ctx, user):
        ctx.read_only = True
        await user.open("/triage?new=new")
        await user.should_see("3 of 5 new photos are already in your collection", retries=50)
        await user.should_see(marker="triage-read-only")
        await user.should_see(marker="triage-group")
        for marker in ("triage-apply", "triage-undo", "group-mark", "mark-page", "not-duplicate", "keep-both",
                       "keep-this"):
            await user.should_not_see(marker=marker)
