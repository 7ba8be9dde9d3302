"""The GUI on the real IndexManager (tiny stand-in network): sets are indexed by the app while it runs."""

from __future__ import annotations

import asyncio

from nicegui.elements.upload_files import SmallFileUpload

from simages.extraction.network import TinyNetwork
from simages.jobs.manager import IndexManager
from simages.settings import Settings
from tests.gui_fixtures import gui_app, make_images, png_bytes


async def wait_idle(manager: IndexManager, timeout: float = 120) -> None:
    assert await asyncio.to_thread(manager.wait_until_idle, timeout)


async def test_live_indexing_new_folder_and_upload(tmp_path):
    settings = Settings(root=tmp_path)
    make_images(tmp_path, "first", 6, prefix="f")
    manager = IndexManager(settings, network_factory=TinyNetwork, debounce_ms=200)
    manager.start()
    try:
        await wait_idle(manager)
        async with gui_app(settings, manager) as (_, user):
            await user.open("/")
            await user.should_see("Images of first (6)", retries=50)
            await user.should_see("indexed, 6 images")
            user.find(marker="thumb:f001.png").click()
            await user.should_see("The 5 most similar of 5 images in first, by cosine similarity", retries=30)

            # A folder dropped into image_sets/ while the app runs is found and indexed, no restart.
            await user.open("/")
            make_images(tmp_path, "dropped", 4, prefix="d")
            await user.should_see(marker="status:dropped", retries=100)
            await user.should_see("indexed, 4 images", retries=200)

            (upload,) = user.find(marker="upload").elements
            with user:
                await upload.handle_uploads([SmallFileUpload("mine.png", "image/png", png_bytes(64, 90))])
            await user.should_see("Uploaded: mine.png", retries=200)
            await user.should_see("The 6 most similar of 6 images in first, by cosine similarity", retries=30)
    finally:
        manager.stop()
