"""Helpers for the GUI tests: tiny image sets with hand-made stores, a stand-in index manager, and a
simulated user on an app built by `build_app` (NiceGUI's user simulation, without a main file)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
from nicegui import ui
from nicegui.element import Element
from nicegui.functions.download import download
from nicegui.functions.navigate import Navigate
from nicegui.functions.notify import notify
from nicegui.testing.general import nicegui_reset_globals, prepare_simulation
from nicegui.testing.user import User
from PIL import Image, ImageOps

from simages.extraction.images import open_rgb
from simages.gui.app import build_app
from simages.gui.context import GuiContext
from simages.jobs.status import INDEXED, SetStatus
from simages.settings import Settings
from simages.store.fingerprint import Fingerprint
from simages.store.npz_store import FeatureStore, save_store

DIM = 8


def make_images(root: Path, set_name: str, count: int, prefix: str = "img") -> list[str]:
    """Small distinct PNGs (a colour gradient per image); names are '/'-separated, some in a sub-folder."""
    folder = root / "image_sets" / set_name
    names = []
    for i in range(count):
        name = f"{prefix}{i:03d}.png" if i % 3 else f"sub/{prefix}{i:03d}.png"
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        array = np.zeros((40, 60, 3), np.uint8)
        array[..., 0] = (i * 37) % 256
        array[..., 1] = np.linspace(0, 255, 60, dtype=np.uint8)[None, :]
        array[..., 2] = (i * 91) % 256
        Image.fromarray(array).save(path)
        names.append(name)
    return sorted(names)


def vectors_for(names: list[str], seed: int = 0) -> np.ndarray:
    """Vectors along a curve, so neighbours in name order are also neighbours in descriptor space."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 3, len(names))[:, None]
    base = np.hstack([np.cos(t * (k + 1)) for k in range(DIM)]) + 2.0
    return (base + rng.normal(0, 0.01, base.shape)).astype(np.float32)


def write_store(
    settings: Settings,
    set_name: str,
    names: list[str],
    vectors: np.ndarray | None = None,
    descriptor: str = "",
) -> None:
    vectors = vectors_for(names) if vectors is None else vectors
    folder = settings.image_sets / set_name
    fingerprints = [Fingerprint.of((folder / n).stat()) for n in names]
    store = FeatureStore(names, fingerprints, vectors, {"descriptor": descriptor})
    save_store(settings.store_path(set_name), store)


class FakeManager:
    """The IndexManager interface the GUI uses; statuses are set by the test, uploads described by a
    cheap function of the pixels (so a non-image fails as with the real worker)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.states: dict[str, SetStatus] = {}
        self.described: list[Path] = []

    def set(self, name: str, **fields: object) -> None:
        self.states[name] = SetStatus(name, **{"state": INDEXED, **fields})  # type: ignore[arg-type]

    def statuses(self) -> list[SetStatus]:
        return list(self.states.values())

    def status(self, set_name: str) -> SetStatus:
        if set_name not in self.states:
            raise LookupError(set_name)
        return self.states[set_name]

    async def describe_upload(self, path: Path) -> np.ndarray:
        self.described.append(path)
        return cheap_descriptor(open_rgb(path))

    async def describe_upload_oriented(self, path: Path) -> np.ndarray:
        """As the real manager: the image as it is, turned 90/180/270 degrees, mirrored (5, DIM)."""
        self.described.append(path)
        image = open_rgb(path)
        turns = [image.transpose(t) for t in (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180,
                                              Image.Transpose.ROTATE_270)]
        return np.stack([cheap_descriptor(i) for i in (image, *turns, ImageOps.mirror(image))])


def cheap_descriptor(image: Image.Image) -> np.ndarray:
    """The stand-in manager's descriptor of an image: a function of its pixels (DIM,)."""
    return np.asarray(image.resize((4, 2)), np.float32).reshape(-1)[:DIM] / 255.0 + 2.0


