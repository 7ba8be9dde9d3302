"""The first upload after the app starts: the network loads in the background from the start (without
blocking the pages), and while an upload is described the page shows a spinner and, while the network is
still loading, why it takes a while. It took over 15 s behind a bare "Describing ..." line."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

from nicegui.elements.upload_files import SmallFileUpload

from simages.extraction.network import TinyNetwork
from simages.jobs import manager as manager_module
from simages.jobs.manager import IndexManager
from tests.gui_fixtures import FakeManager, current_query, demo_root, gui_app, only, png_bytes


class HeldManager(FakeManager):
    """Describes an upload only once the test releases it; its network is not loaded yet."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.release = asyncio.Event()
        self.ready = False

    def describer_ready(self) -> bool:
        return self.ready

    async def describe_upload(self, path):
        await self.release.wait()
        return await super().describe_upload(path)

    async def describe_upload_oriented(self, path):  # what the upload asks for (turned and mirrored too)
        await self.release.wait()
        return await super().describe_upload_oriented(path)


async def test_a_spinner_and_the_reason_while_the_first_upload_is_described(tmp_path):
    settings, _ = demo_root(tmp_path)
    manager = HeldManager(settings)
    manager.set("animals", count=12)
    manager.set("plants", count=7)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        await user.should_not_see(marker="upload-spinner")
        upload = only(user, "upload")
        with user:
            task = asyncio.create_task(upload.handle_uploads([SmallFileUpload("first.png", "image/png",
                                                                              png_bytes())]))
        await user.should_see("The network is still loading", retries=20)
        await user.should_see(marker="upload-spinner")
        assert only(user, "upload-status").text.startswith("Describing first.png…")
        manager.release.set()
        await task
        await user.should_see(marker="upload-note", retries=20)
        assert current_query(user)["path"] == "/similar"


async def test_once_the_network_is_loaded_no_reason_is_given_and_a_failure_stops_the_spinner(tmp_path):
    settings, _ = demo_root(tmp_path)
    manager = HeldManager(settings)
    manager.set("animals", count=12)
    manager.ready = True
    manager.release.set()
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        with user:
            await only(user, "upload").handle_uploads([SmallFileUpload("notes.png", "image/png", b"text")])
        await user.should_see("notes.png is not an image we can read")
        await user.should_not_see(marker="upload-spinner")
        await user.should_not_see("The network is still loading")


def test_warm_up_builds_the_network_in_the_background(settings):
    for name in ("a.png",):
        (settings.image_sets / "s").mkdir(parents=True)
        (settings.image_sets / "s" / name).write_bytes(png_bytes())
    manager = IndexManager(settings, network_factory=TinyNetwork, watch=False)
    manager.start([])
    try:
        started = time.monotonic()
        manager.warm_up()
        assert time.monotonic() - started < 1.0  # it returns at once: the app's start is not held up
        deadline = time.monotonic() + 60
        while not manager.describer_ready() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert manager.describer_ready()  # without any upload
        vector = manager.describe_upload_sync(settings.image_sets / "s" / "a.png", timeout=30)
        assert vector.ndim == 1 and vector.size > 0
    finally:
        manager.stop()


class RecordingManager(FakeManager):
    """Stands in for the IndexManager the app creates itself, recording its life cycle."""

    calls: ClassVar[list[str]] = []

    def start(self) -> None:
        self.calls.append("start")

    def warm_up(self) -> None:
        self.calls.append("warm_up")

    def stop(self) -> None:
        self.calls.append("stop")


async def test_the_app_warms_the_network_up_when_it_starts(tmp_path, monkeypatch):
    settings, _ = demo_root(tmp_path)
    RecordingManager.calls = []
    monkeypatch.setattr(manager_module, "IndexManager", RecordingManager)
    async with gui_app(settings, None) as (_, user):
        assert RecordingManager.calls == ["start", "warm_up"]
        await user.open("/")
    assert RecordingManager.calls[-1] == "stop"
