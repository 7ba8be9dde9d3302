"""The app estimates the duplicate threshold on the user's own photos in the background after indexing,
keeps it, and measures it again only when the collection changed enough for its duplicates space to be
learned again (it doubled); `simages duplicates` prints the estimate and its JSON carries it."""

from __future__ import annotations

import json
import time

from imagegen import photo, save

from simages.cli import main
from simages.copies.calibration import status
from simages.extraction.network import TinyNetwork
from simages.jobs.manager import IndexManager
from simages.nearest.sets.cache import DescriptorCache


def add_photos(settings, start: int, count: int) -> None:
    for i in range(start, start + count):
        save(photo(300 + i), settings.image_sets / "holidays" / f"p{i:03d}.jpg")


def index_and_calibrate(manager: IndexManager) -> tuple[str, str]:
    """Index what changed, then wait for the background estimate that follows (or 120 s)."""
    before = manager.calibrations_ended()
    manager.request(["holidays"])
    assert manager.wait_until_idle(120)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if manager.calibrations_ended() > before:
            return manager.calibration()
        time.sleep(0.1)
    raise AssertionError(f"no calibration event after indexing: {manager.calibration()}")


def test_the_estimate_is_measured_after_indexing_and_again_only_when_the_collection_doubled(settings, capsys):
    add_photos(settings, 0, 24)
    manager = IndexManager(settings, network_factory=TinyNetwork, watch=False, build_atlas=False)
    manager.start([])
    try:
        assert index_and_calibrate(manager) == ("done", "")
        first = status(settings, DescriptorCache())
        assert first.state == "measured" and first.calibration.copies == 24
        assert first.calibration.photos == 24
        # A few more photos: the same space, so the kept estimate stands (not measured again).
        add_photos(settings, 24, 3)
        assert index_and_calibrate(manager) == ("done", "")
        assert status(settings, DescriptorCache()).calibration == first.calibration
        # Doubled: the space is learned again, and so is the estimate.
        add_photos(settings, 27, 30)
        assert index_and_calibrate(manager) == ("done", "")
        again = status(settings, DescriptorCache())
        assert again.state == "measured" and again.calibration.space != first.calibration.space
        assert again.calibration.photos == 57
    finally:
        manager.stop()
    capsys.readouterr()
    base = ["--root", str(settings.root)]
    assert main([*base, "duplicates", "holidays"]) == 0
    assert again.calibration.sentence() in capsys.readouterr().out
    assert main([*base, "duplicates", "holidays", "--format", "json"]) == 0
    carried = json.loads(capsys.readouterr().out)["calibration"]
    assert carried["state"] == "measured" and carried["copies"] == 40 == again.calibration.copies
    measured = again.calibration
    assert (carried["precision"], carried["recall"]) == (measured.precision, measured.recall)


def test_before_any_estimate_the_cli_says_how_to_get_one(settings, capsys):
    add_photos(settings, 0, 24)
    manager = IndexManager(settings, network_factory=TinyNetwork, watch=False, build_atlas=False,
                           calibrate=False)
    manager.start(["holidays"])
    try:
        assert manager.wait_until_idle(120)
    finally:
        manager.stop()
    assert manager.calibration() == ("", "")  # the CLI's indexing does not measure it
    capsys.readouterr()
    assert main(["--root", str(settings.root), "duplicates", "holidays", "--format", "json"]) == 0
    carried = json.loads(capsys.readouterr().out)["calibration"]
    assert carried["state"] == "absent" and "--calibrate" in carried["sentence"]
