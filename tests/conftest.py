"""Shared fixtures: where the real weights and Corel-1k live, temporary project roots, the slow switch."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from simages.settings import Settings
from tests.requirements import missing

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow (minutes each)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow test: run with --run-slow (make test-all)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def real_weights_path() -> Path | None:
    candidate = os.environ.get("SIMAGES_WEIGHTS") or str(SHARED / "weights" / "vgg16_imagenet_notop.h5")
    path = Path(candidate)
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def weights_path() -> Path:
    path = real_weights_path()
    if path is None:
        missing("real VGG-16 weights not found: set SIMAGES_WEIGHTS or put ../shared/weights beside the repo")
    return path


@pytest.fixture(scope="session")
def corel_path() -> Path:
    path = SHARED / "data" / "corel1k"
    if not path.is_dir():
        missing("Corel-1k not found at ../shared/data/corel1k")
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty project root with image_sets/ and features/."""
    (tmp_path / "image_sets").mkdir()
    (tmp_path / "features").mkdir()
    return tmp_path


@pytest.fixture
def settings(root: Path) -> Settings:
    """Settings for a temporary root; no weights file (tests pass a stand-in network)."""
    return Settings(root=root)


@pytest.fixture(autouse=True, scope="session")
def _engine_pinned() -> Iterator[None]:
    """Tests run one known engine: auto would calibrate (seconds of CPU) in every temporary root.

    Set in os.environ for the whole session (before module-scoped fixtures start worker processes, which
    inherit it); the calibration's own tests (test_engine_calibration.py) clear it to exercise auto.
    """
    from simages.extraction.ncnn_vgg import ncnn_available

    pinned = (
        {"SIMAGES_ENGINE": "ncnn"}
        if ncnn_available()
        else {"SIMAGES_ENGINE": "torch", "SIMAGES_PRECISION": "fp32"}
    )
    saved = {name: os.environ.get(name) for name in ("SIMAGES_ENGINE", "SIMAGES_PRECISION")}
    for name, value in pinned.items():
        os.environ.setdefault(name, value)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