def demo_root(root: Path, sizes: dict[str, int] | None = None) -> tuple[Settings, FakeManager]:
    """A root with indexed sets (default: `animals` with 12 images, `plants` with 7) and a fake manager."""
    settings = Settings(root=root)
    manager = FakeManager(settings)
    for set_name, count in (sizes or {"animals": 12, "plants": 7}).items():
        names = make_images(root, set_name, count, prefix=set_name[:3])
        write_store(settings, set_name, names)
        manager.set(set_name, state="indexed", count=count)
    return settings, manager


@contextlib.asynccontextmanager
async def gui_app(settings: Settings, manager: object | None) -> AsyncIterator[tuple[GuiContext, User]]:
    """Like nicegui.testing's user_simulation, with the app built by our factory instead of a main file."""
    # NiceGUI's reset drops the modules of page functions from sys.modules (meant for main files);
    # putting them back keeps one identity for our classes across tests.
    modules = dict(sys.modules)
    failed: BaseException | None = None
    with nicegui_reset_globals():
        os.environ["NICEGUI_USER_SIMULATION"] = "true"
        try:
            prepare_simulation()
            ctx = build_app(settings, manager)  # type: ignore[arg-type]
            ui.run(reload=False, storage_secret="simulated secret")
            import httpx
            from nicegui import core

            async with core.app.router.lifespan_context(core.app):
                transport = httpx.ASGITransport(core.app)
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                    try:
                        yield ctx, User(client)
                    except BaseException as error:
                        # A failing test must leave as a passing one does: passed through NiceGUI's
                        # shutdown and its globals' reset, the failure skipped them, the next GUI test
                        # failed (or CI hung in the event loop's teardown) and modules were imported anew.
                        failed = error
        finally:
            os.environ.pop("NICEGUI_USER_SIMULATION", None)
            ui.navigate = Navigate()
            ui.notify = notify
            ui.download = download
    sys.modules.update(modules)
    if failed is not None:
        raise failed

def new_user(user: User) -> User:
    """A second browser tab of the same app (same server, its own page state)."""
    return User(user.http_client)


def layout_demo(root: Path) -> tuple[Settings, FakeManager]:
    """Sets that stress the layout: class folders as in Corel-1k, a set that failed with a long reason and a
    long name, and one still indexing (browser layout tests and screenshots)."""
    settings, manager = demo_root(root, {"animals": 12})
    folder = settings.image_sets / "corel"
    for c, cls in enumerate(("dinosaurs", "elephants", "a_class_with_a_rather_long_folder_name")):
        (folder / cls).mkdir(parents=True)
        for i in range(4):
            array = np.full((48, 64, 3), (60 * c + 40, 25 * i + 60, 140 - 30 * c), np.uint8)
            Image.fromarray(array).save(folder / cls / f"{c}_{400 + 13 * i}.png")
    corel = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    write_store(settings, "corel", corel)
    manager.set("corel", state="indexed", count=len(corel))
    long_name = "holiday_photos_from_the_long_summer_trip_2019"
    make_images(root, long_name, 3, prefix="trip")
    manager.set(long_name, state="failed", message="the network weights are missing: no file at "
                "/home/someone/projects/simages/weights/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    make_images(root, "fresh", 5, prefix="new")
    manager.set("fresh", state="indexing", done=2, total=5)
    return settings, manager


# Lookups shared by the simulated-user tests of both pages.
def only(user: User, marker: str) -> Element:
    (element,) = user.find(marker=marker).elements
    return element


def current_query(user: User) -> dict[str, str]:
    url = urlparse(user.back_history[-1])
    return {k: v[0] for k, v in parse_qs(url.query).items()} | {"path": url.path}


def png_bytes(side: int = 30, value: int = 120) -> bytes:
    """A plain grey PNG, as a browser would upload it."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((side, side, 3), value, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


if __name__ == "__main__":  # `python -m tests.gui_fixtures ROOT PORT`: serve layout_demo(ROOT)
    from simages.gui.app import run_app

    demo_settings, demo_manager = layout_demo(Path(sys.argv[1]))
    run_app(demo_settings, host="127.0.0.1", port=int(sys.argv[2]), manager=demo_manager)  # type: ignore[arg-type]
