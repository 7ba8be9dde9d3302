"""Load: 20 simulated users query a real app server while it indexes 300 images (stand-in network).

A reduced `simages bench load`; the images are made by the test (large enough that indexing them takes
a few seconds, so the queries really do run beside the indexer).
"""

from __future__ import annotations

import pytest

from simages.bench.load_bench import LoadConfig, format_report, run_load
from tests.imagegen import photo, save

pytestmark = pytest.mark.slow


def test_twenty_clients_query_while_300_images_index(tmp_path):
    source = tmp_path / "source"
    for i in range(300):
        save(photo(i, size=(800, 600), hue=(i // 30) * 25), source / f"class{i // 30}" / f"{i:03d}.jpg",
             quality=90)
    work = tmp_path / "work"
    work.mkdir()
    config = LoadConfig(source, clients=20, queries=3, images=300, query_images=40, network="tiny")

    report = run_load(config, work)

    print("\n" + format_report(config, report))
    assert report.errors == []
    assert len(report.query_ms) == 60 and len(report.thumb_ms) >= 60 * 5
    assert report.before is not None and report.before.state == "indexing"
    assert report.after is not None and report.after.done >= report.before.done
